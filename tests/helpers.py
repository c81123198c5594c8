"""What several test modules share: a fresh interpreter, the CLI run in-process, the zoo as test parameters."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

#: The installed ``transferkit`` command (for the tests that need a real process: signals, import costs).
EXE = str(Path(sys.executable).parent / "transferkit")


def python(code: str, *args: str, timeout: float = 300, **env: str) -> subprocess.CompletedProcess[str]:
    """``code`` in a fresh interpreter, with ``KERAS_BACKEND`` unset unless given (Keras is chosen at import)."""
    environ = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, env={**environ, **env}, timeout=timeout
    )


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


def cli(*args: Any, env: dict[str, str] | None = None) -> Result:
    """``transferkit ARGS`` run in this process (as click's CliRunner does): the same parser, commands, error
    handling and output as the installed command, without paying for a new interpreter and Keras import."""
    from transferkit.cli import main

    out, err = io.StringIO(), io.StringIO()
    saved = {k: os.environ.get(k) for k in env or {}}
    os.environ.update(env or {})
    try:
        with redirect_stdout(out), redirect_stderr(err):
            code = main([str(a) for a in args])
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return Result(code, out.getvalue(), err.getvalue())


def zoo_params(specs: Any) -> list[Any]:
    """One pytest param per zoo entry; those that take seconds to build on 2 CPU cores are marked ``slow``
    (deselect them with ``-m "not slow"`` while working; ``make test`` runs them)."""
    return [
        pytest.param(s, id=s.name, marks=[pytest.mark.slow] if s.params > 30_000_000 or s.input_size >= 380 else [])
        for s in specs
    ]


def sha256(body: bytes) -> str:
    import hashlib

    return hashlib.sha256(body).hexdigest()


def leftovers(folder: Path) -> list[str]:
    """Everything in a weights cache except lock files (which filelock keeps on purpose)."""
    if not folder.exists():
        return []
    return sorted(p.name for p in folder.rglob("*") if p.is_file() and not p.name.endswith(".lock"))
