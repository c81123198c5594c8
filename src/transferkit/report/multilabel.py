"""The figures of a multi-label classifier, where each image has any number of labels (scikit-learn's metrics).

Each label is decided by its own threshold (chosen on the validation images to maximise that label's F1:
:func:`transferkit.train.calibration.f1_thresholds`), so the figures are given at those thresholds -- and,
because the same images chose them, micro F1 at 0.5 beside them. ``mAP`` (mean average precision over
labels) needs no threshold. Baselines: answering every label for every image (all-positive), and none.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np


def multi_label_metrics(
    y_true: np.ndarray, probabilities: np.ndarray, classes: Sequence[str], thresholds: Sequence[float]
) -> dict[str, Any]:
    """``metrics.json``'s figures for multi-hot ``y_true`` ``(n, labels)`` and sigmoid ``probabilities``."""
    from sklearn.metrics import average_precision_score, f1_score, hamming_loss, precision_recall_fscore_support

    truth = np.asarray(y_true) > 0.5
    probs = np.asarray(probabilities, np.float64)
    decided = probs >= np.asarray(thresholds, np.float64)[None, :]
    precision, recall, f1, support = precision_recall_fscore_support(truth, decided, average=None, zero_division=0)
    present = np.asarray(truth.any(axis=0), bool)  # AP is undefined for a label with no positive image
    ap = [float(average_precision_score(truth[:, k], probs[:, k])) if present[k] else None for k in range(len(classes))]
    clipped = np.clip(probs, 1e-7, 1 - 1e-7)
    return {
        "multi_label": True,
        "classes": list(classes),
        "num_samples": int(len(truth)),
        "micro_f1": float(f1_score(truth, decided, average="micro", zero_division=0)),
        "macro_f1": float(f1_score(truth[:, present], decided[:, present], average="macro", zero_division=0)),
        "mAP": float(np.mean([a for a in ap if a is not None])) if present.any() else None,
        "micro_mAP": float(average_precision_score(truth.ravel(), probs.ravel())) if truth.any() else None,
        "micro_f1_at_0.5": float(f1_score(truth, probs >= 0.5, average="micro", zero_division=0)),
        "subset_accuracy": float((decided == truth).all(axis=1).mean()),
        "hamming_loss": float(hamming_loss(truth, decided)),
        "label_cardinality": float(truth.sum(axis=1).mean()),
        "predicted_cardinality": float(decided.sum(axis=1).mean()),
        "val_loss": float(-(truth * np.log(clipped) + ~truth * np.log(1 - clipped)).mean()),
        "baselines": {
            "all_positive_micro_f1": float(f1_score(truth, np.ones_like(truth), average="micro", zero_division=0)),
            "all_negative_micro_f1": 0.0,
        },
        "thresholds": [float(t) for t in thresholds],
        "per_label": {
            name: {
                "precision": float(precision[k]),
                "recall": float(recall[k]),
                "f1": float(f1[k]),
                "ap": ap[k],
                "support": int(support[k]),
                "threshold": float(thresholds[k]),
            }
            for k, name in enumerate(classes)
        },  # fmt: skip
        "cooccurrence": (truth.T.astype(np.int64) @ truth.astype(np.int64)).tolist(),
    }


def worst_errors(
    y_true: np.ndarray,
    probabilities: np.ndarray,
    classes: Sequence[str],
    thresholds: Sequence[float],
    paths: Sequence[str | os.PathLike[str]] | None,
    count: int = 8,
) -> dict[str, list[dict[str, Any]]]:
    """The surest wrong decisions: labels given to images that lack them (false positives, highest probability
    first) and labels missed (false negatives, lowest first)."""
    truth = np.asarray(y_true) > 0.5
    probs = np.asarray(probabilities, np.float64)
    decided = probs >= np.asarray(thresholds, np.float64)[None, :]
    found: dict[str, list[dict[str, Any]]] = {}
    for kind, mask, order in (("false_positives", decided & ~truth, -1), ("false_negatives", ~decided & truth, 1)):
        rows, labels = np.nonzero(mask)
        ranked = np.argsort(order * probs[rows, labels], kind="stable")[:count]
        found[kind] = [
            {"path": os.fspath(paths[rows[i]]) if paths is not None else None, "label": classes[labels[i]],
             "probability": float(probs[rows[i], labels[i]]),
             "labels": [c for c, on in zip(classes, truth[rows[i]]) if on]}
            for i in ranked
        ]  # fmt: skip
    return found
