"""A training run in a folder: data, fine-tuning, checkpoints, resume, the saved model and the report.

This is what ``transferkit train`` does. The data and the model are checked before anything is written,
so a run that fails on bad input (a missing folder, one class, a bad split, an unknown model) leaves no
folder behind and the same command, once the input is fixed, simply runs. The run folder then holds
``run.json`` (the settings, with the model ``--model auto`` chose), and while training, after every epoch,
``checkpoint.npz`` (the best weights so far), ``resume.npz`` (the last epoch's weights, dropout seeds and
optimizer state: Adam's step and moments) and ``checkpoint.json`` (the history) -- so Ctrl-C, SIGTERM, a crash
or SIGKILL loses at most the epoch in progress, and ``--resume`` trains on as the run would have (with a seed
and no binding time budget, the same weights as a run never stopped: ``tests/train/test_runs.py``); when
finished, ``model.keras`` (with the calibration temperature fit on the validation images:
:mod:`~transferkit.train.calibration`), ``metrics.json``, ``history.csv``, the plots and ``report.html``. The
checkpoint files go last: a folder that still has them is interrupted, even with a ``model.keras``, and
``--resume`` finishes it. Without the cache (``--no-cache-features``) a resumed run restores the optimizer
too, but Keras's early stopping starts counting afresh.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from .. import report
from .._util.atomic import remove_stale_temps
from .._util.lock import FolderLock
from ..data import image_folder, image_table
from ..data.groups import NEAR_DUPLICATE_BITS
from ..errors import DatasetError, Interrupted, RunFolderError
from ..models import ImageClassifier
from ..zoo import registry
from . import distributed
from .auto import choose_model
from .calibration import calibrate, f1_thresholds, fit_familiarity, precision_thresholds
from .callbacks import Checkpoint, read_checkpoint, read_state, write_json
from .progress import Progress, make

CHECKPOINT, STATE, SETTINGS, MODEL = "checkpoint.npz", "checkpoint.json", "run.json", "model.keras"
RESUME = "resume.npz"
AUTO = "auto"
#: The share of the time budget that ``--model auto`` may spend on its probes.
AUTO_SHARE = 0.3


@dataclass
class TrainSettings:
    """Everything that defines a run (saved as ``run.json``; ``--resume`` reads it back)."""

    data_dir: str
    out: str
    model: str = "efficientnet_lite0"  # or "auto": chosen by linear probes (:mod:`transferkit.train.auto`)
    epochs: int = 10  # head epochs without the cache (with it the head is one logistic-regression fit)
    fine_tune_epochs: int = 10  # at most: fewer when validation stops improving or the budget runs out
    patience: int | None = None  # fine-tuning epochs without a better validation score before it stops
    time_budget: float | None = 300.0  # seconds for the whole run; None: no limit
    image_size: int | None = None  # None: the model's own input size
    batch_size: int = 32
    val_split: float = 0.2
    val_dir: str | None = None
    group_duplicates: bool = True  # near-duplicates on one side of the val_split (data.groups)
    augment: list[str] = field(default_factory=lambda: ["flip", "rotate", "zoom"])
    seed: int = 0
    cache_features: bool = True
    views: int | None = None  # cached views per image when augmenting (``fine_tune``'s views; default 1)
    learning_rate: float = 1e-3
    target_precision: float | None = None  # per-class "unsure" thresholds for this precision (calibration.py)
    multi_label: bool = False  # data_dir is a table with any number of labels per image (sigmoid head)
    threshold: float | None = None  # multi-label: every label's decision threshold (None: each its best F1)
    label_weights: bool = False  # multi-label: weigh each label's positives by its negatives over positives
    lr_scaling: str = "sqrt"  # several processes: the learning rate times sqrt(processes), "linear" or "none"
    auto_candidates: list[dict[str, Any]] | None = None  # what --model auto tried (filled in by the run)


def _interrupted_run(out: Path) -> bool:
    return (out / STATE).exists() or (out / RESUME).exists()


def _check_folder(out: Path, *, resume: bool, overwrite: bool) -> None:
    """Refuse to start over a finished or interrupted run unless told to; writes nothing. A run is finished
    once its checkpoint is gone, the last thing it does."""
    interrupted = _interrupted_run(out)
    finished = (out / MODEL).exists() and not interrupted
    if resume:
        if not interrupted:
            raise RunFolderError(f"There is no interrupted run to resume in '{out}': drop --resume to start one.")
    elif finished and not overwrite:
        raise RunFolderError(f"'{out}' holds a finished run: choose another --out, or pass --overwrite to replace it.")
    elif interrupted and not overwrite:
        raise RunFolderError(
            f"'{out}' holds an interrupted run: pass --resume to continue it, or --overwrite to start again."
        )


def load_data(settings: TrainSettings, image_size: tuple[int, int]) -> tuple[Any, Any]:
    """(train, validation) datasets: ``val_dir`` as given, or a stratified seeded split of ``data_dir``. A
    ``data_dir`` (and ``val_dir``) that is a file is a CSV table (:func:`~transferkit.data.image_table`)."""
    augment = settings.augment or None
    common: dict[str, Any] = dict(image_size=image_size, batch_size=settings.batch_size, seed=settings.seed)

    def read(where: str, **kwargs: Any) -> Any:
        if os.path.isfile(where):
            return image_table(where, multi_label=settings.multi_label, **kwargs, **common)
        if settings.multi_label:
            raise DatasetError(
                f"--multi-label reads a CSV table of path,label rows (labels separated by ';'); '{where}' is not "
                "a file."
            )
        return image_folder(where, **kwargs, **common)

    if settings.val_dir:
        train = read(settings.data_dir, augment=augment)
        return train, read(settings.val_dir, class_names=train.class_names, shuffle=False)
    if not 0 < settings.val_split < 1:
        raise DatasetError(f"--val-split is a fraction between 0 and 1. Received: {settings.val_split}")
    both = read(settings.data_dir, validation_split=settings.val_split, subset="both", augment=augment,
                group_duplicates=settings.group_duplicates)  # fmt: skip
    return both[0], both[1]


def split_groups(train_data: Any, val_data: Any) -> dict[str, Any] | None:
    """What the grouped split kept together, for ``metrics.json`` and the report (None: not grouped)."""
    if train_data.groups is None or val_data.groups is None:
        return None
    sizes = np.unique(np.concatenate([train_data.groups, val_data.groups]), return_counts=True)[1]
    together = sizes[sizes > 1]
    return {
        "groups": int(len(together)), "images": int(together.sum()), "near_duplicate_bits": NEAR_DUPLICATE_BITS,
        "note": f"{len(together)} group(s) of copies or near-copies ({int(together.sum())} images) were kept on one "
        "side of the validation split, so validation never scores a near-copy of a training image.",
    }  # fmt: skip


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM (torchrun's, a scheduler's) raises KeyboardInterrupt, as Ctrl-C does, so the run stops where it
    can resume. Python prints and drops an exception raised where it cannot propagate -- a garbage-collector
    callback (JAX's: Keras imports JAX), a weakref callback, a ``__del__`` -- and reports it to
    ``sys.unraisablehook``: an interrupt dropped there is asked for again 50 ms later instead."""
    lock = threading.Lock()

    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    def ask_again() -> None:
        with lock:  # never once the block has ended: the previous handler may be the default, which kills
            if signal.getsignal(signal.SIGTERM) is handler:
                os.kill(os.getpid(), signal.SIGTERM)

    def dropped(unraisable: Any) -> None:
        if isinstance(unraisable.exc_value, KeyboardInterrupt):
            threading.Timer(0.05, ask_again).start()
        else:
            hook(unraisable)

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    hook, sys.unraisablehook = sys.unraisablehook, dropped
    try:
        yield
    finally:
        with lock:
            signal.signal(signal.SIGTERM, previous)
            sys.unraisablehook = hook


def train(
    settings: TrainSettings,
    resume: bool = False,
    overwrite: bool = False,
    progress: Progress | str = "human",
    timeout: float | None = None,
) -> dict[str, Any]:
    """Run (or resume) a training run; returns the metrics written to ``metrics.json``. ``progress`` is a
    :class:`~transferkit.train.progress.Progress` or its kind (``"human"``, ``"json"``, ``"quiet"``).

    One run at a time in a folder: a second ``train`` pointed at a folder in use is refused at once
    (:class:`~transferkit._util.lock.FolderLock`), before it reads any data. Started by ``torchrun``, every
    process runs this and rank 0 alone writes the folder (:mod:`transferkit.train.distributed`; ``timeout``:
    the seconds a process waits for the others before the job stops); the other ranks return ``{}``."""
    world = distributed.join(timeout or distributed.DEFAULT_TIMEOUT)
    lock = FolderLock(settings.out, "transferkit train")
    try:
        world.share(lambda: _hold(lock))
        # torchrun --max-restarts: a restarted job runs the same command line, and goes on from the checkpoint
        restarted = int(os.environ.get("TORCHELASTIC_RESTART_COUNT", "0") or 0) > 0
        resume = world.share(lambda: resume or (restarted and _interrupted_run(Path(settings.out))))
        return _train(settings, resume, overwrite, progress if world.main else "quiet", lock, world)
    finally:
        lock.release()


def _train(
    settings: TrainSettings,
    resume: bool,
    overwrite: bool,
    progress: Progress | str,
    lock: FolderLock,
    world: distributed.World,
) -> dict[str, Any]:
    begun = time.perf_counter()
    out = Path(settings.out)
    show = make(progress) if isinstance(progress, str) else progress
    settings = world.share(lambda: _settings(settings, out, resume, overwrite, show, world))
    size = settings.image_size or registry.get(settings.model).input_size

    def build() -> tuple[Any, Any, ImageClassifier]:
        train_data, val_data = load_data(settings, (size, size))
        classifier = ImageClassifier.from_pretrained(
            settings.model, classes=train_data.class_names, input_shape=(size, size, 3), seed=settings.seed,
            multi_label=settings.multi_label,
        )  # fmt: skip
        return train_data, val_data, classifier

    train_data, val_data, classifier = world.together(build)
    distributed.check_same_data(world, training=train_data, validation=val_data)

    done, history, epochs = 0, dict[str, list[float]](), settings.fine_tune_epochs
    head_epochs = 1 if settings.cache_features else settings.epochs
    if resume:
        state, weights = world.share(lambda: _checkpoint(out))
        done, history = int(state["epochs_done"]), state["history"]
        if state.get("stopped"):  # early stopping or the budget had ended fine-tuning: no more epochs
            epochs = done - head_epochs
        if weights is not None:  # the best weights: what early stopping keeps (resume.npz: the last)
            classifier.model.set_weights(weights)
        show.note(f"Resuming '{out}' after epoch {done}.")
    else:  # the input is good: only now is the folder touched (by rank 0)
        world.share(lambda: _start(out, settings, lock))
    checkpoint = Checkpoint(
        classifier.model, weights=out / CHECKPOINT, state=out / STATE, history=history, head_epochs=head_epochs,
        resume=out / RESUME, restore=resume,
    )  # fmt: skip
    scale = distributed.LR_SCALING[settings.lr_scaling](world.size)
    rate = settings.learning_rate * scale
    if world.size > 1:
        show.note(
            f"{world.size} processes ({world.backend}): batches of {settings.batch_size} per process, "
            f"{settings.batch_size * world.size} in all; learning rate {settings.learning_rate:g} x {scale:.3g} "
            f"({settings.lr_scaling} rule) = {rate:.3g}"
        )
    budget = None if settings.time_budget is None else settings.time_budget - (time.perf_counter() - begun)
    cache = out / "features" if world.main else Path(tempfile.mkdtemp(prefix=f"transferkit-rank{world.rank}-"))
    start = time.perf_counter()
    try:
        with _sigterm_as_interrupt():
            result = classifier.fine_tune(
                train_data, val_data, head_epochs=settings.epochs, epochs=epochs,
                learning_rate=rate, cache_features=settings.cache_features, seed=settings.seed,
                patience=settings.patience, history={k: list(v) for k, v in history.items()},
                callbacks=[checkpoint] if world.main else [], initial_epoch=done, cache_folder=str(cache),
                time_budget=budget, progress=show, views=settings.views,
                class_weight="balanced" if settings.label_weights else None,
            )  # fmt: skip
    except KeyboardInterrupt:
        raise _interrupted(settings, out, epochs=len(next(iter(history.values()), []))) from None
    except RuntimeError as error:
        if world.size > 1 and distributed.is_lost(error):
            raise distributed.lost(world, error) from error
        raise
    finally:
        if not world.main:
            shutil.rmtree(cache, ignore_errors=True)
    seconds = time.perf_counter() - start
    equal = world.same(classifier.model.get_weights())  # what DDP promises, checked
    if not world.main:
        return {}

    plain_val = val_data.without_augmentation()
    cached = result.val_probabilities  # with the familiarity score's features, when the caches gave them
    if cached is None or len(cached) != len(plain_val.usable_files):
        probabilities, familiar_features = np.asarray(classifier.model.predict(plain_val, verbose=0)), None
    else:
        probabilities, familiar_features = cached, result.familiar_features
    if settings.multi_label:  # each label decided by its own threshold; temperature scaling is for softmax
        one = settings.threshold
        cuts = (
            [one] * len(classifier.class_names)
            if one is not None
            else f1_thresholds(probabilities, plain_val.usable_labels)
        )
        classifier.thresholds = list[float | None](cuts)
        calibration, chosen = None, None
    else:
        calibration = calibrate(probabilities, plain_val.usable_labels, seed=settings.seed)
        classifier.temperature = calibration.temperature
        chosen = _thresholds(classifier, settings, probabilities, plain_val.usable_labels)
    familiarity = fit_familiarity(classifier, train_data, plain_val, settings.seed, familiar_features)
    grouped = split_groups(train_data, val_data)
    classifier.save(out / MODEL)
    metrics = report.write_report(
        out, plain_val.usable_labels, probabilities, classifier.class_names,
        paths=plain_val.usable_files, history=history, skipped_files=[*train_data.skipped, *_new(val_data, train_data)],
        train_seconds=seconds, settings=asdict(settings), title=f"transferkit: {settings.model} on {settings.data_dir}",
        extra={"model": settings.model, "auto_candidates": settings.auto_candidates, "notes": result.notes,
               "world_size": world.size,
               **({"distributed": _distributed(world, settings, rate, equal)} if world.size > 1 else {}),
               **({"target_precision": chosen} if chosen else {}),
               "familiarity": familiarity,
               **({"split": grouped} if grouped else {})},
        temperature=calibration and calibration.temperature, calibrated=calibration and calibration.out_of_fold,
        calibration_note=calibration.note if calibration else "",
        thresholds=classifier.thresholds if settings.multi_label else None,  # type: ignore[arg-type]
    )  # fmt: skip
    write_json(out / report.VALIDATION_FILE, {  # what `transferkit export` checks the export with
        "files": [os.path.abspath(f) for f in plain_val.usable_files], "labels": plain_val.usable_labels.tolist(),
    })  # fmt: skip
    for name in (STATE, RESUME, CHECKPOINT):  # the last step: the run is finished
        (out / name).unlink(missing_ok=True)
    shutil.rmtree(out / "features", ignore_errors=True)
    headline = {"micro_f1": metrics["micro_f1"], "mAP": metrics["mAP"]} if settings.multi_label else {
        "val_accuracy": metrics["val_accuracy"]}  # fmt: skip
    show.finish({
        **headline, "val_loss": metrics["val_loss"], "val_images": metrics["num_samples"],
        "skipped_files": len(metrics["skipped_files"]), "seconds": round(time.perf_counter() - begun, 1),
        "model_file": str(out / MODEL), "report": str(out / report.HTML_FILE),
    })  # fmt: skip
    return metrics


def _settings(
    settings: TrainSettings, out: Path, resume: bool, overwrite: bool, show: Progress, world: distributed.World
) -> TrainSettings:
    """The run's settings, on rank 0: the folder checked, a resumed run's read back, ``--model auto`` chosen."""
    _check_folder(out, resume=resume, overwrite=overwrite)
    if resume:  # a run.json from before group_duplicates split file by file
        settings = TrainSettings(**{"group_duplicates": False, **json.loads((out / SETTINGS).read_text())})
    if settings.model == AUTO:
        probe_data, _ = load_data(settings, (224, 224))  # only its files and labels are used: each probe resizes
        share = None if settings.time_budget is None else settings.time_budget * AUTO_SHARE
        wait = world.timeout / 2 if world.size > 1 else float("inf")  # the other ranks wait for the choice
        choice = choose_model(
            probe_data, budget_s=min(share or 120.0, wait), seed=settings.seed, progress=show,
            image_size=settings.image_size,
        )  # fmt: skip
        show.note(choice.table())
        settings = replace(settings, model=choice.name, auto_candidates=choice.as_json())
    return settings


def _hold(lock: FolderLock) -> bool:
    """Rank 0: lock the run folder (if it exists yet) and remove what a killed write left in it -- with the lock
    held no one else is writing there."""
    lock.__enter__()
    if lock.folder.is_dir():
        remove_stale_temps(lock.folder)
    return True


def _checkpoint(out: Path) -> tuple[dict[str, Any], list[np.ndarray] | None]:
    """An interrupted run's last state (epochs done, history, whether it had stopped) and best weights (None
    before the first were written)."""
    weights = read_checkpoint(out / CHECKPOINT) if (out / CHECKPOINT).exists() else None
    return read_state(out / STATE, out / RESUME), weights


def _start(out: Path, settings: TrainSettings, lock: FolderLock) -> None:
    lock.take()  # the folder is created here, and locked
    for name in (MODEL, report.METRICS_FILE, CHECKPOINT, STATE, RESUME):
        (out / name).unlink(missing_ok=True)
    write_json(out / SETTINGS, asdict(settings))


def _distributed(world: distributed.World, settings: TrainSettings, rate: float, equal: bool) -> dict[str, Any]:
    return {
        "processes": world.size, "backend": world.backend, "batch_size_per_process": settings.batch_size,
        "global_batch_size": settings.batch_size * world.size, "lr_scaling": settings.lr_scaling,
        "learning_rate": rate, "weights_equal_on_all_processes": equal,
    }  # fmt: skip


def _thresholds(
    classifier: ImageClassifier, settings: TrainSettings, probabilities: np.ndarray, labels: np.ndarray
) -> dict[str, Any] | None:
    """With ``--target-precision``: the per-class thresholds (on the calibrated probabilities, as ``predict``
    gives them) set on ``classifier``, and what they do on the validation images, for ``metrics.json``."""
    target = settings.target_precision
    if target is None:
        return None
    from ..runtime.confidence import apply_temperature

    calibrated = apply_temperature(probabilities, classifier.temperature)
    found = precision_thresholds(calibrated, labels, target, len(classifier.class_names))
    classifier.thresholds = found
    predicted, confidence = calibrated.argmax(axis=1), calibrated.max(axis=1)
    floors = np.array([np.inf if t is None else t for t in found])[predicted]
    answered = confidence >= floors
    right = predicted[answered] == np.asarray(labels)[answered]
    return {
        "target": target,
        "thresholds": dict(zip(classifier.class_names, found)),
        "answered": float(answered.mean()),  # the share of validation images not answered "unsure"
        "precision": float(right.mean()) if answered.any() else None,  # of those answered
        "note": "chosen and measured on the validation images; a class with no threshold is always 'unsure'",
    }


def _interrupted(settings: TrainSettings, out: Path, *, epochs: int) -> Interrupted:
    if not (out / STATE).exists():  # stopped before the first epoch ended: nothing to resume
        return Interrupted("Interrupted before the first epoch finished; run the same command again to start over.")
    return Interrupted(
        f"Interrupted: the checkpoint in '{out}' holds {epochs} finished epoch(s); "
        f"run `transferkit train {settings.data_dir} --out {out} --resume` to continue."
    )


def _new(val_data: Any, train_data: Any) -> list[Any]:
    """Skips of the validation set that the training set's list does not already hold (they may share one)."""
    seen = set(map(tuple, train_data.skipped))
    return [s for s in val_data.skipped if tuple(s) not in seen]
