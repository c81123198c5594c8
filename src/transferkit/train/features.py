"""The frozen-feature cache: while the backbone is frozen, run it once per image, then train the head on
the stored features.

A frozen backbone gives the same pooled features every epoch, so recomputing them -- what plain Keras
``fit`` does -- spends nearly all of every epoch's time on work already done. With augmentation, each
image is stored under ``views`` different augmentations (view 0 unaugmented) and epoch ``e`` trains on
view ``e % views``, so the head still sees varied inputs. Features live in memory, or memory-mapped in a
folder when they would exceed ``max_memory_bytes``. :func:`fit_head` is phase one of
:func:`~transferkit.train.finetune.fine_tune` on such a cache.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import keras
import numpy as np

from ..models import heads

if TYPE_CHECKING:
    from ..models.classifier import ImageClassifier


@dataclass
class FeatureSet:
    """Pooled backbone features ``(views, n, dim)`` and their labels ``(views, n[, classes])``."""

    features: np.ndarray
    labels: np.ndarray

    @property
    def views(self) -> int:
        return int(self.features.shape[0])


def _batches(dataset: Any) -> Iterable[tuple[Any, Any]]:
    """(images, labels) batches of a Keras-style dataset (PyDataset/Sequence) or an iterable of batches."""
    if hasattr(dataset, "__getitem__") and hasattr(dataset, "__len__"):
        for index in range(len(dataset)):
            batch = dataset[index]
            yield batch[0], batch[1]
        if hasattr(dataset, "on_epoch_end"):
            dataset.on_epoch_end()  # a new shuffle / new augmentation for the next view
    else:
        for batch in dataset:
            yield batch[0], batch[1]


def extract(
    classifier: ImageClassifier,
    sources: list[Any],
    folder: str | os.PathLike[str] | None = None,
    max_memory_bytes: int = 1 << 30,
    verbose: bool = True,
) -> FeatureSet:
    """Pooled features of every batch of each source (one source per view), in inference mode."""
    extractor = keras.Model(classifier.model.input, heads.layer(classifier.model, heads.POOL).output)
    dim = int(extractor.output_shape[-1])
    per_view: list[tuple[np.ndarray, np.ndarray]] = []
    total = sum(len(s) for s in sources if hasattr(s, "__len__"))
    progress = keras.utils.Progbar(total or None, unit_name="batch") if verbose else None
    for source in sources:
        feats, labels = [], []
        for x, y in _batches(source):
            feats.append(np.asarray(extractor.predict_on_batch(x), dtype=np.float32))
            labels.append(np.asarray(y))
            if progress is not None:
                progress.add(1)
        per_view.append((np.concatenate(feats), np.concatenate(labels)))
    n = min(len(f) for f, _ in per_view)
    shape = (len(per_view), n, dim)
    features = _allocate(shape, folder, max_memory_bytes)
    for view, (f, _) in enumerate(per_view):
        features[view] = f[:n]
    return FeatureSet(features, np.stack([lab[:n] for _, lab in per_view]))


def _allocate(shape: tuple[int, int, int], folder: str | os.PathLike[str] | None, limit: int) -> np.ndarray:
    if folder is None or int(np.prod(shape)) * 4 <= limit:
        return np.zeros(shape, np.float32)
    Path(folder).mkdir(parents=True, exist_ok=True)
    return np.lib.format.open_memmap(Path(folder) / "features.npy", mode="w+", dtype=np.float32, shape=shape)


class ViewBatches(keras.utils.PyDataset):
    """A Keras PyDataset over cached features: epoch ``e`` uses view ``e % views``, shuffled."""

    def __init__(self, data: FeatureSet, batch_size: int, seed: int | None) -> None:
        super().__init__()
        self.data, self.batch_size = data, batch_size
        self.epoch = 0
        self.rng = np.random.default_rng(seed)
        self.order = self.rng.permutation(data.features.shape[1])

    def __len__(self) -> int:
        return int(np.ceil(self.data.features.shape[1] / self.batch_size))

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        view = self.epoch % self.data.views
        rows = np.sort(self.order[index * self.batch_size : (index + 1) * self.batch_size])
        return np.asarray(self.data.features[view, rows]), self.data.labels[view, rows]

    def on_epoch_end(self) -> None:
        self.epoch += 1
        self.order = self.rng.permutation(self.data.features.shape[1])


def head_model(classifier: ImageClassifier) -> Any:
    """A model from pooled features to class probabilities that shares the classifier's head layers,
    so training it trains the classifier."""
    model = classifier.model
    pool = heads.layer(model, heads.POOL)
    inputs = keras.Input(shape=(int(pool.output.shape[-1]),), name="features")
    x = heads.layer(model, heads.DROPOUT)(inputs)
    outputs = heads.layer(model, heads.HEAD)(x)
    return keras.Model(inputs, outputs, name="head")


def fit_head(
    classifier: ImageClassifier,
    train: Any,
    validation: Any,
    *,
    epochs: int,
    learning_rate: float,
    views: int | None,
    folder: str | None,
    seed: int | None,
    initial_epoch: int,
    **fit: Any,
) -> dict[str, list[float]]:
    """Phase one on cached features: extract them (several augmented views when ``train`` augments), then
    fit the head on them; ``fit`` (callbacks, class_weight, verbose) goes to Keras ``fit``. The history."""
    clean = unaugmented(train)
    augmenting = clean is not train and getattr(train, "augment", True) is not None  # not merely shuffled
    n_views = views if views is not None else (3 if augmenting else 1)
    sources = [clean] + [train] * (n_views - 1 if augmenting else 0)
    cached = extract(classifier, sources, folder=folder, verbose=fit.get("verbose") != 0)
    val = None
    if validation is not None:
        val_set = extract(classifier, [unaugmented(validation)], verbose=False)
        val = (val_set.features[0], val_set.labels[0])
    head = head_model(classifier)
    sparse = cached.labels.ndim == 2
    head.compile(
        optimizer=keras.optimizers.Adam(learning_rate), **heads.compile_args(len(classifier.class_names), sparse)
    )
    batches = ViewBatches(cached, getattr(train, "batch_size", 32) or 32, seed)
    history = head.fit(batches, validation_data=val, epochs=epochs, initial_epoch=initial_epoch, **fit).history
    return dict(history)


def unaugmented(dataset: Any) -> Any:
    """The same dataset without augmentation or shuffling (itself when it has neither)."""
    plain = getattr(dataset, "without_augmentation", None)
    return plain() if callable(plain) else dataset
