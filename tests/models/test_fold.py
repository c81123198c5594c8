"""BatchNorm folded into convolutions: the same outputs and the same gradients, on the model's own variables."""

from __future__ import annotations

import numpy as np
import pytest

from transferkit import ImageClassifier
from transferkit.models.fold import FoldedConvBN, fold
from transferkit.train.partial import cut_index, split


def _grads(model: object, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    import torch

    out = model(torch.from_numpy(x), training=False)  # type: ignore[operator]
    loss = ((out - torch.from_numpy(y)) ** 2).mean()
    variables = model.trainable_variables  # type: ignore[attr-defined]
    grads = torch.autograd.grad(loss, [v.value for v in variables])
    return out.detach().numpy(), [g.numpy() for g in grads]


@pytest.fixture(scope="module")
def classifier() -> ImageClassifier:
    clf = ImageClassifier.from_pretrained(classes=list("abcd"), input_shape=(96, 96, 3), seed=0)
    clf.unfreeze(0.3)
    return clf


def test_the_folded_top_computes_what_the_top_computes_with_the_same_gradients(classifier: ImageClassifier) -> None:
    import keras

    backbone = classifier.backbone
    layers = backbone.operations
    index = cut_index(backbone)
    plain = keras.Model(layers[index].output, backbone.output)
    folded = fold(plain)
    assert sum(isinstance(layer, FoldedConvBN) for layer in folded.layers) >= 10
    assert {id(v) for v in folded.trainable_variables} == {id(v) for v in plain.trainable_variables}
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4, *plain.input.shape[1:])).astype(np.float32)
    y = rng.normal(size=(4, *plain.output.shape[1:])).astype(np.float32)
    out, grads = _grads(plain, x, y)
    out_f, grads_f = _grads(folded, x, y)
    np.testing.assert_allclose(out_f, out, rtol=1e-4, atol=1e-4 * np.abs(out).max())
    for g, g_f in zip(grads, grads_f):
        np.testing.assert_allclose(g_f, g, rtol=1e-3, atol=1e-3 * np.abs(g).max())


def test_folding_leaves_the_backbone_and_its_cut_as_they_were(classifier: ImageClassifier) -> None:
    first = split(classifier)
    again = split(classifier)  # the shared layers have been called in the first split's folded graphs
    assert first.cut == again.cut and first.fraction == again.fraction > 0.5
    below = next(layer for layer in first.bottom.layers if hasattr(layer, "layers"))
    assert sum(isinstance(layer, FoldedConvBN) for layer in below.layers) >= 30


def test_a_convolution_read_twice_is_not_folded() -> None:
    import keras

    inputs = keras.Input((8, 8, 3))
    conv = keras.layers.Conv2D(4, 3, padding="same", use_bias=False)(inputs)
    norm = keras.layers.BatchNormalization()(conv)
    model = keras.Model(inputs, keras.layers.Concatenate()([norm, conv]))
    model.layers[2].set_weights([np.full(4, v, np.float32) for v in (1.5, 0.2, 0.3, 2.0)])
    folded = fold(model)
    assert not any(isinstance(layer, FoldedConvBN) for layer in folded.layers)
    x = np.random.default_rng(1).normal(size=(2, 8, 8, 3)).astype(np.float32)
    np.testing.assert_allclose(folded.predict_on_batch(x), model.predict_on_batch(x), atol=1e-6)
