"""The Keras fixes give the same outputs and gradients as Keras's own code, layer kind by layer kind."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest
from PIL import Image

from helpers import python
from transferkit._compat import keras_fixes as _keras_fixes
from transferkit._compat.backend import import_keras

keras = import_keras()
pytestmark = pytest.mark.skipif(keras.backend.backend() != "torch", reason="the backport is for the torch backend")

L = keras.layers
LAYERS: dict[str, Callable[[], Any]] = {
    "conv": lambda: L.Conv2D(8, 3, strides=2, padding="same"),
    "conv_dilated": lambda: L.Conv2D(4, 3, dilation_rate=2),
    "depthwise": lambda: L.DepthwiseConv2D(3, padding="same"),
    "depthwise_5x5": lambda: L.DepthwiseConv2D(5, padding="same"),  # kernel gradient in 3-column tiles
    "depthwise_7x5_valid": lambda: L.DepthwiseConv2D((7, 5)),
    "depthwise_7x7_strided": lambda: L.DepthwiseConv2D(7, strides=2, padding="same"),  # Keras's own
    "separable": lambda: L.SeparableConv2D(8, 3, padding="same"),
    "conv_transpose": lambda: L.Conv2DTranspose(4, 3, strides=2, padding="same"),
    "max_pool": lambda: L.MaxPooling2D(3, strides=2, padding="same"),
    "average_pool": lambda: L.AveragePooling2D(2, padding="same"),
    "conv1d": lambda: L.Conv1D(4, 3, padding="same"),
}


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    """A real photo (scikit-image's cat), small, 0-1, as a batch of two."""
    from skimage import data

    small = np.asarray(Image.fromarray(data.chelsea()).resize((48, 32)), np.float32) / 255
    return np.stack([small, small[:, ::-1]])


@contextlib.contextmanager
def keras_own_code() -> Iterator[None]:
    from keras.src.backend.torch import nn

    fixed = nn._transpose_spatial_inputs, nn.depthwise_conv
    nn._transpose_spatial_inputs = _keras_fixes.original_transpose()
    nn.depthwise_conv = _keras_fixes.original_depthwise()
    try:
        yield
    finally:
        nn._transpose_spatial_inputs, nn.depthwise_conv = fixed


def run(layer: Any, x: np.ndarray, strided: bool) -> tuple[np.ndarray, list[np.ndarray]]:
    """The layer's output and the gradients of a random weighting of it with respect to the input and the
    layer's weights; ``strided`` feeds the layer every other row, a view that is not contiguous in memory."""
    import torch

    inputs = torch.tensor(x, requires_grad=True)
    out = layer(inputs[:, ::2] if strided else inputs)
    weighting = torch.tensor(np.random.default_rng(0).normal(size=tuple(out.shape)), dtype=out.dtype)
    wrt = [inputs, *(w.value for w in layer.trainable_weights)]
    grads = torch.autograd.grad((out * weighting).sum(), wrt)
    return out.detach().numpy(), [g.numpy() for g in grads]


def test_active_on_this_keras() -> None:
    """Keras 3.15 lacks the fix, so the backport is in place (when a Keras release has it, this says so)."""
    from keras.src.backend.torch import nn

    assert _keras_fixes.apply(keras), "the installed Keras has the fix: delete _keras_fixes and this test"
    assert nn._transpose_spatial_inputs is not _keras_fixes.original_transpose()
    assert nn.depthwise_conv is not _keras_fixes.original_depthwise()


@pytest.mark.parametrize("kind", list(LAYERS))
@pytest.mark.parametrize("strided", [False, True], ids=["contiguous", "strided-view"])
def test_same_outputs_and_gradients_as_keras(photo: np.ndarray, kind: str, strided: bool) -> None:
    x = photo.mean(axis=1) if kind == "conv1d" else photo  # (batch, width, channels)
    layer = LAYERS[kind]()
    layer.build((None, *x[:, ::2].shape[1:]) if strided else x.shape)
    ours, our_grad = run(layer, x, strided)
    with keras_own_code():
        theirs, their_grad = run(layer, x, strided)
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)
    for a, b in zip(our_grad, their_grad, strict=True):  # the input's, then each weight's
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5 * max(0.1, float(np.abs(b).max())))  # float sums
    assert np.abs(ours).max() > 0  # the layer did compute something


def test_wide_depthwise_kernels_train_through_the_tiles(photo: np.ndarray) -> None:
    """The tiled kernel gradient is what a trainable 5x5 depthwise convolution uses; prediction is Keras's own."""
    import torch

    layer = L.DepthwiseConv2D(5, padding="same", use_bias=False)

    def convolution() -> str:  # the step before the NCHW -> NHWC permutation
        return type(layer(torch.tensor(photo)).grad_fn.next_functions[0][0]).__name__

    assert convolution() == "TiledDepthwiseConvBackward"
    with torch.no_grad():
        assert layer(torch.tensor(photo)).grad_fn is None
    layer.trainable = False
    assert layer(torch.tensor(photo)).grad_fn is None  # nothing to train: no graph


def test_lite0_predicts_the_same_with_and_without(chelsea: Any) -> None:
    from transferkit import load_pretrained
    from transferkit.data import images

    model = load_pretrained("efficientnet_lite0")
    x = images.load(chelsea, (224, 224), 0.875)[None]
    ours = np.asarray(model.predict_on_batch(x))
    with keras_own_code():
        theirs = np.asarray(model.predict_on_batch(x))
    np.testing.assert_allclose(ours, theirs, atol=1e-6)
    assert 281 <= int(ours.argmax()) <= 285


def test_switched_off_by_the_environment() -> None:
    """This process has the backport on (test_active_on_this_keras); a process with the variable at 0 has not."""
    code = (
        "import transferkit._compat.backend as b; b.import_keras(); from keras.src.backend.torch import nn; "
        "print(nn._transpose_spatial_inputs.__module__)"
    )
    from keras.src.backend.torch import nn

    assert nn._transpose_spatial_inputs.__module__ == "transferkit._compat.keras_fixes"
    off = python(code, KERAS_BACKEND="torch", **{_keras_fixes.ENV: "0"})
    assert off.stdout.strip() == "keras.src.backend.torch.nn", off.stderr
