"""Backports of Keras fixes that the released Keras lacks, applied once when transferkit first imports Keras.

One today. On the torch backend, Keras 3.15 copies the input of every convolution and pooling twice:
NHWC -> NCHW with ``.contiguous()``, then back to channels-last memory for the convolution
(keras-team/keras#23279; fixed upstream for convolutions by #23199, for pooling proposed in #23649). The
NCHW view of an NHWC tensor already has channels-last strides, so asking for that memory format copies
nothing. Outputs are the same (``tests/_compat/test_keras_fixes.py`` checks each layer kind, with gradients), and
EfficientNet-Lite0 measured about 1.5x faster in prediction and in training on 2 CPU cores
(``python -m bench keras_fixes``).

Nothing is changed when the backend is not torch, when the installed Keras already has the fix (its
``_transpose_spatial_inputs`` takes ``channels_last_memory_format``), or when ``TRANSFERKIT_KERAS_FIXES=0``.
"""

from __future__ import annotations

import inspect
from typing import Any

from .. import config

ENV = "TRANSFERKIT_KERAS_FIXES"
_state: dict[str, Any] = {}


def apply(keras: Any) -> bool:
    """Install the backports if they apply; returns whether they are active. Idempotent."""
    if "active" not in _state:
        _state["active"] = _install(keras)
    return bool(_state["active"])


def _install(keras: Any) -> bool:
    if keras.backend.backend() != "torch" or not config.keras_fixes():
        return False
    from keras.src.backend.torch import nn

    original = getattr(nn, "_transpose_spatial_inputs", None)
    if original is None or "channels_last_memory_format" in inspect.signature(original).parameters:
        return False
    import torch

    formats = {4: torch.channels_last, 5: torch.channels_last_3d}
    axes = {4: (0, 3, 1, 2), 5: (0, 4, 1, 2, 3)}

    def transpose_spatial_inputs(inputs: Any) -> Any:
        """NHWC -> NCHW as Keras's own, but kept in channels-last memory: no copy for a contiguous input."""
        if inputs.ndim not in formats:
            return original(inputs)
        return torch.permute(inputs, axes[inputs.ndim]).contiguous(memory_format=formats[inputs.ndim])

    _state["original"] = original
    nn._transpose_spatial_inputs = transpose_spatial_inputs
    return True


def original_transpose() -> Any:
    """Keras's own function, replaced by :func:`apply` (None when nothing was replaced); for tests and benchmarks."""
    return _state.get("original")
