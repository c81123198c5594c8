"""Temperature scaling fit after training: one number ``T`` that makes the classifier's probabilities honest.

A fine-tuned network is usually over-confident: 95% answers that are right 80% of the time. Temperature
scaling (Guo et al., 2017) divides its logits by one scalar ``T`` fit by minimising the negative
log-likelihood on held-out images; it never changes the predicted class, so accuracy is untouched. The
model outputs probabilities, so their logarithms stand for the logits (softmax is invariant to the constant
that separates them). Applying ``T`` is :func:`transferkit.runtime.confidence.apply_temperature`.

Which images: the validation set, all of it, for the saved ``T``. The same images chose the epoch kept
(and the head's settings), which makes their loss a little optimistic and so ``T`` a little too small --
one parameter that cannot reorder classes overfits little, and a held-out slice would take images from
both the selection and the fit. So that the reported figure is not flattered by that fit,
:func:`calibrate` measures the error *after* scaling out of fold: each half of the validation images is
scaled by the ``T`` fit on the other half (a plain in-sample figure when there are too few images).

:func:`fit_familiarity` is the other after-training fit: the out-of-distribution score's training features
and threshold (:mod:`transferkit.runtime.familiar`).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from ..runtime import familiar
from ..runtime.confidence import apply_temperature

#: Fewer validation images than this: ``ece_after`` is measured on the images ``T`` was fit on.
MIN_CROSS_FIT = 20
#: ``log T`` is searched in this range: T from about 0.05 to 20.
_LOG_T_RANGE = (-3.0, 3.0)


class Calibration(NamedTuple):
    """The fitted ``temperature``, the validation probabilities scaled ``out_of_fold``, and how (``note``)."""

    temperature: float
    out_of_fold: np.ndarray
    note: str


def negative_log_likelihood(probabilities: np.ndarray, labels: np.ndarray, temperature: float) -> float:
    """Mean NLL of the true classes after scaling by ``temperature``."""
    scaled = apply_temperature(probabilities, temperature)
    picked = scaled[np.arange(len(labels)), labels]
    return float(-np.mean(np.log(np.clip(picked, 1e-12, None))))


def fit_temperature(probabilities: np.ndarray, labels: np.ndarray | list[int]) -> float:
    """The ``T`` minimising the NLL of ``softmax(log(probabilities) / T)``; 1.0 when there is nothing to fit
    on: no images, or every one right (the NLL then only falls as ``T`` goes to 0, which would make every
    answer 100% sure on the strength of a validation set too easy to tell)."""
    from scipy.optimize import minimize_scalar

    probs, truth = np.asarray(probabilities, np.float64), np.asarray(labels, np.int64)
    if len(probs) == 0 or (probs.argmax(axis=1) == truth).all():
        return 1.0
    found = minimize_scalar(
        lambda log_t: negative_log_likelihood(probs, truth, float(np.exp(log_t))),
        bounds=_LOG_T_RANGE,
        method="bounded",
        options={"xatol": 1e-4},
    )
    temperature = float(np.exp(found.x))
    # the optimiser's answer only when it beats no scaling at all (a flat NLL can leave it anywhere)
    if negative_log_likelihood(probs, truth, temperature) >= negative_log_likelihood(probs, truth, 1.0):
        return 1.0
    return round(temperature, 4)


def calibrate(probabilities: np.ndarray, labels: np.ndarray | list[int], seed: int = 0) -> Calibration:
    """Fit ``T`` on all the images, and scale each half by the ``T`` of the other half (see the module)."""
    probs, truth = np.asarray(probabilities, np.float64), np.asarray(labels, np.int64)
    temperature = fit_temperature(probs, truth)
    if len(probs) < MIN_CROSS_FIT:
        note = f"Fit and measured on the same {len(probs)} validation images (too few to hold any out)."
        return Calibration(temperature, apply_temperature(probs, temperature), note)
    half = np.zeros(len(probs), bool)
    half[np.random.default_rng(seed).permutation(len(probs))[: len(probs) // 2]] = True
    scaled = np.empty_like(probs)
    for fit_on in (half, ~half):
        scaled[~fit_on] = apply_temperature(probs[~fit_on], fit_temperature(probs[fit_on], truth[fit_on]))
    note = (
        "T is fit on all the validation images (which also chose the epoch kept); the error after scaling is "
        "measured out of fold: each half of them scaled by the T fit on the other half."
    )
    return Calibration(temperature, scaled, note)


def precision_thresholds(
    probabilities: np.ndarray, labels: np.ndarray | list[int], target: float, classes: int
) -> list[float | None]:
    """Per class, the lowest top-class probability at which answering that class was right at least ``target``
    of the time on these images (``train --target-precision``); None where no threshold reaches it (the class
    is never predicted, or too often wrongly): then that class is always answered ``unsure``."""
    probs, truth = np.asarray(probabilities, np.float64), np.asarray(labels, np.int64)
    predicted, confidence = probs.argmax(axis=1), probs.max(axis=1)
    found: list[float | None] = []
    for c in range(classes):
        order = np.argsort(-confidence[predicted == c], kind="stable")
        sure = confidence[predicted == c][order]
        right = (truth[predicted == c] == c)[order]
        precision = np.cumsum(right) / np.arange(1, len(right) + 1)  # of the k most confident answers
        reached = np.flatnonzero(precision >= target)
        found.append(round(float(sure[reached[-1]]), 6) if len(reached) else None)
    return found


def f1_thresholds(probabilities: np.ndarray, labels: np.ndarray) -> list[float]:
    """Per label of a multi-label model, the decision threshold with the best F1 on these images (multi-hot
    ``labels``): each image's probability is tried as the threshold, halfway down to the next lower one, and
    ties go to the threshold nearest 0.5; 0.5 for a label without positive images."""
    probs, truth = np.asarray(probabilities, np.float64), np.asarray(labels) > 0.5
    found = []
    for k in range(probs.shape[1]):
        positives = int(truth[:, k].sum())
        if positives == 0:
            found.append(0.5)
            continue
        order = np.argsort(-probs[:, k], kind="stable")
        sorted_probs, hits = probs[order, k], truth[order, k]
        true_positives = np.cumsum(hits)  # taking the i+1 most probable images
        f1 = 2 * true_positives / (positives + np.arange(1, len(hits) + 1))
        lower = np.append(sorted_probs[1:], 0.0)
        cuts = (sorted_probs + lower) / 2  # between the last image taken and the next
        best = np.flatnonzero(np.isclose(f1, f1.max()))
        found.append(round(float(cuts[best[np.argmin(np.abs(cuts[best] - 0.5))]]), 6))
    return found


def fit_familiarity(
    classifier: Any, train: Any, validation: Any, seed: int = 0, features: tuple[Any, Any] | None = None
) -> dict[str, Any]:
    """Give ``classifier`` its out-of-distribution score (:mod:`transferkit.runtime.familiar`): the features of
    up to ``BANK_SIZE`` images of the ``train`` dataset and a threshold from the ``validation`` dataset's.
    ``features``: those two sets of features already computed (the feature cache gives them), else the model
    computes them. Returns what ``metrics.json`` records of it, with the validation files it flags.
    ``transferkit train`` calls it after calibration."""
    plain_val = validation.without_augmentation()
    if features is None:
        plain_train = train.without_augmentation()
        kept = plain_train.subset(familiar.sample(plain_train.labels, seed), shuffle=False, augment=None)
        train_features, val_features = (np.asarray(classifier.with_features.predict(data, verbose=0)[1])
                                        for data in (kept, plain_val))  # fmt: skip
    else:
        train_features, val_features = features
    found = classifier.familiar = familiar.fit(train_features, val_features)
    flagged = [f for f, s in zip(plain_val.usable_files, found.scores(val_features)) if s > found.threshold]
    return {**found.info(), "unfamiliar_validation_images": flagged}
