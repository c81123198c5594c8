"""Two-phase fine-tuning, readable in one screen (fastai's ``fine_tune``, as a plain function).

Phase one trains the new head with the backbone frozen -- on cached features when allowed, which is
many times faster (:mod:`transferkit.train.features`). Phase two unfreezes the top of the backbone
(BatchNorm stays frozen) and trains at a lower learning rate with a linear warm-up and cosine decay, so
the first large gradients of a new head do not wreck pretrained weights. Early stopping restores the
best weights of each phase by validation loss.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import keras

from ..data import class_weights
from . import features

if TYPE_CHECKING:
    from ..models.classifier import ImageClassifier


@dataclass
class FineTuneResult:
    """What happened: the merged per-epoch history (with a ``phase`` column) and the time spent."""

    history: dict[str, list[float]] = field(default_factory=dict)
    head_seconds: float = 0.0
    fine_tune_seconds: float = 0.0
    epochs: int = 0

    def add(self, history: dict[str, list[float]], phase: int) -> None:
        n = len(next(iter(history.values()), []))
        for key in sorted(set(self.history) | set(history)):
            self.history.setdefault(key, [float("nan")] * self.epochs)
            self.history[key].extend(float(v) for v in history.get(key, [float("nan")] * n))
        self.history.setdefault("phase", [float("nan")] * self.epochs)[-n:] = [float(phase)] * n
        self.epochs += n


def fine_tune(
    classifier: ImageClassifier,
    train: Any,
    validation: Any = None,
    *,
    head_epochs: int = 5,
    epochs: int = 3,
    learning_rate: float = 1e-3,
    fine_tune_learning_rate: float | None = None,
    unfreeze: str | int | float | None = 0.3,
    warmup_epochs: float = 1.0,
    cache_features: bool = True,
    views: int | None = None,
    cache_folder: str | None = None,
    class_weight: dict[int, float] | str | None = None,
    early_stopping: bool = True,
    patience: int = 3,
    callbacks: list[Any] | None = None,
    seed: int | None = None,
    initial_epoch: int = 0,
    verbose: Any = "auto",
) -> FineTuneResult:
    """Fine-tune ``classifier`` on ``train`` (a transferkit/Keras dataset of (images, labels) batches).

    ``epochs`` are phase-two epochs (0 skips it); ``fine_tune_learning_rate`` defaults to a tenth of
    ``learning_rate``; ``unfreeze`` is what :meth:`ImageClassifier.unfreeze` takes; ``views`` is the number
    of augmented views cached per image (default 3 when ``train`` augments, else 1);
    ``class_weight="balanced"`` weighs classes inversely to their frequency; ``initial_epoch`` resumes
    (epochs before it are skipped, counting head epochs first).
    """
    if seed is not None:
        keras.utils.set_random_seed(seed)
    fit = dict(
        class_weight=class_weights(train) if class_weight == "balanced" else class_weight,
        callbacks=_callbacks(callbacks, stop_early=early_stopping and validation is not None, patience=patience),
        verbose=verbose,
    )
    result = FineTuneResult()
    if head_epochs > initial_epoch:
        start = time.perf_counter()
        classifier.freeze()
        if cache_features:
            history = features.fit_head(
                classifier, train, validation, epochs=head_epochs, learning_rate=learning_rate, views=views,
                folder=cache_folder, seed=seed, initial_epoch=initial_epoch, **fit,
            )  # fmt: skip
        else:
            classifier.compile(learning_rate, sparse=_sparse(train))
            history = classifier.fit(train, validation, epochs=head_epochs, initial_epoch=initial_epoch, **fit).history
        result.add(history, phase=1)
        result.head_seconds = time.perf_counter() - start
    if epochs > 0:
        start = time.perf_counter()
        classifier.unfreeze(unfreeze)
        rate = fine_tune_learning_rate or learning_rate / 10
        classifier.compile(_warmup_cosine(rate, len(train), epochs, warmup_epochs), sparse=_sparse(train))
        history = classifier.fit(
            train, validation, epochs=head_epochs + epochs, initial_epoch=max(initial_epoch, head_epochs), **fit
        ).history
        result.add(history, phase=2)
        result.fine_tune_seconds = time.perf_counter() - start
    return result


def _warmup_cosine(rate: float, steps_per_epoch: int, epochs: int, warmup_epochs: float) -> Any:
    """From ``rate / 100`` up to ``rate`` over the warm-up, then a cosine decay to zero."""
    steps = max(1, steps_per_epoch * epochs)
    warmup = min(steps - 1, int(steps_per_epoch * warmup_epochs))
    return keras.optimizers.schedules.CosineDecay(
        rate / 100, decay_steps=max(1, steps - warmup), warmup_target=rate, warmup_steps=warmup
    )


def _callbacks(user: list[Any] | None, *, stop_early: bool, patience: int) -> list[Any]:
    cbs = list(user or [])
    if stop_early:
        cbs.append(keras.callbacks.EarlyStopping("val_loss", patience=patience, restore_best_weights=True))
    return cbs


def _sparse(dataset: Any) -> bool:
    mode = getattr(dataset, "label_mode", None) or getattr(dataset, "class_mode", None)
    return mode in ("int", "sparse")
