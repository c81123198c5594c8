"""Every exception and warning transferkit raises on purpose, for a user's mistake or a missing resource.

Every message says what was received, what is allowed and what to do next; the CLI prints it as one
line and exits non-zero (a traceback only with ``--debug``). Each class also inherits the builtin it
refines, so ``except ValueError`` keeps working::

    TransferkitError
    ├── BackendError            (ImportError)       Keras runs on a backend transferkit cannot use
    ├── ConfigError             (ValueError)        a TRANSFERKIT_* environment variable with a bad value
    ├── UnknownModelError       (LookupError)       no registry entry by that name
    ├── RegistryError           (ValueError)        a model of your own whose name is already taken
    ├── ImageError              (ValueError)        a file that cannot be read as an image
    ├── DatasetError            (ValueError)        a folder or table that cannot make a dataset
    │   ├── DatasetTypeError    (TypeError)         an argument of the wrong type (Keras 2 raised TypeError)
    │   └── BatchIndexError     (IndexError)        a batch asked past an iterator's last one
    ├── ModelFileError          (ValueError)        a model file transferkit cannot load or use
    ├── ExportError             (ValueError)        an export that cannot be made, or disagrees with its model
    ├── SurgeryError            (ValueError)        a model change that cannot make sense (says what to do instead)
    ├── WeightsError            (OSError)           weights that cannot be fetched, verified or found
    │   ├── OfflineError                            offline mode and the file is not cached
    │   └── HashMismatchError                       the file is not the one the registry names
    ├── DoctorError             (ValueError)        a doctor check or fixes.json that cannot be done as given
    ├── RunFolderError          (FileExistsError)   a run folder holding a run the command was not told to replace
    ├── DiskFullError           (OSError)           no space left for a file (nothing partial is left behind)
    ├── DistributedError        (RuntimeError)      another training process failed, differs or stopped answering
    └── Interrupted                                 Ctrl-C or SIGTERM stopped training (exit 130)

    SkippedFileWarning          (UserWarning)       a dataset skipped a file (its path and the reason)

This module imports nothing, so every layer of the package may use it.
"""

from __future__ import annotations


class TransferkitError(Exception):
    """Root of every error transferkit raises on purpose."""

    exit_code = 1


class BackendError(TransferkitError, ImportError):
    """Keras was imported with a backend transferkit cannot train on."""


class ConfigError(TransferkitError, ValueError):
    """An environment variable transferkit reads has a value it cannot use (the message names it)."""


class UnknownModelError(TransferkitError, LookupError):
    """A model name that is not in the registry (the message suggests the closest names)."""


class RegistryError(TransferkitError, ValueError):
    """A model spec that cannot be registered: one of its names is already taken."""


class ImageError(TransferkitError, ValueError):
    """A file that is missing or cannot be decoded as an image. ``kind`` says which way, for callers that answer
    differently (the server's HTTP status): ``"missing"``, ``"empty"``, ``"format"`` (not an image Pillow reads),
    ``"pixels"`` (over the pixel limit), ``"corrupt"`` or ``"other"``."""

    def __init__(self, path: str, reason: str, kind: str = "other") -> None:
        self.path = path
        self.reason = reason
        self.kind = kind
        super().__init__(f"cannot read image '{path}': {reason}")


class DatasetError(TransferkitError, ValueError):
    """A folder, table or split that cannot make a dataset."""


class DatasetTypeError(DatasetError, TypeError):
    """A dataset argument of the wrong type (a str ``y_col`` for several outputs, text weights): Keras 2 raised
    ``TypeError`` there, so ``except TypeError`` and ``except ValueError`` both catch it."""


class BatchIndexError(DatasetError, IndexError):
    """A batch index past the iterator's last batch (Keras 2 raised ``ValueError``; ``IndexError`` is Python's)."""


class ModelFileError(TransferkitError, ValueError):
    """A model or weights file that transferkit cannot load or use."""


class ExportError(TransferkitError, ValueError):
    """An export that cannot be made or that disagrees with the original model (the parity gate)."""


class SurgeryError(TransferkitError, ValueError):
    """A model change that cannot make sense for this model (the message says what to do instead)."""


class WeightsError(TransferkitError, OSError):
    """Pretrained weights that cannot be fetched, verified or found."""


class OfflineError(WeightsError):
    """``TRANSFERKIT_OFFLINE=1`` is set and the weights file is not in the cache."""


class HashMismatchError(WeightsError):
    """A downloaded or imported file whose hash is not the one the registry expects."""


class DoctorError(TransferkitError, ValueError):
    """``transferkit doctor`` cannot check a folder or perform a ``fixes.json`` (bad file, a path outside it)."""


class DiskFullError(TransferkitError, OSError):
    """A file that did not fit on its disk: the partial file is removed and any previous one kept."""


class DistributedError(TransferkitError, RuntimeError):
    """A distributed run (``torchrun``) whose processes cannot go on together: one failed, stopped answering
    within the timeout, or sees other data."""


class RunFolderError(TransferkitError, FileExistsError):
    """A run folder that holds a finished or interrupted run the command was not told to replace."""


class Interrupted(TransferkitError):
    """Training stopped by Ctrl-C or SIGTERM; the checkpoint in the run folder resumes it."""

    exit_code = 130


class SkippedFileWarning(UserWarning):
    """A file in a dataset was skipped; ``path`` and ``reason`` say which and why (``path`` is None for a
    summary of several quiet skips)."""

    def __init__(self, message: str, path: str | None = None, reason: str | None = None) -> None:
        super().__init__(message)
        self.path = path
        self.reason = reason
