"""transferkit: pretrained image models on Keras 3, by name -- predict, fine-tune, evaluate.

Importing transferkit is light (it does not import Keras); it sets ``KERAS_BACKEND=torch`` unless the
user chose a backend, so it must be imported before Keras to choose for you. The public names below are
loaded on first use from the subpackage that holds them (the code map is in the README).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._compat import backend as _backend
from ._version import __version__ as __version__
from .errors import (
    BackendError as BackendError,
    BatchIndexError as BatchIndexError,
    ConfigError as ConfigError,
    DatasetError as DatasetError,
    DatasetTypeError as DatasetTypeError,
    DiskFullError as DiskFullError,
    DistributedError as DistributedError,
    DoctorError as DoctorError,
    ExportError as ExportError,
    HashMismatchError as HashMismatchError,
    ImageError as ImageError,
    Interrupted as Interrupted,
    ModelFileError as ModelFileError,
    OfflineError as OfflineError,
    RegistryError as RegistryError,
    RunFolderError as RunFolderError,
    SkippedFileWarning as SkippedFileWarning,
    SurgeryError as SurgeryError,
    TransferkitError as TransferkitError,
    UnknownModelError as UnknownModelError,
    WeightsError as WeightsError,
)

_backend.configure()  # none of the imports above imports Keras

if TYPE_CHECKING:  # what _LAZY loads, for type checkers and editors
    from . import applications, data, images, layers, report, surgery
    from .data import augment
    from .export.keras_file import load_classifier
    from .inference.explain import explain
    from .inference.predict import Prediction, predict
    from .keras2.generator import ImageDataGenerator
    from .models.classifier import ImageClassifier
    from .models.pretrained import load_pretrained

# name -> (module, attribute or None for the module itself). Each module imports Keras, which takes
# seconds, so it is imported when the name is first used.
_LAZY = {
    "ImageClassifier": ("transferkit.models.classifier", "ImageClassifier"),
    "ImageDataGenerator": ("transferkit.keras2.generator", "ImageDataGenerator"),
    "Prediction": ("transferkit.inference.predict", "Prediction"),
    "applications": ("transferkit.applications", None),
    "augment": ("transferkit.data.augment", None),
    "data": ("transferkit.data", None),
    "explain": ("transferkit.inference.explain", "explain"),
    "images": ("transferkit.images", None),
    "layers": ("transferkit.layers", None),
    "load_classifier": ("transferkit.export.keras_file", "load_classifier"),
    "load_pretrained": ("transferkit.models.pretrained", "load_pretrained"),
    "predict": ("transferkit.inference.predict", "predict"),
    "report": ("transferkit.report", None),
    "surgery": ("transferkit.surgery", None),
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'transferkit' has no attribute '{name}'")
    module_name, attr = _LAZY[name]
    module = importlib.import_module(module_name)
    value = module if attr is None else getattr(module, attr)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "BackendError",
    "BatchIndexError",
    "ConfigError",
    "DatasetError",
    "DatasetTypeError",
    "DiskFullError",
    "DistributedError",
    "DoctorError",
    "ExportError",
    "HashMismatchError",
    "ImageClassifier",
    "ImageDataGenerator",
    "ImageError",
    "Interrupted",
    "ModelFileError",
    "OfflineError",
    "Prediction",
    "RegistryError",
    "RunFolderError",
    "SkippedFileWarning",
    "SurgeryError",
    "TransferkitError",
    "UnknownModelError",
    "WeightsError",
    "__version__",
    "applications",
    "augment",
    "data",
    "explain",
    "images",
    "layers",
    "load_classifier",
    "load_pretrained",
    "predict",
    "report",
    "surgery",
]
