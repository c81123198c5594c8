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
from pathlib import Path
from typing import Any

SWITCHED_OFF = {"TRANSFERKIT_KERAS_FIXES": "0", "TRANSFERKIT_KEEP_FREED_MEMORY": "0"}


def run(module: str, function: str, *args: Any, warm_up: str | None = None) -> Any:
    """``bench.<module>.<function>(*args)`` (str arguments, a JSON-able result) in a fresh interpreter, after
    ``<warm_up>()`` from the same module when given."""
    code = (
        f"import json, sys; from bench import {module} as m; {f'm.{warm_up}(); ' if warm_up else ''}"
        f"print(json.dumps(m.{function}(*sys.argv[1:])))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True,
        env={**os.environ, **SWITCHED_OFF}, cwd=Path(__file__).parents[1],
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"bench.{module}.{function} failed as released:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])
