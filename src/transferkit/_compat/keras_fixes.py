"""Fixes for Keras on the torch backend that the released versions lack, applied once when transferkit first
imports Keras. Two today; both give the same outputs and gradients (``tests/_compat/test_keras_fixes.py``
checks each layer kind, with the gradients of inputs and weights).

1. A backport. Keras 3.15 copies the input of every convolution and pooling twice: NHWC -> NCHW with
   ``.contiguous()``, then back to channels-last memory for the convolution (keras-team/keras#23279; fixed
   upstream for convolutions by #23199, for pooling proposed in #23649). The NCHW view of an NHWC tensor
   already has channels-last strides, so asking for that memory format copies nothing. EfficientNet-Lite0
   measured about 1.5x faster in prediction and in training on 2 CPU cores (``python -m bench keras_fixes``).
   Stands aside when the installed Keras has the fix (its ``_transpose_spatial_inputs`` takes
   ``channels_last_memory_format``).
2. The kernel gradient of a depthwise convolution wider than 3 columns. oneDNN's depthwise kernel for the
   weight gradient covers kernels up to 3 columns wide; a 5x5 one falls to its generic grouped convolution,
   which pads every channel to a block of 16 (13-18 ms where a 5x3 takes 1.7, for Lite0's 1152 channels at
   7x7 and 32 images). Stride-1 depthwise convolutions on CPU in float32 therefore compute it as 3-column
   tiles of the kernel (two for 5x5, overlapping in the middle column), each a fast call on a window of the
   padded input; the input gradient and the forward pass are torch's own. A fine-tuning step of Lite0's
   top 30% measured 8-13% faster.

Nothing is changed when the backend is not torch or when ``TRANSFERKIT_KERAS_FIXES=0``.
"""

from __future__ import annotations

import functools
import inspect
from typing import Any

from .. import config

ENV = "TRANSFERKIT_KERAS_FIXES"
_state: dict[str, Any] = {}


def apply(keras: Any) -> bool:
    """Install the fixes that apply; returns whether any is active. Idempotent."""
    if "active" not in _state:
        _state["active"] = _install(keras)
    return bool(_state["active"])


def _install(keras: Any) -> bool:
    if keras.backend.backend() != "torch" or not config.keras_fixes():
        return False
    from keras.src.backend.torch import nn

    original = getattr(nn, "_transpose_spatial_inputs", None)
    if original is not None and "channels_last_memory_format" not in inspect.signature(original).parameters:
        _state["original"] = original
        nn._transpose_spatial_inputs = _transpose_keeping_memory(original)
    _state["original_depthwise"] = nn.depthwise_conv
    nn.depthwise_conv = _depthwise_conv(nn.depthwise_conv)
    return True


def _transpose_keeping_memory(original: Any) -> Any:
    import torch

    formats = {4: torch.channels_last, 5: torch.channels_last_3d}
    axes = {4: (0, 3, 1, 2), 5: (0, 4, 1, 2, 3)}

    def transpose_spatial_inputs(inputs: Any) -> Any:
        """NHWC -> NCHW as Keras's own, but kept in channels-last memory: no copy for a contiguous input."""
        if inputs.ndim not in formats:
            return original(inputs)
        return torch.permute(inputs, axes[inputs.ndim]).contiguous(memory_format=formats[inputs.ndim])

    return transpose_spatial_inputs


def _depthwise_conv(original: Any) -> Any:
    import torch
    from keras.src import backend
    from keras.src.backend.torch.core import convert_to_tensor

    def depthwise_conv(
        inputs: Any, kernel: Any, strides: Any = 1, padding: str = "valid", data_format: Any = None,
        dilation_rate: Any = 1,
    ) -> Any:  # fmt: skip
        """Keras's ``depthwise_conv``, with the kernel gradient in 3-column tiles where that is faster."""
        inputs, kernel = convert_to_tensor(inputs), convert_to_tensor(kernel)
        ones = (1, (1, 1), [1, 1])
        if not (
            torch.is_grad_enabled() and kernel.requires_grad and inputs.ndim == 4 and kernel.shape[1] > 3
            and kernel.shape[3] == 1 and strides in ones and dilation_rate in ones
            and (padding == "valid" or kernel.shape[0] % 2 == kernel.shape[1] % 2 == 1)
            and backend.standardize_data_format(data_format) == "channels_last"
            and inputs.device.type == kernel.device.type == "cpu" and inputs.dtype == kernel.dtype == torch.float32
        ):  # fmt: skip
            return original(inputs, kernel, strides, padding, data_format, dilation_rate)
        pads = (kernel.shape[0] // 2, kernel.shape[1] // 2) if padding == "same" else (0, 0)
        x = inputs.permute(0, 3, 1, 2).contiguous(memory_format=torch.channels_last)
        y = _tiled_function().apply(x, kernel.permute(2, 3, 0, 1), pads)  # kernel (kh, kw, C, 1) -> (C, 1, kh, kw)
        return y.permute(0, 2, 3, 1)

    return depthwise_conv


@functools.cache
def _tiled_function() -> Any:
    import torch
    import torch.nn.functional as F

    backward = torch.ops.aten.convolution_backward

    class TiledDepthwiseConv(torch.autograd.Function):
        """A stride-1 depthwise convolution (NCHW in channels-last memory) whose kernel gradient is computed
        in 3-column tiles."""

        @staticmethod
        def forward(ctx: Any, x: Any, weight: Any, pads: tuple[int, int]) -> Any:
            ctx.save_for_backward(x, weight)
            ctx.pads = pads
            return F.conv2d(x, weight, padding=pads, groups=x.shape[1])

        @staticmethod
        def backward(ctx: Any, grad: Any) -> Any:
            x, weight = ctx.saved_tensors
            grad = grad.contiguous(memory_format=torch.channels_last)
            channels, (rows, cols), (pad_rows, pad_cols) = x.shape[1], weight.shape[2:], ctx.pads
            grad_x = grad_w = None
            if ctx.needs_input_grad[0]:
                grad_x = backward(grad, x, weight, None, [1, 1], list(ctx.pads), [1, 1], False, [0, 0], channels,
                                  [True, False, False])[0]  # fmt: skip
            if ctx.needs_input_grad[1]:
                padded = F.pad(x, (pad_cols, pad_cols, 0, 0))
                width = grad.shape[3] + 2  # the input columns a 3-wide tile reads
                tile = weight.new_empty((channels, 1, rows, 3))
                grad_w = weight.new_empty(weight.shape)
                for left in sorted({*range(0, cols - 3, 3), cols - 3}):
                    grad_w[..., left : left + 3] = backward(
                        grad, padded[..., left : left + width], tile, None, [1, 1], [pad_rows, 0], [1, 1], False,
                        [0, 0], channels, [False, True, False],
                    )[1]  # fmt: skip
            return grad_x, grad_w, None

    return TiledDepthwiseConv


def original_transpose() -> Any:
    """Keras's own function, replaced by :func:`apply` (None when nothing was replaced); for tests and benchmarks."""
    return _state.get("original")


def original_depthwise() -> Any:
    """Keras's own ``depthwise_conv``, replaced by :func:`apply` (None when not); for tests and benchmarks."""
    return _state.get("original_depthwise")
