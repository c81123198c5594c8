"""Classifying images with a model: top-k labels and probabilities per image."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from . import images as images_mod
from .labels import imagenet_labels


class Prediction(NamedTuple):
    """One of an image's top-k classes."""

    label: str
    class_index: int
    probability: float


def input_spec(model: Any) -> tuple[tuple[int, int], float | None]:
    """The (height, width) a model wants and its fitting policy, read from the model itself."""
    model = getattr(model, "model", model)
    height, width = model.input_shape[1:3]
    layer = _preprocess_layer(model)
    return (height or 224, width or 224), layer.crop_pct if layer is not None else None


def _preprocess_layer(model: Any) -> Any:
    """The model's Preprocess layer: among its first layers, or inside a nested backbone."""
    for layer in model.layers[:3]:
        if type(layer).__name__ == "Preprocess":
            return layer
        if hasattr(layer, "layers"):
            found = _preprocess_layer(layer)
            if found is not None:
                return found
    return None


def class_names(model: Any, num_classes: int) -> list[str]:
    """Names for a model's outputs: a classifier's own, ImageNet's, or ``class_<i>``."""
    names = getattr(model, "class_names", None)
    if names is not None and len(names) == num_classes:
        return list(names)
    if num_classes == 1000:
        return imagenet_labels()
    return [f"class_{i}" for i in range(num_classes)]


def probabilities(model: Any, batch: np.ndarray, batch_size: int = 32) -> np.ndarray:
    """Class probabilities for a batch of 0-255 RGB images (softmax applied if the model outputs logits)."""
    if len(batch) == 0:
        return np.zeros((0, int(model.output_shape[-1])), np.float32)
    out = np.asarray(model.predict(batch, batch_size=batch_size, verbose=0), dtype=np.float64)
    if out.min() < 0 or not np.allclose(out.sum(axis=-1), 1.0, atol=1e-3):
        out = np.exp(out - out.max(axis=-1, keepdims=True))
        out /= out.sum(axis=-1, keepdims=True)
    return out


def top_k(probs: np.ndarray, names: Sequence[str], k: int) -> list[list[Prediction]]:
    """The ``k`` most probable classes of each row, most probable first."""
    k = max(1, min(k, probs.shape[-1]))
    order = np.argsort(-probs, axis=-1, kind="stable")[:, :k]
    return [[Prediction(names[i], int(i), float(row[i])) for i in idx] for row, idx in zip(probs, order)]


def predict(model: Any, images: Any, top: int = 5) -> list[list[Prediction]]:
    """Top-``top`` ``(label, class_index, probability)`` for each image, in input order.

    ``model``: a Keras model or an :class:`~transferkit.ImageClassifier` (whose class names are used).
    ``images``: one or a sequence of file paths, PIL images or arrays (a 4-D array is a batch).
    Each is decoded, fitted and normalised as the model expects (see :mod:`transferkit.images`).
    Raises :class:`ImageError` naming the first image that cannot be read.
    """
    names = getattr(model, "class_names", None)
    model = getattr(model, "model", model)
    sources = images_mod.as_sources(images)
    size, crop_pct = input_spec(model)
    batch, _kept, errors = images_mod.load_many(sources, size, crop_pct)
    if errors:
        raise errors[0]
    probs = probabilities(model, batch)
    return top_k(probs, names or class_names(model, probs.shape[-1]), top)
