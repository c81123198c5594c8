"""The head on frozen features, fitted as the convex problem it is: multinomial logistic regression (one binary
logistic regression per label for a multi-label head: :func:`fit_multi_label`).

With the backbone frozen, the head (dropout, then a softmax ``Dense``) is a linear model on pooled
features, so L-BFGS finds its optimum in seconds where epochs of Adam only approach it. The strength of the
L2 penalty is chosen on the validation features (without them, by 3-fold cross-validation on the training
features); the solution is put into the Keras head, so the saved model has the same form as one trained
with ``fit``. Features are divided by one number, their root mean square, so that a penalty means the same
for every backbone; not standardised per feature, which measured 2-3 points worse on pooled features (it
inflates the many near-silent ones): see the README.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: Inverse L2 strengths tried, weakest penalty last (scikit-learn's ``C``, on features of unit RMS).
C_GRID = (0.03, 0.1, 0.3, 1.0, 3.0, 10.0)


@dataclass
class LinearHead:
    """``kernel`` ``(dim, classes)`` and ``bias`` ``(classes,)`` of a softmax ``Dense`` on raw features, the
    chosen ``C`` and the scores (validation ones when validation features were given) of each ``C`` tried."""

    kernel: np.ndarray
    bias: np.ndarray
    C: float
    scores: dict[float, tuple[float, float]] = field(default_factory=dict)  # C -> (accuracy, log loss)
    multi_label: bool = False  # sigmoid per label (accuracy in scores: micro F1 at 0.5)

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        logits = np.asarray(features, np.float64) @ self.kernel + self.bias
        if self.multi_label:
            return np.asarray(1 / (1 + np.exp(-np.clip(logits, -60, 60))), np.float32)
        logits -= logits.max(axis=1, keepdims=True)
        exp = np.exp(logits)
        return np.asarray(exp / exp.sum(axis=1, keepdims=True), np.float32)


def class_indices(labels: np.ndarray) -> np.ndarray:
    """Integer class labels from integer or one-hot labels."""
    labels = np.asarray(labels)
    return labels.argmax(axis=-1) if labels.ndim == 2 else labels.astype(np.int64)


def fit_logistic(
    features: np.ndarray,
    labels: np.ndarray,
    num_classes: int,
    val_features: np.ndarray | None = None,
    val_labels: np.ndarray | None = None,
    *,
    class_weight: dict[int, float] | None = None,
    grid: tuple[float, ...] = C_GRID,
) -> LinearHead:
    """The softmax head for ``features`` ``(n, dim)`` and ``labels`` (integer or one-hot): L-BFGS over the
    ``grid`` of penalties, best validation accuracy (then log loss) wins; the weights come from the
    training features only. Classes absent from the training labels get a bias of -30 (never predicted)."""
    from threadpoolctl import threadpool_limits

    x = np.asarray(features, np.float64)
    y = class_indices(labels)
    scale = float(np.sqrt(np.mean(x**2))) or 1.0
    z = x / scale
    if val_features is not None and val_labels is not None and len(val_labels):
        vz = np.asarray(val_features, np.float64) / scale
        folds = [(np.arange(len(y)), vz, class_indices(val_labels))]
    else:
        folds = _cross_validation(z, y)

    with threadpool_limits(1):  # a small problem: a second thread only waits (10x slower on a busy machine)
        fitted, best, scores = _search(z, y, num_classes, folds, grid, class_weight)
    kernel = np.zeros((z.shape[1], num_classes))
    bias = np.full(num_classes, -30.0)
    coef, intercept = fitted.coef_, fitted.intercept_
    if len(fitted.classes_) == 2:  # scikit-learn keeps one row for two classes: logits (0, w.x + b)
        coef, intercept = np.vstack([-coef / 2, coef / 2]), np.array([-intercept[0] / 2, intercept[0] / 2])
    for row, cls in enumerate(fitted.classes_):
        kernel[:, cls] = coef[row] / scale
        bias[cls] = intercept[row]
    return LinearHead(kernel.astype(np.float32), bias.astype(np.float32), float(best), scores)


def fit_multi_label(
    features: np.ndarray,
    labels: np.ndarray,
    val_features: np.ndarray | None = None,
    val_labels: np.ndarray | None = None,
    *,
    grid: tuple[float, ...] = C_GRID,
    pos_weight: np.ndarray | None = None,
) -> LinearHead:
    """The sigmoid head for multi-hot ``labels`` ``(n, labels)``: one L2-penalised logistic regression per
    label, one ``C`` for all, chosen by the validation features' binary cross-entropy (3 folds of the training
    features without them). A label always (or never) on in training gets a constant logit of +-30.
    ``pos_weight``: each label's positive images weighted so (:func:`transferkit.data.label_weights`)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import KFold
    from threadpoolctl import threadpool_limits

    x = np.asarray(features, np.float64)
    y = np.asarray(labels) > 0.5
    scale = float(np.sqrt(np.mean(x**2))) or 1.0
    z = x / scale
    if val_features is not None and val_labels is not None and len(val_labels):
        folds = [(np.arange(len(y)), np.asarray(val_features, np.float64) / scale, np.asarray(val_labels) > 0.5)]
    elif len(y) >= 6:
        folds = [(rows, z[held], y[held]) for rows, held in KFold(3, shuffle=True, random_state=0).split(z)]
    else:
        folds = [(np.arange(len(y)), z, y)]

    def fit(rows: np.ndarray, C: float, models: list[Any]) -> tuple[np.ndarray, np.ndarray]:
        kernel, bias = np.zeros((z.shape[1], y.shape[1])), np.zeros(y.shape[1])
        for k in range(y.shape[1]):
            target = y[rows, k]
            if target.all() or not target.any():
                bias[k] = 30.0 if target.all() else -30.0
                continue
            models[k].set_params(C=C).fit(z[rows], target)
            kernel[:, k], bias[k] = models[k].coef_[0], models[k].intercept_[0]
        return kernel, bias

    weights = [None] * y.shape[1] if pos_weight is None else [{False: 1.0, True: float(w)} for w in pos_weight]

    def new() -> list[Any]:
        return [LogisticRegression(max_iter=1000, tol=1e-5, warm_start=True, class_weight=w) for w in weights]

    scores: dict[float, tuple[float, float]] = {}
    per_fold = [new() for _ in folds]
    with threadpool_limits(1):
        for C in sorted(grid):
            results = []
            for models, (rows, vz, vy) in zip(per_fold, folds):
                kernel, bias = fit(rows, C, models)
                p = np.clip(1 / (1 + np.exp(-np.clip(vz @ kernel + bias, -60, 60))), 1e-7, 1 - 1e-7)
                loss = float(-(vy * np.log(p) + ~vy * np.log(1 - p)).mean())
                results.append((micro_f1(vy, p >= 0.5), loss))
            scores[C] = (float(np.mean([f for f, _ in results])), float(np.mean([loss for _, loss in results])))
        best = min(grid, key=lambda C: (scores[C][1], -scores[C][0]))
        kernel, bias = fit(np.arange(len(y)), best, new())
    return LinearHead((kernel / scale).astype(np.float32), bias.astype(np.float32), float(best), scores, True)


def micro_f1(truth: np.ndarray, predicted: np.ndarray) -> float:
    """F1 over every (image, label) decision of boolean arrays: ``2 TP / (positives + predicted positives)``."""
    true_positive = float((truth & predicted).sum())
    return 2 * true_positive / max(float(truth.sum() + predicted.sum()), 1.0)


def _search(
    z: np.ndarray, y: np.ndarray, num_classes: int, folds: list[Any], grid: tuple[float, ...], class_weight: Any
) -> tuple[Any, float, dict[float, tuple[float, float]]]:
    """Fit every ``C`` of the grid on every fold, strongest penalty first, each fit starting from the last
    one's solution (warm start: a few L-BFGS steps instead of hundreds); the best ``C``'s model on all of
    ``z`` (the held-out fold's own when validation was given), that ``C`` and every score."""
    from sklearn.linear_model import LogisticRegression

    models = [LogisticRegression(max_iter=1000, tol=1e-5, class_weight=class_weight, warm_start=True) for _ in folds]
    scores: dict[float, tuple[float, float]] = {}
    kept: dict[float, Any] = {}
    for C in sorted(grid):
        results = []
        for model, (rows, vx, vy) in zip(models, folds):
            model.set_params(C=C).fit(z[rows], y[rows])
            results.append(_score(model, vx, vy, num_classes))
        scores[C] = (float(np.mean([a for a, _ in results])), float(np.mean([loss for _, loss in results])))
        if len(folds) == 1 and len(folds[0][0]) == len(y):  # trained on all of z already
            kept[C] = copy.deepcopy(models[0])
    best = max(grid, key=lambda C: (scores[C][0], -scores[C][1]))
    fitted = kept.get(best) or LogisticRegression(C=best, max_iter=1000, tol=1e-5, class_weight=class_weight).fit(z, y)
    return fitted, best, scores


def _cross_validation(z: np.ndarray, y: np.ndarray) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Three stratified folds (fewer when a class has fewer images; none: the training set scores itself)."""
    from sklearn.model_selection import StratifiedKFold

    splits = min(3, int(np.bincount(y).min()) if len(y) else 1)
    if splits < 2:
        return [(np.arange(len(y)), z, y)]
    kfold = StratifiedKFold(splits, shuffle=True, random_state=0)
    return [(rows, z[held], y[held]) for rows, held in kfold.split(z, y)]


def _score(fitted: Any, x: np.ndarray, y: np.ndarray, num_classes: int) -> tuple[float, float]:
    """Accuracy and mean log loss of a fitted scikit-learn model on (x, y), over all ``num_classes``."""
    probs = np.full((len(y), num_classes), 1e-12)
    probs[:, fitted.classes_] = np.maximum(fitted.predict_proba(x), 1e-12)
    accuracy = float((probs.argmax(axis=1) == y).mean())
    loss = float(-np.log(probs[np.arange(len(y)), y] / probs.sum(axis=1)).mean())
    return accuracy, loss
