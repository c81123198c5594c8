"""Images and training data: decoding and fitting photos (``images``), scanning messy class folders
(``scan``, ``skips``), threaded decoding with the augmentation warp fused in (``decode``, ``affine``),
named augmentations (``augment``), near-duplicate groups (``groups``), validation splits (``splits``), the
datasets (``datasets``) and a real sample folder (``samples``).

``image_folder`` and ``image_table`` return :class:`ImageDataset`, a ``keras.utils.PyDataset`` of float32
0-255 RGB batches. Only ``datasets`` and ``augment`` import Keras, when first used: decoding and scanning
(``images``, ``scan``, ``decode``) serve the ONNX path (``transferkit evaluate model.onnx``) without it.
It builds on :mod:`transferkit.config` and :mod:`transferkit.errors` only: no model code, no zoo.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ..errors import SkippedFileWarning as SkippedFileWarning

if TYPE_CHECKING:
    from .augment import Augmenter as Augmenter
    from .datasets import (
        ImageDataset as ImageDataset,
        class_weights as class_weights,
        image_folder as image_folder,
        image_table as image_table,
        label_weights as label_weights,
    )
    from .splits import (
        iterative_split as iterative_split,
        shard_order as shard_order,
        stratified_split as stratified_split,
    )

_LAZY = {
    "Augmenter": "augment",
    "ImageDataset": "datasets",
    "class_weights": "datasets",
    "image_folder": "datasets",
    "image_table": "datasets",
    "label_weights": "datasets",
    "iterative_split": "splits",
    "shard_order": "splits",
    "stratified_split": "splits",
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'transferkit.data' has no attribute '{name}'")
    value = getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    globals()[name] = value
    return value
