"""The plain way as a user without transferkit runs it: Keras and glibc as released, in a process of its own.

Importing transferkit fixes Keras's torch convolutions and sets glibc's allocator to keep freed memory
(README: Backends); in the benchmark's own process those speed the plain way too -- the plain Keras ``fit``
most, since they save most where activations are large -- so a plain way measured there is not plain.
:func:`run` calls a benchmark function in a fresh interpreter with both switched off
(``TRANSFERKIT_KERAS_FIXES=0``, ``TRANSFERKIT_KEEP_FREED_MEMORY=0``); the data, the model and its weights
are still built with transferkit, as in the benchmark's process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

SWITCHED_OFF = {"TRANSFERKIT_KERAS_FIXES": "0", "TRANSFERKIT_KEEP_FREED_MEMORY": "0"}


def run(function: Callable[..., Any], *args: Any, warm_up: Callable[[], Any] | None = None) -> Any:
    """``function(*args)`` -- a benchmark module's function of str arguments with a JSON-able result -- in a
    fresh interpreter, after ``warm_up()`` when given."""
    code = (
        f"import json, sys; import {function.__module__} as m; {f'm.{warm_up.__name__}(); ' if warm_up else ''}"
        f"print(json.dumps(m.{function.__name__}(*sys.argv[1:])))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True,
        env={**os.environ, **SWITCHED_OFF}, cwd=Path(__file__).parents[1],
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"{function.__module__}.{function.__name__} failed as released:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])
