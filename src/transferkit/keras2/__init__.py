"""The Keras 2 compatibility surface, fenced off: ``ImageDataGenerator`` and its iterators, and the article's
in-place model constructors (``InceptionV3(weights="imagenet")`` ... as :class:`PretrainedModel`).

Keras 3 removed both; code written for Keras 2 (and the article) runs on them unchanged. Built on
:mod:`transferkit.data` (decoding, scanning, the warp) and :mod:`transferkit.models` (building, surgery);
nothing in transferkit below this package depends on it. Importing it imports Keras.
"""

from __future__ import annotations

from .._compat.backend import import_keras

import_keras()

from .applications import PretrainedModel as PretrainedModel, pretrained_model as pretrained_model  # noqa: E402
from .generator import ImageDataGenerator as ImageDataGenerator  # noqa: E402
from .iterators import (  # noqa: E402
    DataFrameIterator as DataFrameIterator,
    DirectoryIterator as DirectoryIterator,
    Iterator as Iterator,
    NumpyArrayIterator as NumpyArrayIterator,
)
