"""The exceptions transferkit raises for a user's mistake or a missing resource.

Every message says what was received, what is allowed and what to do next; the CLI prints it as one
line and exits non-zero (a traceback only with ``--debug``)::

    TransferkitError
    ├── BackendError            (ImportError)   Keras runs on a backend transferkit cannot use
    ├── UnknownModelError       (LookupError)   no registry entry by that name
    ├── ImageError              (ValueError)    a file that cannot be read as an image
    ├── DatasetError            (ValueError)    a folder or table that cannot make a dataset
    ├── ModelFileError          (ValueError)    a model file transferkit cannot load or use
    ├── SurgeryError            (ValueError)    a model change that cannot make sense (says what to do instead)
    └── WeightsError            (OSError)       weights that cannot be fetched, verified or found
        ├── OfflineError                        offline mode and the file is not cached
        └── HashMismatchError                   the file is not the one the registry names
"""

from __future__ import annotations


class TransferkitError(Exception):
    """Root of every error transferkit raises on purpose."""

    exit_code = 1


class BackendError(TransferkitError, ImportError):
    """Keras was imported with a backend transferkit cannot train on."""


class UnknownModelError(TransferkitError, LookupError):
    """A model name that is not in the registry (the message suggests the closest names)."""


class ImageError(TransferkitError, ValueError):
    """A file that is missing or cannot be decoded as an image."""

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"cannot read image '{path}': {reason}")


class DatasetError(TransferkitError, ValueError):
    """A folder, table or split that cannot make a dataset."""


class ModelFileError(TransferkitError, ValueError):
    """A model or weights file that transferkit cannot load or use."""


class SurgeryError(TransferkitError, ValueError):
    """A surgery request that cannot make sense for this model (the message says what to do instead)."""


class WeightsError(TransferkitError, OSError):
    """Pretrained weights that cannot be fetched, verified or found."""


class OfflineError(WeightsError):
    """``TRANSFERKIT_OFFLINE=1`` is set and the weights file is not in the cache."""


class HashMismatchError(WeightsError):
    """A downloaded or imported file whose hash is not the one the registry expects."""
