"""The convex head: scikit-learn's multinomial logistic regression, its penalty chosen on validation data,
turned into the weights of a softmax Dense on the raw features."""

from __future__ import annotations

import numpy as np
import pytest

from transferkit.train.linear import C_GRID, fit_logistic


def _blobs(n: int, classes: int, dim: int = 20, seed: int = 0, noise: float = 2.0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(classes, dim)) * 2 + 5  # not centred, not unit scale: the scaling matters
    y = rng.integers(0, classes, n)
    return centres[y] + rng.normal(size=(n, dim)) * noise, y


def test_the_head_reproduces_scikit_learns_model_on_raw_features() -> None:
    from sklearn.linear_model import LogisticRegression

    x, y = _blobs(300, 4)
    head = fit_logistic(x, y, 4, grid=(0.1,))
    scale = np.sqrt(np.mean(x**2))
    reference = LogisticRegression(C=0.1, max_iter=1000, tol=1e-5).fit(x / scale, y)
    np.testing.assert_allclose(head.probabilities(x), reference.predict_proba(x / scale), atol=1e-4)
    assert head.kernel.shape == (20, 4) and head.bias.shape == (4,)


def test_the_penalty_is_chosen_on_the_validation_features() -> None:
    x, y = _blobs(400, 3, noise=4.0)
    vx, vy = _blobs(300, 3, seed=1, noise=4.0)
    head = fit_logistic(x, y, 3, vx, vy)
    assert set(head.scores) == set(C_GRID) and head.C in C_GRID
    assert head.C == max(C_GRID, key=lambda C: (head.scores[C][0], -head.scores[C][1]))  # accuracy, then loss
    accuracy = float((head.probabilities(vx).argmax(axis=1) == vy).mean())
    assert accuracy == pytest.approx(head.scores[head.C][0], abs=1e-9)  # the refit on train is the scored model


def test_one_hot_labels_two_classes_and_a_missing_class() -> None:
    x, y = _blobs(200, 2)
    one_hot = np.eye(3)[y]  # a third class never seen in training
    head = fit_logistic(x, one_hot, 3)  # no validation: cross-validated
    probabilities = head.probabilities(x)
    assert probabilities.shape == (200, 3) and probabilities[:, 2].max() < 1e-6
    assert (probabilities.argmax(axis=1) == y).mean() > 0.9


def test_class_weights_change_the_solution() -> None:
    x, y = _blobs(200, 3, noise=5.0)
    plain = fit_logistic(x, y, 3, grid=(1.0,))
    weighted = fit_logistic(x, y, 3, grid=(1.0,), class_weight={0: 5.0, 1: 1.0, 2: 1.0})
    assert (weighted.probabilities(x).argmax(axis=1) == 0).sum() > (plain.probabilities(x).argmax(axis=1) == 0).sum()
