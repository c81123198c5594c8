"""Classifying images with a model: top-k labels and probabilities per image.

One path for the library and the CLI alike: :func:`predict_all` keeps going past images that cannot be
read and returns their errors beside the predictions; :func:`predict` raises the first instead.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from ..data import images as images_mod
from ..errors import ImageError
from ..export.keras_file import load_classifier
from ..models import load_pretrained
from ..models.preprocess import input_spec
from ..runtime import tta as tta_views
from ..runtime.confidence import apply_temperature
from ..zoo.labels import imagenet_labels


class Prediction(NamedTuple):
    """One of an image's top-k classes."""

    label: str
    class_index: int
    probability: float


def class_names(model: Any, num_classes: int) -> list[str]:
    """Names for a model's outputs: a classifier's own, ImageNet's, or ``class_<i>``."""
    names = getattr(model, "class_names", None)
    if names is not None and len(names) == num_classes:
        return list(names)
    if num_classes == 1000:
        return imagenet_labels()
    return [f"class_{i}" for i in range(num_classes)]


def probabilities(
    model: Any,
    batch: np.ndarray,
    batch_size: int = 32,
    tta: bool = False,
    temperature: float = 1.0,
    multi_label: bool = False,
) -> np.ndarray:
    """Class probabilities for a batch of 0-255 RGB images (softmax applied if the model outputs logits),
    scaled by ``temperature`` (a classifier's ``.temperature``: :mod:`transferkit.runtime.confidence`);
    ``tta`` averages them with the mirror images' (:mod:`transferkit.runtime.tta`). ``multi_label``: the
    model's sigmoid outputs as they are (each label's own probability)."""
    return outputs(model, batch, batch_size, tta, temperature, multi_label)[0]


def outputs(
    model: Any,
    batch: np.ndarray,
    batch_size: int = 32,
    tta: bool = False,
    temperature: float = 1.0,
    multi_label: bool = False,
) -> tuple[np.ndarray, np.ndarray | None]:
    """:func:`probabilities`, and the features the head classifies when ``model`` has them as a second output
    (:attr:`ImageClassifier.with_features`), of the images themselves (not their mirror images)."""
    if len(batch) == 0:
        return np.zeros((0, int(model.outputs[0].shape[-1])), np.float32), None
    features: list[np.ndarray] = []

    def run(pixels: np.ndarray) -> np.ndarray:
        found = model.predict(pixels, batch_size=batch_size, verbose=0)
        if isinstance(found, (list, tuple)):
            found, extra = found
            if not features:  # the first view: the images themselves
                features.append(np.asarray(extra))
        out = np.asarray(found, dtype=np.float64)
        if multi_label:
            return out
        if out.min() < 0 or not np.allclose(out.sum(axis=-1), 1.0, atol=1e-3):
            out = np.exp(out - out.max(axis=-1, keepdims=True))
            out /= out.sum(axis=-1, keepdims=True)
        return apply_temperature(out, temperature)

    probs = tta_views.averaged(run, batch) if tta else run(batch)
    return probs, features[0] if features else None


def top_k(probs: np.ndarray, names: Sequence[str], k: int) -> list[list[Prediction]]:
    """The ``k`` most probable classes of each row, most probable first."""
    k = max(1, min(k, probs.shape[-1]))
    order = np.argsort(-probs, axis=-1, kind="stable")[:, :k]
    return [[Prediction(names[i], int(i), float(row[i])) for i in idx] for row, idx in zip(probs, order)]


class Results(NamedTuple):
    """:func:`predict_all`'s answer: the indices of the images that were read, their predictions, the errors,
    and for a classifier with an out-of-distribution score, ``{"ood_score", "unfamiliar"}`` per image read."""

    kept: list[int]
    predictions: list[list[Prediction]]
    errors: list[ImageError]
    familiarity: list[dict[str, Any]] | None = None


def predict_all(model: Any, images: Any, top: int = 5, tta: bool = False) -> Results:
    """Top-``top`` predictions for each image that can be read, and one :class:`ImageError` per image that cannot.

    ``model``: a Keras model or an :class:`~transferkit.ImageClassifier` (whose class names are used).
    ``images``: one or a sequence of file paths, PIL images or arrays (a 4-D array is a batch).
    Each is decoded, fitted and normalised as the model expects (see :mod:`transferkit.data.images`).
    ``tta``: average each image's probabilities with its mirror image's. A classifier's ``temperature``
    is applied (see :mod:`transferkit.runtime.confidence`), and its ``familiar`` features score each image
    (:mod:`transferkit.runtime.familiar`).
    """
    names = getattr(model, "class_names", None)
    keras_model = getattr(model, "model", model)
    familiar = getattr(model, "familiar", None)
    size, crop_pct = input_spec(keras_model)
    batch, kept, errors = images_mod.load_many(images_mod.as_sources(images), size, crop_pct)
    runs = model.with_features if familiar is not None else keras_model
    temperature, multi_label = getattr(model, "temperature", 1.0), getattr(model, "multi_label", False)
    probs, features = outputs(runs, batch, tta=tta, temperature=temperature, multi_label=multi_label)
    found = top_k(probs, names or class_names(keras_model, probs.shape[-1]), top) if kept else []
    judged = familiar.judge(features) if familiar is not None and features is not None else None
    return Results(kept, found, errors, judged)


def predict(model: Any, images: Any, top: int = 5, tta: bool = False) -> list[list[Prediction]]:
    """Top-``top`` ``(label, class_index, probability)`` for each image, in input order (see :func:`predict_all`).

    Raises :class:`ImageError` naming the first image that cannot be read.
    """
    results = predict_all(model, images, top, tta)
    if results.errors:
        raise results.errors[0]
    return results.predictions


def load_model(name_or_path: str | os.PathLike[str]) -> Any:
    """A saved classifier (a ``.keras`` file, or any path) or a zoo model by name, ready for :func:`predict`."""
    text = os.fspath(name_or_path)
    if text.endswith(".keras") or os.sep in text or os.path.isfile(text):
        return load_classifier(text)
    return load_pretrained(text)
