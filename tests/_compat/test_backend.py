"""Choosing the Keras backend: torch unless the user chose; a clear refusal for one that cannot train."""

from __future__ import annotations

from helpers import python


def test_import_is_light_and_torch_is_the_default() -> None:
    code = (
        "import sys, transferkit; print([m for m in ('keras', 'torch') if m in sys.modules])\n"
        "import keras; print(keras.backend.backend())"
    )
    result = python(code)
    assert result.stdout.split() == ["[]", "torch"], result.stderr


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
