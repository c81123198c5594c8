"""``transferkit doctor``: what is wrong with a labelled photo folder before anyone trains on it.

Exact and near duplicates (within a class, across classes, across the training/validation split), likely
label errors (out-of-fold probabilities of a cross-validated linear probe ranked by confident learning),
outliers, class imbalance, tiny or extreme-aspect images and the files a scan skipped (``check``); the
embeddings behind them (``embed``); the review page (``page``) and performing the fixes a person ticked on it
(``fixes``). Builds on :mod:`transferkit.train` (the probe), :mod:`transferkit.models` (the backbone) and
:mod:`transferkit.data` (the scan); importing ``check`` imports Keras, ``fixes`` does not.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .check import Diagnosis as Diagnosis, Finding as Finding, diagnose as diagnose
    from .fixes import apply_fixes as apply_fixes

_LAZY = {"Diagnosis": "check", "Finding": "check", "diagnose": "check", "apply_fixes": "fixes"}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'transferkit.doctor' has no attribute '{name}'")
    value = getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    globals()[name] = value
    return value
