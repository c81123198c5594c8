"""Keras callbacks of a training run: what transferkit adds to ``fit`` (Keras's own do the rest)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import keras
import numpy as np

from .._util.atomic import atomic_path


def write_json(path: Path, data: Any) -> None:
    """``data`` as indented JSON at ``path``, written atomically."""
    with atomic_path(path) as temp:
        temp.write_text(json.dumps(data, indent=2, default=str), encoding="utf-8")


class Checkpoint(keras.callbacks.Callback):
    """After every epoch, written atomically: the history so far and, when the epoch is the best yet by
    :func:`score` (or there is no validation), the classifier's weights -- so an interrupted run loses at most
    one epoch, and ``--resume`` goes on from the weights the run would have kept. The weights are a NumPy
    ``.npz`` of ``get_weights()``: 7x faster to write than ``save_weights``'s HDF5, which matters when epochs
    take seconds. ``history`` is filled in place (one value per epoch and metric, plus ``phase``: 1 while
    ``epoch < head_epochs``, else 2)."""

    def __init__(
        self, classifier_model: Any, *, weights: Path, state: Path, history: dict[str, list[float]], head_epochs: int
    ) -> None:
        super().__init__()
        self.classifier_model = classifier_model  # self.model is the model being fitted: the head, in phase one
        self.weights, self.state, self.history, self.head_epochs = weights, state, history, head_epochs
        rows = [dict(zip(history, values)) for values in zip(*history.values())]
        self.best = max((score(row) for row in rows), default=None)  # a resumed run's best so far

    def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        logs = logs or {}
        for key, value in {**logs, "phase": 1 if epoch < self.head_epochs else 2}.items():
            self.history.setdefault(key, []).append(float(value))
        current = score(logs)
        if "val_accuracy" not in logs or self.best is None or current > self.best:
            self.best = current
            with atomic_path(self.weights) as temp, open(temp, "wb") as handle:
                np.savez(handle, *self.classifier_model.get_weights())
        write_json(self.state, {"epochs_done": epoch + 1, "history": self.history})


def read_checkpoint(path: Path) -> list[np.ndarray]:
    """The weights a :class:`Checkpoint` wrote, for ``model.set_weights``."""
    with np.load(path) as saved:
        return [saved[f"arr_{i}"] for i in range(len(saved.files))]


def score(logs: dict[str, float]) -> tuple[float, float]:
    """How good an epoch was: validation accuracy (micro F1 for a multi-label model) first, then validation loss
    (lower is better)."""
    first = logs.get("val_f1", logs.get("val_accuracy", float("-inf")))
    return float(first), -float(logs.get("val_loss", float("inf")))


class KeepBest(keras.callbacks.Callback):
    """Early stopping by validation accuracy, then loss, restoring the best weights of ``target`` at the end.

    ``initial`` is the score the weights had before this ``fit`` (the head phase's): a phase that never beats
    it leaves the classifier as it was. ``restored`` says afterwards whether older weights came back."""

    def __init__(self, target: Any, *, patience: int, initial: tuple[float, float] | None = None) -> None:
        super().__init__()
        self.target, self.patience, self.initial = target, patience, initial
        self.best: tuple[float, float] | None = None
        self.best_weights: list[Any] | None = None
        self.best_epoch = -1
        self.wait = 0
        self.restored = False

    def on_train_begin(self, logs: dict[str, float] | None = None) -> None:
        self.best, self.wait, self.best_epoch, self.restored = self.initial, 0, -1, False
        self.best_weights = self.target.get_weights() if self.initial is not None else None

    def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        logs = logs or {}
        current = score(logs)
        if "val_accuracy" not in logs or self.best is None or current > self.best:  # no validation: the last
            self.best, self.best_weights, self.best_epoch, self.wait = current, self.target.get_weights(), epoch, 0
            return
        self.wait += 1
        if self.wait >= self.patience:
            self.model.stop_training = True

    def on_train_end(self, logs: dict[str, float] | None = None) -> None:
        if self.best_weights is not None and self.wait > 0:
            self.target.set_weights(self.best_weights)
            self.restored = True


class Budget(keras.callbacks.Callback):
    """Stops ``fit`` after an epoch when the next one, as long as the longest so far, would end after
    ``deadline`` (a ``time.perf_counter()`` value). ``stopped`` says whether it did."""

    def __init__(self, deadline: float) -> None:
        super().__init__()
        self.deadline = deadline
        self.longest = 0.0
        self.stopped = False

    def on_epoch_begin(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        now = time.perf_counter()
        self.longest = max(self.longest, now - self.started)
        if now + self.longest > self.deadline:
            self.model.stop_training = self.stopped = True
