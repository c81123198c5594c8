"""BatchNorm in inference mode folded into the convolution before it: the same outputs and gradients, fewer passes.

A ``BatchNormalization`` layer in inference mode is a per-channel affine map, ``y = x * s + t`` with
``s = gamma / sqrt(variance + epsilon)`` and ``t = beta - mean * s``. After a linear convolution it folds into
it: ``conv(x, W * s) + (b * s + t)``. The kernel stays the convolution's own variable -- the scale is applied to
it inside the call, a pass over the kernel instead of three over the activations -- so it trains exactly as
before (``dL/dW = s * dL/d(conv)``) and the classifier the layers belong to is the one that learns.
:func:`fold` rebuilds a functional model that way, sharing its layers; the model must only ever be called in
inference mode: the frozen bottom whose activations are cached (:mod:`transferkit.train.partial`). Measured on
2 CPU cores with EfficientNet-Lite0 at 224 px: the bottom's forward pass 1.2-1.6x faster (caching 35-48 against
28-30 images/s in the same runs). Not used for the top part that phase two trains: a training step measured no
faster (its backward passes dominate). Folded or not, the gradients agree except where float rounding moves a
value across a ReLU6 kink: on 96 px photos one value at -3.6e-7 unfolded and +2.3e-6 folded moved the first
block's one-step updates by up to 9% (each folded layer alone gives the same gradients).
"""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

CONVOLUTIONS = (keras.layers.Conv2D, keras.layers.DepthwiseConv2D)


class FoldedConvBN(keras.layers.Layer):
    """``norm(conv(x), training=False)`` as one convolution with the normalisation in its kernel and bias."""

    def __init__(self, conv: Any, norm: Any, **kwargs: Any) -> None:
        super().__init__(name=f"{conv.name}_{norm.name}_folded", **kwargs)
        self.conv, self.norm = conv, norm

    def call(self, x: Any) -> Any:
        conv, norm = self.conv, self.norm
        scale = ops.rsqrt(ops.add(norm.moving_variance, norm.epsilon))
        if norm.scale:
            scale = ops.multiply(scale, norm.gamma)
        shift = ops.negative(ops.multiply(norm.moving_mean, scale))
        if norm.center:
            shift = ops.add(shift, norm.beta)
        if conv.use_bias:
            shift = ops.add(shift, ops.multiply(conv.bias, scale))
        if isinstance(conv, keras.layers.DepthwiseConv2D):
            kernel = ops.multiply(conv.kernel, ops.reshape(scale, tuple(conv.kernel.shape[-2:])))
            y = ops.depthwise_conv(x, kernel, strides=conv.strides, padding=conv.padding,
                                   dilation_rate=conv.dilation_rate, data_format=conv.data_format)  # fmt: skip
        else:
            y = conv.convolution_op(x, ops.multiply(conv.kernel, scale))
        return ops.add(y, shift)

    def compute_output_shape(self, input_shape: Any) -> Any:
        return self.conv.compute_output_shape(input_shape)


def foldable(conv: Any, norm: Any) -> bool:
    """Whether ``norm`` after ``conv`` folds: a linear channels-last convolution, a last-axis float32
    normalisation."""
    if not (isinstance(conv, CONVOLUTIONS) and isinstance(norm, keras.layers.BatchNormalization)):
        return False
    axis = norm.axis if isinstance(norm.axis, int) else (norm.axis[0] if len(norm.axis) == 1 else None)
    return (
        conv.activation in (None, keras.activations.linear)
        and conv.data_format == "channels_last"
        and axis in (-1, len(conv.kernel.shape) - 1)
        and conv.compute_dtype == norm.compute_dtype == "float32"
    )


def fold(model: Any) -> Any:
    """A functional ``model`` with every BatchNorm that alone reads a convolution's output folded into it
    (:class:`FoldedConvBN`), sharing ``model``'s layers; ``model`` itself when there is none to fold."""
    if not any(isinstance(layer, keras.layers.BatchNormalization) for layer in model.layers):
        return model
    calls, readers = calls_and_readers(model)
    made: dict[int, tuple[Any, Any, Any]] = {}  # id(new conv output) -> (conv, its input, the output: kept alive)

    def call(layer: Any, *args: Any, **kwargs: Any) -> Any:
        source = made.get(id(args[0])) if args else None
        if source is not None and foldable(source[0], layer):
            return FoldedConvBN(source[0], layer)(source[1])
        out = layer(*args, **kwargs)
        if isinstance(layer, CONVOLUTIONS) and calls.get(id(layer)) == 1 and readers.get(id(layer)) == 1:
            made[id(out)] = (layer, args[0], out)
        return out

    return keras.models.clone_model(model, clone_function=lambda layer: layer, call_function=call)


def own_calls(model: Any, op: Any) -> list[Any]:
    """The nodes (calls) of ``op`` that belong to the functional ``model``: its layers may serve other models
    too (this module's folded copies do), whose calls are not the model's."""
    from keras.src.ops.function import make_node_key

    return [node for i, node in enumerate(op._inbound_nodes) if make_node_key(op, i) in model._nodes]


def calls_and_readers(model: Any) -> tuple[dict[int, int], dict[int, int]]:
    """By ``id`` of each operation of a functional ``model``: how many times the model calls it, and how many
    calls in the model read its outputs."""
    calls: dict[int, int] = {}
    readers: dict[int, int] = {}
    for op in model.operations:
        for node in own_calls(model, op):
            calls[id(op)] = calls.get(id(op), 0) + 1
            for tensor in node.input_tensors:
                producer = id(tensor._keras_history[0])
                readers[producer] = readers.get(producer, 0) + 1
    return calls, readers
