"""Calibrated probabilities and the "unsure" answer, one definition for every path that gives probabilities.

:func:`apply_temperature` is temperature scaling: the model's probabilities, read as log-probabilities
(logits up to a constant), divided by the classifier's temperature ``T`` and put through a softmax again.
``T > 1`` softens over-confident probabilities; the class order, hence the top class, never changes. ``T``
is fit after training (:mod:`transferkit.train.calibration`), saved in the classifier's metadata
(``temperature`` in ``transferkit.json`` and in an ONNX export's metadata) and applied by
:func:`transferkit.inference.predict.probabilities`, :meth:`transferkit.runtime.OnnxClassifier.probabilities`
and so by ``predict``, ``evaluate`` and the server. With test-time augmentation each view is scaled, then
averaged.

:func:`answer` is the decision with a confidence floor: the top class, or ``unsure`` (``class_index``
``None``, JSON ``null``) when the top probability is below ``min_confidence`` or below the class's own
threshold (``thresholds`` in the metadata, chosen for a target precision by ``train --target-precision``).
:func:`label_thresholds` and :func:`labels_on` are a multi-label model's decision: each label on when its own
probability reaches its threshold (0.5 where the model has none). NumPy only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

#: The label answered instead of a class when the top probability is below the floor.
UNSURE = "unsure"
_TINY = 1e-12  # log(0) guard: a probability of 0 stays (almost) 0 at any temperature


def apply_temperature(probabilities: np.ndarray, temperature: float) -> np.ndarray:
    """``softmax(log(probabilities) / temperature)`` row by row; ``temperature == 1`` returns them unchanged."""
    if temperature == 1.0 or np.size(probabilities) == 0:
        return np.asarray(probabilities)
    logits = np.log(np.clip(np.asarray(probabilities, np.float64), _TINY, None)) / float(temperature)
    logits -= logits.max(axis=-1, keepdims=True)
    scaled = np.exp(logits)
    scaled /= scaled.sum(axis=-1, keepdims=True)
    return scaled


def answer(
    label: str,
    class_index: int,
    probability: float,
    min_confidence: float | None,
    thresholds: Sequence[float | None] | None = None,
) -> dict[str, Any]:
    """One image's answer from its top class: ``{"label", "class_index", "probability", "unsure"}`` -- that
    class, or ``label="unsure"`` and ``class_index=None`` (JSON ``null``) when ``probability`` is below
    ``min_confidence`` or below the class's own threshold in ``thresholds`` (a classifier's, from ``train
    --target-precision``; None there: the class never reached the target, so it is always unsure);
    ``probability`` is the top class's either way."""
    unsure = min_confidence is not None and probability < float(min_confidence)
    if thresholds is not None:
        own = thresholds[class_index]
        unsure = unsure or own is None or probability < own
    return {
        "label": UNSURE if unsure else label,
        "class_index": None if unsure else int(class_index),
        "probability": float(probability),
        "unsure": unsure,
    }


#: A multi-label model's decision threshold for a label it has none for.
DEFAULT_THRESHOLD = 0.5


def label_thresholds(thresholds: Sequence[float | None] | None, count: int) -> list[float]:
    """A multi-label model's threshold per label: its own (``thresholds`` in its metadata), else 0.5."""
    found = list(thresholds) if thresholds is not None else [None] * count
    return [DEFAULT_THRESHOLD if t is None else float(t) for t in found]


def labels_on(row: np.ndarray, names: Sequence[str], thresholds: Sequence[float]) -> list[dict[str, Any]]:
    """The labels of one image's probabilities at or above their thresholds, most probable first, as
    ``{"label", "class_index", "probability"}`` (what ``predict --json`` and the server answer)."""
    order = np.argsort(-np.asarray(row), kind="stable")
    return [{"label": names[i], "class_index": int(i), "probability": float(row[i])}
            for i in order if row[i] >= thresholds[i]]  # fmt: skip
