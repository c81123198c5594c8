"""A training run in a folder: data, fine-tuning, checkpoints, resume, the saved model and the report.

This is what ``transferkit train`` and ``transferkit evaluate`` do. The run folder holds ``run.json`` (the
settings), and while training ``checkpoint.weights.h5`` + ``checkpoint.json`` after every epoch (so Ctrl-C,
SIGTERM or a crash loses at most one epoch, and ``--resume`` continues from there); when finished,
``model.keras``, ``metrics.json``, ``history.csv``, the plots and ``report.html``. Optimizer state is not
checkpointed: a resumed run restarts Adam's moments, which costs a little at the first resumed epoch.
"""

from __future__ import annotations

import json
import shutil
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ._atomic import atomic_path
from .errors import DatasetError, TransferkitError

CHECKPOINT, STATE, SETTINGS = "checkpoint.weights.h5", "checkpoint.json", "run.json"


class RunFolderError(TransferkitError, FileExistsError):
    """A run folder that holds a finished or interrupted run the command was not told to replace."""


class Interrupted(TransferkitError):
    """Training stopped by Ctrl-C or SIGTERM; the checkpoint in the run folder resumes it."""

    exit_code = 130


@dataclass
class TrainSettings:
    """Everything that defines a run (saved as ``run.json``; ``--resume`` reads it back)."""

    data_dir: str
    out: str
    model: str = "efficientnet_lite0"
    epochs: int = 10  # head epochs on cached features: seconds each
    fine_tune_epochs: int = 2  # the costly phase on 2 CPU cores
    image_size: int | None = None  # None: the model's own input size
    batch_size: int = 32
    val_split: float = 0.2
    val_dir: str | None = None
    augment: list[str] = field(default_factory=lambda: ["flip", "rotate", "zoom"])
    seed: int = 0
    cache_features: bool = True
    learning_rate: float = 1e-3


def _check_folder(settings: TrainSettings, resume: bool, overwrite: bool) -> Path:
    out = Path(settings.out)
    finished, interrupted = (out / "model.keras").exists(), (out / STATE).exists()
    if resume:
        if not interrupted:
            raise RunFolderError(f"There is no interrupted run to resume in '{out}': drop --resume to start one.")
    elif finished and not overwrite:
        raise RunFolderError(f"'{out}' holds a finished run: choose another --out, or pass --overwrite to replace it.")
    elif interrupted and not overwrite:
        raise RunFolderError(
            f"'{out}' holds an interrupted run: pass --resume to continue it, or --overwrite to start again."
        )
    out.mkdir(parents=True, exist_ok=True)
    return out


def _write_json(path: Path, data: Any) -> None:
    with atomic_path(path) as temp:
        temp.write_text(json.dumps(data, indent=2, default=str), encoding="utf-8")


def load_data(settings: TrainSettings, image_size: tuple[int, int]) -> tuple[Any, Any]:
    """(train, validation) datasets: ``val_dir`` as given, or a stratified seeded split of ``data_dir``."""
    from . import data

    augment = settings.augment or None
    if settings.val_dir:
        train: Any = data.image_folder(
            settings.data_dir, image_size, settings.batch_size, seed=settings.seed, augment=augment
        )
        val = data.image_folder(
            settings.val_dir, image_size, settings.batch_size, seed=settings.seed,
            class_names=train.class_names, shuffle=False,
        )  # fmt: skip
        return train, val
    if not 0 < settings.val_split < 1:
        raise DatasetError(f"--val-split is a fraction between 0 and 1. Received: {settings.val_split}")
    both: Any = data.image_folder(
        settings.data_dir, image_size, settings.batch_size, validation_split=settings.val_split, subset="both",
        seed=settings.seed, augment=augment,
    )  # fmt: skip
    return both[0], both[1]


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _checkpoint_callback(classifier: Any, out: Path, history: dict[str, list[float]], head_epochs: int) -> Any:
    from ._backend import keras as _keras

    class Checkpoint(_keras().callbacks.Callback):  # type: ignore[misc]
        """After every epoch: the classifier's weights and the history so far, written atomically."""

        def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
            for key, value in {**(logs or {}), "phase": 1 if epoch < head_epochs else 2}.items():
                history.setdefault(key, []).append(float(value))
            with atomic_path(out / CHECKPOINT) as temp:
                classifier.model.save_weights(temp)
            _write_json(out / STATE, {"epochs_done": epoch + 1, "history": history})

    return Checkpoint()


def train(settings: TrainSettings, resume: bool = False, overwrite: bool = False) -> dict[str, Any]:
    """Run (or resume) a training run; returns the metrics written to ``metrics.json``."""
    from . import registry, report
    from .classifier import ImageClassifier

    out = _check_folder(settings, resume, overwrite)
    if resume:
        settings = TrainSettings(**json.loads((out / SETTINGS).read_text()))
    else:
        for stale in ("model.keras", "metrics.json", CHECKPOINT, STATE):
            (out / stale).unlink(missing_ok=True)
        _write_json(out / SETTINGS, asdict(settings))
        _write_json(out / STATE, {"epochs_done": 0, "history": {}})
    size = settings.image_size or registry.get(settings.model).input_size
    train_data, val_data = load_data(settings, (size, size))
    classifier = ImageClassifier.from_pretrained(
        settings.model, classes=train_data.class_names, input_shape=(size, size, 3)
    )

    done, history = 0, {}
    if resume:
        state = json.loads((out / STATE).read_text())
        done, history = int(state["epochs_done"]), state["history"]
        if (out / CHECKPOINT).exists():
            classifier.model.load_weights(out / CHECKPOINT)
        print(f"Resuming '{out}' after epoch {done}.")
    start = time.perf_counter()
    try:
        with _sigterm_as_interrupt():
            classifier.fine_tune(
                train_data, val_data, head_epochs=settings.epochs, epochs=settings.fine_tune_epochs,
                learning_rate=settings.learning_rate, cache_features=settings.cache_features, seed=settings.seed,
                callbacks=[_checkpoint_callback(classifier, out, history, settings.epochs)], initial_epoch=done,
                cache_folder=str(out / "features"),
            )  # fmt: skip
    except KeyboardInterrupt:
        raise Interrupted(
            f"Interrupted: the checkpoint in '{out}' holds {len(next(iter(history.values()), []))} finished epoch(s); "
            f"run `transferkit train {settings.data_dir} --out {out} --resume` to continue."
        ) from None
    seconds = time.perf_counter() - start

    classifier.save(out / "model.keras")
    plain_val = val_data.without_augmentation()
    probabilities = np.asarray(classifier.model.predict(plain_val, verbose=0))
    metrics = report.write_report(
        out, plain_val.usable_labels, probabilities, classifier.class_names,
        paths=plain_val.usable_files, history=history, skipped_files=[*train_data.skipped, *_new(val_data, train_data)],
        train_seconds=seconds, settings=asdict(settings), title=f"transferkit: {settings.model} on {settings.data_dir}",
    )  # fmt: skip
    for name in (CHECKPOINT, STATE):
        (out / name).unlink(missing_ok=True)
    shutil.rmtree(out / "features", ignore_errors=True)
    return metrics


def _new(val_data: Any, train_data: Any) -> list[Any]:
    """Skips of the validation set that the training set's list does not already hold (they may share one)."""
    seen = set(map(tuple, train_data.skipped))
    return [s for s in val_data.skipped if tuple(s) not in seen]


def evaluate(model_path: str, data_dir: str, batch_size: int = 32) -> dict[str, Any]:
    """Metrics of a saved classifier on a labelled folder whose class folders match its classes."""
    from . import data, report
    from .artifact import load_classifier

    classifier = load_classifier(model_path)
    dataset: Any = data.image_folder(
        data_dir, classifier.image_size, batch_size=batch_size, class_names=classifier.class_names, shuffle=False
    )
    probabilities = np.asarray(classifier.model.predict(dataset, verbose=0))
    metrics = report.compute_metrics(dataset.usable_labels, probabilities, classifier.class_names)
    metrics = {"accuracy": metrics["val_accuracy"], "loss": metrics["val_loss"], **metrics}
    metrics["skipped_files"] = [list(s) for s in dataset.skipped]
    metrics["images"] = int(len(probabilities))
    return metrics
