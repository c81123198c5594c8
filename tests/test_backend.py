"""Choosing the Keras backend: torch unless the user chose; a clear refusal for one that cannot train."""

from __future__ import annotations

import os
import subprocess
import sys


def python(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env={**environ, **env}, timeout=120
    )


def test_torch_is_the_default() -> None:
    result = python("import transferkit, keras; print(keras.backend.backend())")
    assert result.stdout.strip() == "torch", result.stderr


def test_import_is_light() -> None:
    result = python("import sys, transferkit; print([m for m in ('keras', 'torch') if m in sys.modules])")
    assert result.stdout.strip() == "[]", result.stderr


def test_user_choice_is_kept() -> None:
    result = python("import transferkit, os; print(os.environ['KERAS_BACKEND'])", KERAS_BACKEND="jax")
    assert result.stdout.strip() == "jax", result.stderr


def test_keras_already_on_an_unusable_backend() -> None:
    result = python("import keras, transferkit", KERAS_BACKEND="numpy")
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert "BackendError" in last and "'numpy' backend" in last and "KERAS_BACKEND=torch" in last


def test_jax_backend_predicts(chelsea) -> None:  # type: ignore[no-untyped-def]
    """The same code on JAX: the backend-agnostic claim, proved on the default model."""
    code = (
        "import transferkit, keras\n"
        "assert keras.backend.backend() == 'jax'\n"
        f"top = transferkit.predict(transferkit.load_pretrained(), {str(chelsea)!r})[0][0]\n"
        "print(top.class_index)"
    )
    result = python(code, KERAS_BACKEND="jax")
    assert result.returncode == 0, result.stderr
    assert 281 <= int(result.stdout.strip().splitlines()[-1]) <= 285
