"""transferkit: pretrained image models on Keras 3, by name -- predict, fine-tune, evaluate.

Importing transferkit is light (it does not import Keras); it sets ``KERAS_BACKEND=torch`` unless the
user chose a backend, so it must be imported before Keras to choose for you.
"""

from __future__ import annotations

import importlib
from typing import Any

from . import _backend
from ._version import __version__ as __version__
from .artifact import load_classifier as load_classifier
from .classifier import ImageClassifier as ImageClassifier
from .errors import (
    BackendError as BackendError,
    DatasetError as DatasetError,
    HashMismatchError as HashMismatchError,
    ImageError as ImageError,
    ModelFileError as ModelFileError,
    OfflineError as OfflineError,
    SurgeryError as SurgeryError,
    TransferkitError as TransferkitError,
    UnknownModelError as UnknownModelError,
    WeightsError as WeightsError,
)
from .inference import Prediction as Prediction, predict as predict
from .pretrained import load_pretrained as load_pretrained

_backend.configure()  # none of the imports above imports Keras

# Names whose modules import Keras (seconds) are loaded on first use, so `import transferkit` stays light.
_LAZY = {
    "ImageDataGenerator": ("legacy", "ImageDataGenerator"),
    "applications": ("applications", None),
    "augment": ("augment", None),
    "data": ("data", None),
    "report": ("report", None),
    "surgery": ("surgery", None),
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'transferkit' has no attribute '{name}'")
    module_name, attr = _LAZY[name]
    module = importlib.import_module(f".{module_name}", __name__)
    return module if attr is None else getattr(module, attr)


__all__ = [
    "BackendError",
    "DatasetError",
    "HashMismatchError",
    "ImageClassifier",
    "ImageDataGenerator",
    "ImageError",
    "ModelFileError",
    "OfflineError",
    "Prediction",
    "SurgeryError",
    "TransferkitError",
    "UnknownModelError",
    "WeightsError",
    "__version__",
    "applications",
    "augment",
    "data",
    "load_classifier",
    "load_pretrained",
    "predict",
    "report",
    "surgery",
]
