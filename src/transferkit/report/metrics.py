"""Metrics of a classifier's predictions, from true labels and predicted probabilities (scikit-learn's).

Accuracy, top-k, cross-entropy (clipped as Keras clips it, so ``val_loss`` matches Keras's), per-class
precision/recall/F1/support, averages, the confusion matrix, the most confident mistakes, and calibration: the
expected calibration error and the reliability bins it is made of. Labels may be
class indices or names; mismatched inputs are one :class:`DatasetError`. scikit-learn is imported on use.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..errors import DatasetError

_EPSILON = 1e-7  # the clipping Keras's categorical cross-entropy uses, so val_loss matches Keras's


def compute_metrics(
    y_true: Sequence[int] | Sequence[str] | np.ndarray,
    probabilities: np.ndarray,
    classes: Sequence[str],
    *,
    top_k: int = 5,
) -> dict[str, Any]:
    """Accuracy, top-k accuracy, cross-entropy, per-class precision/recall/F1/support and the confusion matrix.

    ``y_true``: class indices or class names; ``probabilities``: one row per image, one column per class.
    ``top_k`` is lowered to ``len(classes) - 1`` (top-k over all classes is always 1). Raises
    :class:`DatasetError` when labels, probabilities and classes do not fit together.
    """
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support, top_k_accuracy_score

    names = [str(c) for c in classes]
    labels, probs = _check(y_true, probabilities, names)
    count = len(names)
    predicted = probs.argmax(axis=1)
    k = max(1, min(int(top_k), count - 1))
    everything = np.arange(count)
    top = (
        top_k_accuracy_score(labels, probs, k=k, labels=everything)
        if count > 2
        else float(np.mean(predicted == labels))
    )
    row = probs / np.clip(probs.sum(axis=1, keepdims=True), _EPSILON, None)
    loss = float(-np.mean(np.log(np.clip(row[np.arange(len(labels)), labels], _EPSILON, 1.0 - _EPSILON))))
    precision, recall, f1, support = precision_recall_fscore_support(
        labels, predicted, labels=everything, zero_division=0
    )
    per_class = {
        name: {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
        for name, p, r, f, s in zip(names, precision, recall, f1, support)
    }
    return {
        "val_accuracy": float(np.mean(predicted == labels)),
        "val_loss": loss,
        "top_k": k,
        "val_top_k_accuracy": float(top),
        "num_samples": len(labels),
        "baseline_accuracy": float(np.bincount(labels, minlength=count).max() / len(labels)),
        "classes": names,
        "per_class": per_class,
        "macro_avg": _average(per_class, weighted=False),
        "weighted_avg": _average(per_class, weighted=True),
        "confusion_matrix": confusion_matrix(labels, predicted, labels=everything).tolist(),
        "confusion_matrix_axes": "rows: true class, columns: predicted class (order of 'classes')",
    }


def worst_mistakes(
    y_true: Sequence[int] | Sequence[str] | np.ndarray,
    probabilities: np.ndarray,
    classes: Sequence[str],
    paths: Sequence[str | os.PathLike[str]] | None = None,
    limit: int = 12,
) -> list[dict[str, Any]]:
    """The most confident wrong predictions, most confident first."""
    names = [str(c) for c in classes]
    labels, probs = _check(y_true, probabilities, names)
    predicted = probs.argmax(axis=1)
    wrong = np.flatnonzero(predicted != labels)
    order = wrong[np.argsort(-probs[wrong, predicted[wrong]], kind="stable")][: max(0, limit)]
    return [
        {
            "index": int(i),
            "path": os.fspath(paths[i]) if paths is not None else None,
            "true": names[labels[i]],
            "predicted": names[predicted[i]],
            "confidence": float(probs[i, predicted[i]]),
            "true_probability": float(probs[i, labels[i]]),
        }
        for i in order
    ]


#: Equal-width confidence bins of the expected calibration error and the reliability diagram.
CALIBRATION_BINS = 15


def reliability(
    labels: Sequence[int] | np.ndarray, probabilities: np.ndarray, bins: int = CALIBRATION_BINS
) -> dict[str, list[float]]:
    """The top-class confidence of each image binned into ``bins`` equal widths of [0, 1]: per bin the
    ``count``, mean ``confidence`` and ``accuracy`` (NaN where empty). A calibrated model has them equal."""
    probs = np.asarray(probabilities, np.float64)
    truth = np.asarray(labels, np.int64)
    confidence, correct = probs.max(axis=1), probs.argmax(axis=1) == truth
    which = np.clip(np.ceil(confidence * bins).astype(np.int64) - 1, 0, bins - 1)  # (low, high] as usual
    count = np.bincount(which, minlength=bins).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_conf = np.bincount(which, weights=confidence, minlength=bins) / count
        accuracy = np.bincount(which, weights=correct.astype(np.float64), minlength=bins) / count
    return {"count": count.tolist(), "confidence": mean_conf.tolist(), "accuracy": accuracy.tolist()}


def expected_calibration_error(
    labels: Sequence[int] | np.ndarray, probabilities: np.ndarray, bins: int = CALIBRATION_BINS
) -> float:
    """ECE: the gap between confidence and accuracy, averaged over the bins of :func:`reliability`, each
    weighted by its share of the images (Guo et al. 2017, 15 bins by default)."""
    found = reliability(labels, probabilities, bins)
    count = np.asarray(found["count"])
    gaps = np.nan_to_num(np.abs(np.asarray(found["confidence"]) - np.asarray(found["accuracy"])))
    return float((count * gaps).sum() / max(count.sum(), 1.0))


def _check(y_true: Any, probabilities: Any, names: list[str]) -> tuple[np.ndarray, np.ndarray]:
    probs = np.asarray(probabilities, dtype=np.float64)
    if not names or len(set(names)) != len(names):
        raise DatasetError(f"classes must be a non-empty list of unique names; received {names}.")
    if probs.ndim != 2 or probs.shape[1] != len(names):
        raise DatasetError(
            f"probabilities must have one column per class ({len(names)}); received shape {probs.shape}."
        )
    raw = np.asarray(y_true)
    if len(raw) != len(probs):
        raise DatasetError(f"{len(raw)} labels for {len(probs)} rows of probabilities: pass one label per image.")
    if len(raw) == 0:
        raise DatasetError("There is nothing to evaluate: no labelled images.")
    if raw.dtype.kind in "USO":
        unknown = sorted({str(v) for v in raw} - set(names))
        if unknown:
            raise DatasetError(f"Labels {unknown[:5]} are not among the classes {names}.")
        index = {name: i for i, name in enumerate(names)}
        labels = np.array([index[str(v)] for v in raw], dtype=np.int64)
    else:
        labels = raw.astype(np.int64)
        if labels.min() < 0 or labels.max() >= len(names):
            raise DatasetError(f"Label indices must be 0 to {len(names) - 1}; received {labels.min()}..{labels.max()}.")
    if not np.all(np.isfinite(probs)):
        raise DatasetError("probabilities contain NaN or infinity: the model diverged; lower the learning rate.")
    return labels, probs


def _average(per_class: Mapping[str, Mapping[str, float]], weighted: bool) -> dict[str, float]:
    rows = list(per_class.values())
    weights = np.array([r["support"] for r in rows], dtype=np.float64) if weighted else np.ones(len(rows))
    total = weights.sum() or 1.0
    return {key: float(sum(w * r[key] for w, r in zip(weights, rows)) / total) for key in ("precision", "recall", "f1")}
