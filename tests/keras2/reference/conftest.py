"""Collect the vendored keras-preprocessing tests only when an implementation is chosen (the subprocesses that
``tests/keras2/test_reference_suite.py`` starts); the normal run skips them here and runs that test instead."""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(__file__))

from _shim import install  # noqa: E402

_IMPLEMENTATION = os.environ.get("TRANSFERKIT_REFERENCE_IMPL")

if _IMPLEMENTATION:
    install(_IMPLEMENTATION)
    collect_ignore = ["_shim.py"]
else:
    collect_ignore_glob = ["*.py"]
