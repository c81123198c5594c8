"""Data-parallel training over processes with torch.distributed, as ``torchrun`` (or ``train --nproc``) starts it.

Every process (rank) runs the same ``transferkit train``. :func:`join` reads torchrun's environment and
joins the process group (gloo on CPUs, NCCL on GPUs) with a timeout, so a rank that dies or hangs ends the
job; :class:`World` is this process's place in it and the few collectives a run needs. On one process they
are no-ops, so one process runs the same code. What is split and what is shared:

- the feature cache: each rank runs the frozen bottom on every ``size``-th batch and each round of batches
  is gathered, so every rank holds the whole cache in the order one process would have made it;
- training: each step's global batch (``batch_size`` per rank times the ranks), from the epoch's seeded
  permutation, is cut into one contiguous part per rank (:func:`transferkit.data.shard_order`); torch's
  DistributedDataParallel around the Keras model (:class:`DataParallel`) averages the gradients;
- validation: each rank predicts a contiguous share and the probabilities are gathered, so every rank
  computes the same metrics and makes the same early-stopping decision (:class:`Synchronize`);
- decisions (a resumed run's state, ``--model auto``'s choice, the plan, a stop for the time budget) are
  rank 0's, broadcast; only rank 0 writes the run folder.
"""

from __future__ import annotations

import hashlib
import os
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

import keras
import numpy as np

from ..errors import BackendError, DatasetError, DistributedError

T = TypeVar("T")

#: Seconds a process waits for the others in any collective before the job stops (``train --dist-timeout``).
DEFAULT_TIMEOUT = 600.0
#: How the learning rate follows the global batch: the square-root rule suits Adam (Malladi et al., 2022).
LR_SCALING = {"sqrt": lambda n: n**0.5, "linear": float, "none": lambda n: 1.0}


@dataclass(frozen=True)
class World:
    """This process's rank among ``size`` processes (``backend`` "" when there is one), and the collectives."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0
    backend: str = ""
    timeout: float = DEFAULT_TIMEOUT

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def device(self) -> str:
        return f"cuda:{self.local_rank}" if self.backend == "nccl" else "cpu"

    def rows(self, n: int) -> np.ndarray:
        """This rank's contiguous share of ``n`` rows (validation)."""
        return np.array_split(np.arange(n), self.size)[self.rank]

    def gather(self, array: np.ndarray) -> np.ndarray:
        """Every rank's ``array`` concatenated in rank order (any length; an empty one may have any dtype and
        trailing shape: the others' are used)."""
        if self.size == 1:
            return array
        import torch

        data = np.ascontiguousarray(array)
        shapes: list[Any] = [None] * self.size
        with _lost(self):
            _dist().all_gather_object(shapes, (data.dtype.str, data.shape))
        dtype, shape = next((s for s in shapes if s[1][0] > 0), shapes[0])
        sizes = [int(np.prod(s[1])) * np.dtype(s[0]).itemsize for s in shapes]
        if not any(sizes):
            return np.zeros((0, *shape[1:]), dtype)
        padded = torch.zeros(max(sizes), dtype=torch.uint8)
        padded[: sizes[self.rank]] = torch.from_numpy(data.reshape(-1).view(np.uint8).copy())
        parts = self._all_gather(padded.to(self.device))
        rows = [np.frombuffer(part[:n].cpu().numpy().tobytes(), dtype) for part, n in zip(parts, sizes)]
        return np.concatenate(rows).reshape(-1, *shape[1:])

    def mean(self, values: dict[str, float]) -> dict[str, float]:
        """Each value averaged over the ranks (every rank passes the same keys)."""
        if self.size == 1 or not values:
            return dict(values)
        import torch

        keys = sorted(values)
        total = torch.tensor([float(values[k]) for k in keys], dtype=torch.float64, device=self.device)
        with _lost(self):
            _dist().all_reduce(total)
        return {k: float(v) / self.size for k, v in zip(keys, total.cpu().tolist())}

    def any(self, flag: bool) -> bool:
        """Whether ``flag`` is true on any rank."""
        if self.size == 1:
            return flag
        import torch

        value = torch.tensor([int(flag)], device=self.device)
        with _lost(self):
            _dist().all_reduce(value, op=_dist().ReduceOp.MAX)
        return bool(value.item())

    def share(self, make: Callable[[], T]) -> T:
        """``make()`` run on rank 0 and its result (or its error, raised on every rank) broadcast."""
        if self.size == 1:
            return make()
        box: list[Any] = [None]
        if self.main:
            try:
                box[0] = (True, make())
            except Exception as error:  # the others must hear of it, or they wait for the timeout
                box[0] = (False, error)
        with _lost(self):
            _dist().broadcast_object_list(box, src=0)
        ok, value = box[0]
        if not ok:
            raise _shared(value, 0, self)
        return value

    def together(self, make: Callable[[], T]) -> T:
        """``make()`` run on every rank; when it fails on any, the first failure is raised on every rank."""
        if self.size == 1:
            return make()
        failure: BaseException | None = None
        try:
            result = make()
        except Exception as error:
            failure = error
        for rank, raised in enumerate(self.everyone(failure)):
            if raised is not None:
                raise _shared(failure if rank == self.rank and failure is not None else raised, rank, self)
        return result

    def everyone(self, value: T) -> list[T]:
        """Every rank's ``value`` (any picklable object), in rank order."""
        if self.size == 1:
            return [value]
        values: list[Any] = [None] * self.size
        with _lost(self):
            _dist().all_gather_object(values, value)
        return values

    def same(self, arrays: Sequence[Any]) -> bool:
        """Whether every rank holds these arrays with the same bytes (a SHA-256 of them compared)."""
        digest = hashlib.sha256()
        for array in arrays:
            digest.update(np.ascontiguousarray(array).tobytes())
        code = np.frombuffer(digest.digest(), np.uint8)
        return bool((self.gather(code[None]) == code).all())

    def average(self, variables: Sequence[Any]) -> None:
        """Put the mean over the ranks into each variable (BatchNorm statistics a training layer updated)."""
        if self.size == 1:
            return
        for variable in variables:
            values = self.gather(np.asarray(keras.ops.convert_to_numpy(variable))[None])
            variable.assign(values.mean(axis=0).astype(values.dtype))

    def _all_gather(self, tensor: Any) -> list[Any]:
        parts = [tensor.clone() for _ in range(self.size)]
        with _lost(self):
            _dist().all_gather(parts, tensor)
        return parts


SINGLE = World()
_world: World | None = None


def join(timeout: float = DEFAULT_TIMEOUT) -> World:
    """This process's :class:`World`: joins torchrun's process group (``WORLD_SIZE`` > 1) the first time.

    Raises :class:`BackendError` on a Keras backend other than torch (JAX has ``keras.distribution``)."""
    global _world
    if _world is not None:
        return _world
    size = int(os.environ.get("WORLD_SIZE", "1") or 1)
    if size < 2:
        _world = SINGLE
        return _world
    if keras.backend.backend() != "torch":
        raise BackendError(
            f"Training on {size} processes runs on torch.distributed, and Keras uses the "
            f"'{keras.backend.backend()}' backend: set KERAS_BACKEND=torch (on JAX, Keras's own "
            "keras.distribution.DataParallel distributes a model; transferkit's train does not use it)."
        )
    import torch

    local = int(os.environ.get("LOCAL_RANK", "0"))
    backend = "nccl" if torch.cuda.is_available() else "gloo"
    if backend == "nccl":
        torch.cuda.set_device(local)  # Keras's "cuda" device is then this rank's GPU
    if not _dist().is_initialized():
        _dist().init_process_group(backend, timeout=timedelta(seconds=timeout))
    _world = World(_dist().get_rank(), _dist().get_world_size(), local, backend, timeout)
    return _world


def world() -> World:
    """The :class:`World` :func:`join` made (joining now, with the default timeout, if it has not run)."""
    return _world or join()


class DataParallel(keras.Model):
    """``model`` run by torch's DistributedDataParallel: its hooks average the gradients over the ranks during
    ``backward``, and Keras's ``fit`` and optimizer do the rest. The variables are ``model``'s; rank 0's are
    broadcast when this is made, so every rank starts alike. Make it after choosing what trains."""

    def __init__(self, model: Any, world: World) -> None:
        from torch.nn.parallel import DistributedDataParallel

        super().__init__(name=f"{model.name}_data_parallel")
        self.inner = model
        devices = [world.local_rank] if world.backend == "nccl" else None
        with _lost(world):  # a list: Keras tracks neither it nor the torch module in it
            self._ddp = [DistributedDataParallel(model, device_ids=devices)]

    def call(self, inputs: Any, training: bool = False) -> Any:
        return self._ddp[0](inputs, training=training)

    def compute_output_spec(self, inputs: Any, training: bool = False) -> Any:
        return self.inner.compute_output_spec(inputs, training=training)


class Synchronize(keras.callbacks.Callback):
    """The first of ``fit``'s callbacks on every rank: the epoch's training logs averaged over the ranks, the
    ``val_`` metrics of all the validation images (``validate()``: each rank predicts its share, gathered),
    and the moving statistics of any BatchNorm layer that trains averaged, so the ranks keep equal weights."""

    def __init__(self, world: World, validate: Callable[[], dict[str, float]] | None) -> None:
        super().__init__()
        self.world, self.validate = world, validate

    def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        if logs is None:
            return
        logs.update(self.world.mean({k: v for k, v in logs.items() if not k.startswith("val_")}))
        self.world.average(_batchnorm_statistics(self.model))
        if self.validate is not None:
            logs.update(self.validate())


class Agree(keras.callbacks.Callback):
    """The last of ``fit``'s callbacks: at the start, every rank takes rank 0's variables and optimizer state
    (which a resuming :class:`~transferkit.train.callbacks.Checkpoint`, on rank 0 alone, may have put back);
    after each epoch, every rank stops when a callback stopped on any (the time budget is measured per rank;
    an early stop decided on equal metrics is the same everywhere)."""

    def __init__(self, world: World) -> None:
        super().__init__()
        self.world = world

    def on_train_begin(self, logs: dict[str, float] | None = None) -> None:
        model = self.model
        if not model.optimizer.built:
            model.optimizer.build(model.trainable_variables)
        variables = [*model.variables, *model.optimizer.variables]
        values = self.world.share(lambda: [np.asarray(keras.ops.convert_to_numpy(v)) for v in variables])
        for variable, value in zip(variables, values):
            variable.assign(value)

    def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        self.model.stop_training = self.world.any(bool(self.model.stop_training))


def _batchnorm_statistics(model: Any) -> list[Any]:
    """Moving means and variances of the BatchNorm layers that train (none in a transferkit classifier:
    they stay frozen; a model of the user's may train them, each rank on its own batches)."""
    layers = model._flatten_layers(include_self=False)
    return [
        v
        for layer in layers
        if isinstance(layer, keras.layers.BatchNormalization) and layer.trainable
        for v in (layer.moving_mean, layer.moving_variance)
    ]


def check_same_data(world: World, **datasets: Any) -> None:
    """Refuse, on every rank, data that differs between ranks (a file missing on one node), naming a file."""
    if world.size == 1:
        return
    listing = {
        name: [(str(f), np.asarray(y).tolist()) for f, y in zip(d.files, d.labels)] for name, d in datasets.items()
    }
    digest = hashlib.sha256(repr(sorted(listing.items())).encode()).digest()
    if world.same([np.frombuffer(digest, np.uint8)]):
        return
    everyone = world.everyone(listing)
    for name in datasets:
        mine = {f for f, _ in everyone[0][name]}
        for rank in range(1, world.size):
            theirs = {f for f, _ in everyone[rank][name]}
            if mine != theirs:
                missing = sorted(mine - theirs)
                extra = sorted(theirs - mine)
                where = f"'{missing[0]}' is missing on process {rank}" if missing else (
                    f"'{extra[0]}' is on process {rank} only")  # fmt: skip
                raise _everywhere(DatasetError(
                    f"The {name} images differ between processes: {where} ({len(mine)} files on process 0, "
                    f"{len(theirs)} on process {rank}). Every node must see the same data: copy it alike."
                ))  # fmt: skip
    raise _everywhere(
        DatasetError("The labels of the images differ between processes: every node must see the same data.")
    )


def launch(processes: int, argv: Sequence[str]) -> int:
    """Run ``transferkit <argv>`` in ``processes`` processes on this machine, as ``torchrun --standalone``
    would; returns the exit status (non-zero when any process failed: torchrun then stops the others)."""
    import logging
    import uuid

    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.launcher.api import LaunchConfig, elastic_launch

    cores = os.cpu_count() or 1
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, cores // processes)))  # each process its share of cores
    logging.getLogger("torch.distributed.elastic").setLevel(logging.CRITICAL)  # its failure report: ours below
    config = LaunchConfig(
        min_nodes=1, max_nodes=1, nproc_per_node=processes, run_id=str(uuid.uuid4()), rdzv_backend="c10d",
        rdzv_endpoint="localhost:0", max_restarts=0, monitor_interval=0.5,
    )  # fmt: skip
    try:
        elastic_launch(config, sys.executable)("-m", "transferkit", *argv)
    except ChildFailedError as failed:
        rank, first = failed.get_first_failure()
        code = first.exitcode
        how = f"was killed by signal {-code}" if code < 0 else f"exited with status {code}"
        print(f"error: process {rank} of {processes} {how}; the others were stopped.", file=sys.stderr)
        return 130 if code == 130 else 1
    return 0


def _dist() -> Any:
    import torch.distributed as dist

    return dist


class _lost:
    """Turn torch's error for a collective that failed (a rank died, or did not answer within the timeout)
    into one :class:`DistributedError` line."""

    def __init__(self, world: World) -> None:
        self.world = world

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: Any, error: Any, trace: Any) -> None:
        if error is not None and isinstance(error, RuntimeError) and not isinstance(error, DistributedError):
            raise lost(self.world, error) from error


def is_lost(error: BaseException) -> bool:
    """Whether ``error`` (raised inside ``fit``: DDP's gradient averaging) is torch's for a lost process."""
    if isinstance(error, DistributedError):  # already said
        return False
    if isinstance(error, getattr(_dist(), "DistBackendError", ())):
        return True
    text = str(error).lower()
    return any(word in text for word in ("gloo", "nccl", "connection", "timed out", "timeout", "peer"))


def lost(world: World, error: BaseException) -> DistributedError:
    """The one line for a collective that failed in torch (``error``)."""
    text = re.sub(r"\[[^\]]*\.(cc|cpp|h):\d+\]\s*", "", str(error).strip())  # gloo's source location
    reason = re.split(r"(?<=[a-z\]0-9])\. ", text.splitlines()[0] if text else type(error).__name__)[0][:160]
    return DistributedError(
        f"Process {world.rank} of {world.size} lost the others ({reason}): one failed or did not answer within "
        "the timeout, and the job stops. Run the same command with --resume to go on from the last checkpoint."
    )


def _shared(error: BaseException, rank: int, world: World) -> BaseException:
    """``error`` (raised on ``rank``) as this rank raises it, saying where it happened."""
    if rank != world.rank:
        try:
            error = type(error)(f"(process {rank} of {world.size}) {error}")
        except Exception:
            error = DistributedError(f"Process {rank} of {world.size} failed: {error}")
    return _everywhere(error)


def _everywhere(error: BaseException) -> BaseException:
    """``error``, raised alike on every rank: marked ``shared`` so that the command line prints it once (rank 0)."""
    error.shared = True  # type: ignore[attr-defined]
    return error
