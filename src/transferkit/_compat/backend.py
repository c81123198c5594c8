"""Choosing the Keras backend: PyTorch unless the user chose, refusing one transferkit cannot train on.

Keras reads ``KERAS_BACKEND`` once, when it is first imported, so this must run before anything imports
Keras. Only the environment variable counts as the user's choice: Keras writes ``~/.keras/keras.json``
with ``"tensorflow"`` by itself on first import, so that file says nothing about what the user wants.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from ..errors import BackendError

DEFAULT_BACKEND = "torch"
SUPPORTED_BACKENDS = ("torch", "jax", "tensorflow")


def configure() -> None:
    """Set ``KERAS_BACKEND=torch`` unless chosen, or refuse a Keras already running on another backend."""
    keras = sys.modules.get("keras")  # None where a program has blocked it (Keras-free use of an export)
    if keras is not None:
        _check(keras.backend.backend())
    else:
        os.environ.setdefault("KERAS_BACKEND", DEFAULT_BACKEND)


def has_accelerator() -> bool:
    """Whether Keras computes on a GPU (or TPU) here rather than on the CPU cores."""
    import keras

    backend = keras.backend.backend()
    if backend == "torch":
        import torch

        return bool(torch.cuda.is_available())
    if backend == "jax":
        import jax

        return bool(jax.default_backend() != "cpu")
    import tensorflow as tf

    return bool(tf.config.list_physical_devices("GPU"))


def _check(backend: str) -> None:
    if backend not in SUPPORTED_BACKENDS:
        raise BackendError(
            f"Keras was imported with the '{backend}' backend, which cannot train models; transferkit supports "
            f"{', '.join(SUPPORTED_BACKENDS)}: set KERAS_BACKEND=torch or import transferkit before keras."
        )


def import_keras() -> Any:
    """Import Keras on a supported backend, with its fixes applied and glibc set to reuse freed memory.

    The subpackages that build or run models (``models``, ``data``, ``keras2``, ``train``, ``inference``,
    ``export``) call this first thing in their ``__init__``, so their modules simply ``import keras``.
    The import takes seconds: ``zoo``, ``report`` and ``cli`` never trigger it when imported.
    """
    configure()
    from . import allocator, keras_fixes

    allocator.keep_freed_memory()
    import keras

    _check(keras.backend.backend())
    keras_fixes.apply(keras)
    return keras
