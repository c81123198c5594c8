"""Two-phase fine-tuning, readable in one screen (fastai's ``fine_tune``, as a plain function).

Phase one trains the new head with the backbone frozen -- on cached features when allowed, which is
many times faster (:mod:`transferkit.features`). Phase two unfreezes the top of the backbone (BatchNorm
stays frozen) and trains at a lower learning rate with a linear warm-up and cosine decay, so the first
large gradients of a new head do not wreck pretrained weights. Early stopping restores the best
weights of each phase by validation loss.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .classifier import ImageClassifier


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
    from ._backend import keras as _keras

    keras = _keras()
    if seed is not None:
        keras.utils.set_random_seed(seed)
    if class_weight == "balanced":
        class_weight = balanced_class_weight(train)
    result = FineTuneResult()
    common = dict(class_weight=class_weight, verbose=verbose)

    if head_epochs > initial_epoch:  # phase one: the head, backbone frozen
        start = time.perf_counter()
        classifier.freeze()
        cbs = _callbacks(callbacks, early_stopping and validation is not None, patience)
        if cache_features:
            history = _fit_head_on_features(
                classifier,
                train,
                validation,
                head_epochs,
                learning_rate,
                views,
                cache_folder,
                seed,
                cbs,
                initial_epoch,
                common,
            )
        else:
            classifier.compile(learning_rate, sparse=_sparse(train))
            history = classifier.fit(
                train, validation, epochs=head_epochs, callbacks=cbs, initial_epoch=initial_epoch, **common
            ).history
        result.add(history, phase=1)
        result.head_seconds = time.perf_counter() - start

    if epochs > 0:  # phase two: the top of the backbone, lower learning rate, warm-up then cosine decay
        start = time.perf_counter()
        classifier.unfreeze(unfreeze)
        steps = max(1, len(train) * epochs)
        warmup = min(steps - 1, int(len(train) * warmup_epochs))
        lr = fine_tune_learning_rate or learning_rate / 10
        schedule = keras.optimizers.schedules.CosineDecay(
            lr / 100, decay_steps=max(1, steps - warmup), warmup_target=lr, warmup_steps=warmup
        )
        classifier.compile(schedule, sparse=_sparse(train))
        cbs = _callbacks(callbacks, early_stopping and validation is not None, patience)
        history = classifier.fit(
            train,
            validation,
            epochs=head_epochs + epochs,
            callbacks=cbs,
            initial_epoch=max(initial_epoch, head_epochs),
            **common,
        ).history
        result.add(history, phase=2)
        result.fine_tune_seconds = time.perf_counter() - start
    return result


def _callbacks(user: list[Any] | None, stop_early: bool, patience: int) -> list[Any]:
    from ._backend import keras as _keras

    cbs = list(user or [])
    if stop_early:
        cbs.append(_keras().callbacks.EarlyStopping("val_loss", patience=patience, restore_best_weights=True))
    return cbs


def _fit_head_on_features(
    classifier: ImageClassifier,
    train: Any,
    validation: Any,
    epochs: int,
    learning_rate: float,
    views: int | None,
    folder: str | None,
    seed: int | None,
    callbacks: list[Any],
    initial_epoch: int,
    common: dict[str, Any],
) -> dict[str, list[float]]:
    from . import features
    from ._backend import keras as _keras

    keras = _keras()
    clean = unaugmented(train)
    augmenting = clean is not train and getattr(train, "augment", True) is not None  # not merely shuffled
    n_views = views if views is not None else (3 if augmenting else 1)
    sources = [clean] + [train] * (n_views - 1 if augmenting else 0)
    cached = features.extract(classifier, sources, folder=folder, verbose=common["verbose"] != 0)
    val = None
    if validation is not None:
        val_set = features.extract(classifier, [unaugmented(validation)], verbose=False)
        val = (val_set.features[0], val_set.labels[0])
    head = features.head_model(classifier)
    sparse = cached.labels.ndim == 2
    k = min(5, len(classifier.class_names))
    top_k = (
        keras.metrics.SparseTopKCategoricalAccuracy(k, name="top_k")
        if sparse
        else keras.metrics.TopKCategoricalAccuracy(k, name="top_k")
    )
    loss = "sparse_categorical_crossentropy" if sparse else "categorical_crossentropy"
    head.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=loss, metrics=["accuracy", top_k])
    batch_size = getattr(train, "batch_size", 32) or 32
    batches = features.feature_batches(cached, batch_size, seed)
    fitted = head.fit(
        batches, validation_data=val, epochs=epochs, callbacks=callbacks, initial_epoch=initial_epoch, **common
    )
    return dict(fitted.history)


def unaugmented(dataset: Any) -> Any:
    """The same dataset without augmentation or shuffling (itself when it has neither)."""
    plain = getattr(dataset, "without_augmentation", None)
    return plain() if callable(plain) else dataset


def _sparse(dataset: Any) -> bool:
    mode = getattr(dataset, "label_mode", None) or getattr(dataset, "class_mode", None)
    return mode in ("int", "sparse")


def balanced_class_weight(dataset: Any) -> dict[int, float]:
    """``n_samples / (n_classes * count)`` per class, from the dataset's integer labels."""
    from sklearn.utils.class_weight import compute_class_weight

    labels = np.asarray(getattr(dataset, "labels", None) if hasattr(dataset, "labels") else dataset.classes)
    classes = np.unique(labels)
    weights = compute_class_weight("balanced", classes=classes, y=labels)
    return {int(c): float(w) for c, w in zip(classes, weights)}
