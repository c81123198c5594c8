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
    """After every epoch, written atomically: when the epoch is the best yet by :func:`score` (or there is no
    validation), the classifier's weights (``weights``: what ``--resume`` falls back on, and what early stopping
    would restore); then everything an exact resume needs (``resume``: the fitted model's variables -- weights
    and dropout seeds -- its optimizer's, and the history); then the history as JSON (``state``). So an
    interrupted run loses at most the epoch in progress, and a resumed one trains on as if it had never
    stopped. The weights are NumPy ``.npz`` files: 7x faster to write than ``save_weights``'s HDF5, which
    matters when epochs take seconds. ``history`` is filled in place (one value per epoch and metric, plus
    ``phase``: 1 while ``epoch < head_epochs``, else 2). With ``restore``, the first ``fit`` puts the saved
    variables back at its start -- after :class:`KeepBest` has taken the best weights, so it comes after it."""

    def __init__(
        self, classifier_model: Any, *, weights: Path, state: Path, history: dict[str, list[float]], head_epochs: int,
        resume: Path, restore: bool = False,
    ) -> None:  # fmt: skip
        super().__init__()
        self.classifier_model = classifier_model  # self.model is the model being fitted: the head, in phase one
        self.weights, self.state, self.history, self.head_epochs = weights, state, history, head_epochs
        self.resume, self.restore = resume, restore
        self.best = best_so_far(history)[0]  # a resumed run's best so far
        self.restored = False  # whether the saved variables came back (resuming inside the phase they are from)

    def on_train_begin(self, logs: dict[str, float] | None = None) -> None:
        if not self.restore:
            return
        self.restore = False  # only the first fit resumes: the next phase starts afresh, as it would have
        done = len(next(iter(self.history.values()), []))
        if done > 0 and (done - 1 < self.head_epochs) == (done < self.head_epochs):  # the same phase goes on
            self.restored = _restore(self.model, self.resume, done)

    def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        logs = logs or {}
        for key, value in {**logs, "phase": 1 if epoch < self.head_epochs else 2}.items():
            self.history.setdefault(key, []).append(float(value))
        current = score(logs)
        if "val_accuracy" not in logs or self.best is None or current > self.best:
            self.best = current
            with atomic_path(self.weights) as temp, open(temp, "wb") as handle:
                np.savez(handle, *self.classifier_model.get_weights())
        # phase two ended early (early stopping, the budget): a resumed run must not train on
        stopped = epoch >= self.head_epochs and bool(getattr(self.model, "stop_training", False))
        state = {"epochs_done": epoch + 1, "history": self.history, "stopped": stopped}
        _save(self.model, self.resume, state)  # the commit point: the JSON below is its readable copy
        write_json(self.state, state)


def _save(model: Any, path: Path, state: dict[str, Any]) -> None:
    """``model``'s variables (weights, seeds), its optimizer's (step count, moments), the global random state
    and ``state`` as JSON."""
    arrays = {f"model_{i}": v.numpy() for i, v in enumerate(model.variables)}
    optimizer = getattr(model, "optimizer", None)
    if optimizer is not None and optimizer.built:
        arrays.update({f"optimizer_{i}": v.numpy() for i, v in enumerate(optimizer.variables)})
    if keras.backend.backend() == "torch":  # an unseeded Dropout draws from torch's own generator
        import torch

        arrays["rng_torch"] = torch.get_rng_state().numpy()
    with atomic_path(path) as temp, open(temp, "wb") as handle:
        np.savez(handle, state=np.array(json.dumps(state, default=str)), **arrays)


def _restore(model: Any, path: Path, done: int) -> bool:
    """Put back what :func:`_save` wrote after epoch ``done`` into ``model`` and its optimizer; False (nothing
    changed) when the file is missing, from another epoch, of a run that had stopped, or does not fit ``model``."""
    if not path.is_file():
        return False
    with np.load(path) as saved:
        state = json.loads(str(saved["state"]))
        if state["epochs_done"] != done or state["stopped"]:  # stopped: the best weights, in place, are the result
            return False
        optimizer = model.optimizer
        if not optimizer.built:
            optimizer.build(model.trainable_variables)
        targets = {f"model_{i}": v for i, v in enumerate(model.variables)}
        targets.update({f"optimizer_{i}": v for i, v in enumerate(optimizer.variables)})
        values = {name: saved[name] for name in saved.files if name.startswith(("model_", "optimizer_"))}
        if set(values) != set(targets) or any(values[k].shape != tuple(v.shape) for k, v in targets.items()):
            return False
        for name, variable in targets.items():
            variable.assign(values[name])
        if "rng_torch" in saved.files and keras.backend.backend() == "torch":
            import torch

            torch.set_rng_state(torch.from_numpy(saved["rng_torch"]))
    return True


def read_state(state: Path, resume: Path) -> dict[str, Any]:
    """The last epoch's state (``epochs_done``, ``history``, ``stopped``): the resume file's, written first,
    unless only the JSON exists (a checkpoint from before the resume file)."""
    if resume.is_file():
        with np.load(resume) as saved:
            return dict(json.loads(str(saved["state"])))
    return dict(json.loads(state.read_text()))


def read_checkpoint(path: Path) -> list[np.ndarray]:
    """The weights a :class:`Checkpoint` wrote, for ``model.set_weights``."""
    with np.load(path) as saved:
        return [saved[f"arr_{i}"] for i in range(len(saved.files))]


def best_so_far(history: dict[str, list[float]]) -> tuple[tuple[float, float] | None, int, int]:
    """What :class:`KeepBest` would hold after the epochs in ``history``: the best :func:`score` (None without
    validation), the epochs since it, and its epoch (-1: the first row, the score to beat)."""
    rows = [dict(zip(history, values)) for values in zip(*history.values())]
    best: tuple[float, float] | None = None
    at = 0
    for index, row in enumerate(rows):
        if "val_accuracy" not in row or best is None or score(row) > best:
            best, at = (score(row) if "val_accuracy" in row else None), index
    return best, max(0, len(rows) - 1 - at), at or -1


def score(logs: dict[str, float]) -> tuple[float, float]:
    """How good an epoch was: validation accuracy (micro F1 for a multi-label model) first, then validation loss
    (lower is better)."""
    first = logs.get("val_f1", logs.get("val_accuracy", float("-inf")))
    return float(first), -float(logs.get("val_loss", float("inf")))


class KeepBest(keras.callbacks.Callback):
    """Early stopping by validation accuracy, then loss, restoring the best weights of ``target`` at the end.

    ``initial`` is the score the weights had before this ``fit`` (the head phase's): a phase that never beats
    it leaves the classifier as it was. Resuming, it is the best so far (the weights ``target`` holds when
    ``fit`` starts), with ``wait`` epochs since it, at ``best_epoch`` (:func:`best_so_far`). ``restored`` says
    afterwards whether older weights came back."""

    def __init__(
        self, target: Any, *, patience: int, initial: tuple[float, float] | None = None, wait: int = 0,
        best_epoch: int = -1,
    ) -> None:  # fmt: skip
        super().__init__()
        self.target, self.patience, self.initial = target, patience, initial
        self.initial_wait, self.initial_best_epoch = wait, best_epoch  # resuming: where early stopping was
        self.best: tuple[float, float] | None = None
        self.best_weights: list[Any] | None = None
        self.best_epoch = -1
        self.wait = 0
        self.restored = False

    def on_train_begin(self, logs: dict[str, float] | None = None) -> None:
        self.best, self.wait, self.best_epoch = self.initial, self.initial_wait, self.initial_best_epoch
        self.restored = False
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
