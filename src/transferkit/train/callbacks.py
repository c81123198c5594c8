"""Keras callbacks of a training run: what transferkit adds to ``fit`` (Keras's own do the rest)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import keras

from .._util.atomic import atomic_path


def write_json(path: Path, data: Any) -> None:
    """``data`` as indented JSON at ``path``, written atomically."""
    with atomic_path(path) as temp:
        temp.write_text(json.dumps(data, indent=2, default=str), encoding="utf-8")


class Checkpoint(keras.callbacks.Callback):
    """After every epoch: the classifier's weights and the history so far, written atomically, so an
    interrupted run loses at most one epoch. ``history`` is filled in place (one value per epoch and
    metric, plus ``phase``: 1 while ``epoch < head_epochs``, else 2)."""

    def __init__(
        self, classifier_model: Any, *, weights: Path, state: Path, history: dict[str, list[float]], head_epochs: int
    ) -> None:
        super().__init__()
        self.classifier_model = classifier_model  # self.model is the model being fitted: the head, in phase one
        self.weights, self.state, self.history, self.head_epochs = weights, state, history, head_epochs

    def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        for key, value in {**(logs or {}), "phase": 1 if epoch < self.head_epochs else 2}.items():
            self.history.setdefault(key, []).append(float(value))
        with atomic_path(self.weights) as temp:
            self.classifier_model.save_weights(temp)
        write_json(self.state, {"epochs_done": epoch + 1, "history": self.history})
