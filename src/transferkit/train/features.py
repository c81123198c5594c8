"""The activation cache: run the frozen part of the model once per image and view, then train on what it gave.

A frozen layer gives the same output every epoch for the same input, so recomputing it -- what plain Keras
``fit`` does -- spends most of every epoch on work already done. :func:`extract` stores the output of any
frozen model (the whole backbone's pooled features, or the bottom of a partly unfrozen backbone, see
:mod:`transferkit.train.partial`) for every batch of each source, one source per view: view 0 unaugmented,
the others augmented. :class:`ViewBatches` serves a cache to ``fit``: epoch ``e`` trains on view
``e % views``, shuffled. Large caches are memory-mapped in a folder; ``float16`` halves them.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np

from ..data.splits import epoch_order, sharded_batches
from .distributed import SINGLE, World

#: Views cached per image when training augments (view 0 is the plain image). One: extra augmented views
#: measured 1-2 points worse for the logistic-regression head and no better for fine-tuning, at their cost in
#: time (README, "Time to accuracy"); ``views=`` asks for more.
DEFAULT_VIEWS = 1


@dataclass
class FeatureSet:
    """Cached outputs ``(views, n, *shape)``, their labels ``(views, n[, classes])`` and what one image cost."""

    features: np.ndarray
    labels: np.ndarray
    seconds_per_image: float = 0.0

    @property
    def views(self) -> int:
        return int(self.features.shape[0])

    @property
    def count(self) -> int:
        return int(self.features.shape[1])

    def view(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        return self.features[index], self.labels[index]

    def map(self, model: Any, batch_size: int = 256) -> FeatureSet:
        """``model`` applied to every cached output (e.g. the rest of the backbone and the pooling)."""
        out = [np.concatenate([predict(model, f[i : i + batch_size]) for i in range(0, len(f), batch_size)])
               for f in self.features]  # fmt: skip
        return FeatureSet(np.stack(out), self.labels, self.seconds_per_image)


def predict(model: Any, x: Any) -> np.ndarray:
    """Inference mode, and no gradient graph (a plain call of a model with trainable layers records one)."""
    return np.asarray(model.predict_on_batch(np.asarray(x, np.float32)), np.float32)


def batches(dataset: Any, world: World = SINGLE) -> Iterable[tuple[Any, Any] | None]:
    """(images, labels) batches of a Keras-style dataset (PyDataset/Sequence) or an iterable of batches; the
    next batch of a dataset is decoded in a thread while the caller runs the model on this one. With several
    processes, this rank's batches of each round of ``world.size`` (``rank``, ``rank + size``, ...), and
    None in a round where it has none, so every rank takes part in as many rounds."""
    if hasattr(dataset, "__getitem__") and hasattr(dataset, "__len__"):
        count = len(dataset)
        mine = list(range(world.rank, -(-count // world.size) * world.size, world.size))
        with ThreadPoolExecutor(1) as pool:
            upcoming = pool.submit(dataset.__getitem__, mine[0]) if mine and mine[0] < count else None
            for position, index in enumerate(mine):
                batch = upcoming.result() if index < count else None  # type: ignore[union-attr]
                after = mine[position + 1] if position + 1 < len(mine) else count
                if after < count:
                    upcoming = pool.submit(dataset.__getitem__, after)
                yield None if batch is None else (batch[0], batch[1])
        if hasattr(dataset, "on_epoch_end"):
            dataset.on_epoch_end()  # a new shuffle / new augmentation for the next view
    else:
        if world.size > 1:
            raise TypeError("A distributed feature cache needs an indexable dataset (a PyDataset or Sequence).")
        for batch in dataset:
            yield batch[0], batch[1]


def extract(
    model: Any,
    sources: list[Any],
    *,
    folder: str | os.PathLike[str] | None = None,
    dtype: Any = np.float32,
    max_memory_bytes: int = 1 << 30,
    on_batch: Callable[[int], None] | None = None,
    world: World = SINGLE,
) -> FeatureSet:
    """``model``'s output (inference mode) for every batch of each source, one source per view.

    Stored as ``dtype``; memory-mapped in ``folder`` (``cache.npy``) when larger than ``max_memory_bytes``.
    ``on_batch(images)`` is called after each batch (progress). Sources shorter than the first are
    trimmed to the shortest (a skipped image in one view). With several processes (``world``) each runs
    its share of the batches and every rank gets the whole cache, in the same order."""
    shape = tuple(int(d) for d in model.output_shape[1:])
    per_view: list[tuple[list[np.ndarray], list[np.ndarray]]] = []
    images, start = 0, time.perf_counter()
    for source in sources:
        feats: list[np.ndarray] = []
        labels: list[np.ndarray] = []
        for batch in batches(source, world):
            f = np.zeros((0, *shape), dtype) if batch is None else predict(model, batch[0]).astype(dtype, copy=False)
            y = np.zeros(0, np.float32) if batch is None else np.asarray(batch[1])
            feats.append(world.gather(f))
            labels.append(world.gather(y))
            images += len(f)
            if on_batch is not None:
                on_batch(len(feats[-1]))
        per_view.append((feats, labels))
    seconds = (time.perf_counter() - start) / max(1, images)
    n = min(sum(len(f) for f in feats) for feats, _ in per_view)
    out = _allocate((len(per_view), n, *shape), np.dtype(dtype), folder, max_memory_bytes)
    for view, (feats, _) in enumerate(per_view):
        row = 0
        for f in feats:
            take = min(len(f), n - row)
            out[view, row : row + take] = f[:take]
            row += take
    labels_out = np.stack([np.concatenate(labels)[:n] for _, labels in per_view])
    return FeatureSet(out, labels_out, seconds)


def _allocate(shape: tuple[int, ...], dtype: np.dtype[Any], folder: Any, limit: int) -> np.ndarray:
    if folder is None or int(np.prod(shape)) * dtype.itemsize <= limit:
        return np.zeros(shape, dtype)
    Path(folder).mkdir(parents=True, exist_ok=True)
    return np.lib.format.open_memmap(Path(folder) / "cache.npy", mode="w+", dtype=dtype, shape=shape)


class ViewBatches(keras.utils.PyDataset):
    """A Keras PyDataset over a cache: epoch ``e`` uses view ``e % views``, shuffled (seeded per epoch),
    served as float32. ``shuffle=False`` serves view 0 in order (validation). ``epoch`` is the first epoch's
    number: a resumed run serves the views and orders it would have served. With several processes (``world``)
    a rank's batches are its parts of the global batches (:func:`transferkit.data.shard_order`)."""

    def __init__(
        self, data: FeatureSet, batch_size: int, seed: int | None = None, shuffle: bool = True, epoch: int = 0,
        world: World = SINGLE,
    ) -> None:  # fmt: skip
        super().__init__()
        self.data, self.batch_size, self.shuffle, self.world = data, batch_size, shuffle, world
        self.seed = 0 if seed is None else seed
        self.epoch = epoch

    def __len__(self) -> int:
        return sharded_batches(self.data.count, self.batch_size, self.world.size)

    def _order(self) -> np.ndarray:
        return epoch_order(self.data.count, shuffle=self.shuffle, seed=self.seed, epoch=self.epoch,
                           batch_size=self.batch_size, rank=self.world.rank, processes=self.world.size)  # fmt: skip

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        view = self.epoch % self.data.views if self.shuffle else 0
        rows = np.sort(self._order()[index * self.batch_size : (index + 1) * self.batch_size])
        return np.asarray(self.data.features[view, rows], np.float32), self.data.labels[view, rows]

    def on_epoch_end(self) -> None:
        self.epoch += 1


def unaugmented(dataset: Any) -> Any:
    """The same dataset without augmentation or shuffling (itself when it has neither)."""
    plain = getattr(dataset, "without_augmentation", None)
    return plain() if callable(plain) else dataset


def augments(dataset: Any) -> bool:
    """Whether ``dataset`` augments (not merely shuffles): only then are extra views worth caching."""
    return unaugmented(dataset) is not dataset and getattr(dataset, "augment", True) is not None
