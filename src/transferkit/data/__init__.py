"""Images and training data: decoding and fitting photos (``images``), scanning messy class folders
(``scan``, ``skips``), threaded decoding with the augmentation warp fused in (``decode``, ``affine``),
named augmentations (``augment``), the datasets (``datasets``) and a real sample folder (``samples``).

``image_folder`` and ``image_table`` return :class:`ImageDataset`, a ``keras.utils.PyDataset`` of float32
0-255 RGB batches; importing this package imports Keras. It builds on :mod:`transferkit.config` and
:mod:`transferkit.errors` only: no model code, no zoo.
"""

from __future__ import annotations

from .._compat.backend import import_keras

import_keras()

from ..errors import SkippedFileWarning as SkippedFileWarning  # noqa: E402
from .augment import Augmenter as Augmenter  # noqa: E402
from .datasets import (  # noqa: E402
    ImageDataset as ImageDataset,
    class_weights as class_weights,
    image_folder as image_folder,
    image_table as image_table,
    stratified_split as stratified_split,
)
