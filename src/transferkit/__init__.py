"""transferkit: pretrained image models on Keras 3, by name -- predict, fine-tune, evaluate.

Importing transferkit is light (it does not import Keras); it sets ``KERAS_BACKEND=torch`` unless the
user chose a backend, so it must be imported before Keras to choose for you.
"""

from __future__ import annotations

from . import _backend
from ._version import __version__ as __version__
from .errors import (
    BackendError as BackendError,
    DatasetError as DatasetError,
    HashMismatchError as HashMismatchError,
    ImageError as ImageError,
    ModelFileError as ModelFileError,
    OfflineError as OfflineError,
    TransferkitError as TransferkitError,
    UnknownModelError as UnknownModelError,
    WeightsError as WeightsError,
)
from .inference import Prediction as Prediction, predict as predict
from .pretrained import load_pretrained as load_pretrained

_backend.configure()  # none of the imports above imports Keras

__all__ = [
    "BackendError",
    "DatasetError",
    "HashMismatchError",
    "ImageError",
    "ModelFileError",
    "OfflineError",
    "Prediction",
    "TransferkitError",
    "UnknownModelError",
    "WeightsError",
    "__version__",
    "load_pretrained",
    "predict",
]
