"""transferkit: pretrained image models on Keras 3, by name -- predict, fine-tune, evaluate.

Importing transferkit is light (it does not import Keras); it sets ``KERAS_BACKEND=torch`` unless the
user chose a backend, so it must be imported before Keras to choose for you.
"""

from __future__ import annotations

from . import _backend

_backend.configure()

from ._version import __version__ as __version__  # noqa: E402
from .errors import (  # noqa: E402
    BackendError as BackendError,
)
from .errors import (
    DatasetError as DatasetError,
)
from .errors import (
    HashMismatchError as HashMismatchError,
)
from .errors import (
    ImageError as ImageError,
)
from .errors import (
    ModelFileError as ModelFileError,
)
from .errors import (
    OfflineError as OfflineError,
)
from .errors import (
    TransferkitError as TransferkitError,
)
from .errors import (
    UnknownModelError as UnknownModelError,
)
from .errors import (
    WeightsError as WeightsError,
)
from .inference import Prediction as Prediction  # noqa: E402
from .inference import predict as predict
from .pretrained import load_pretrained as load_pretrained  # noqa: E402

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
