"""``transferkit serve`` on the command line: its help imports nothing heavy, a model it cannot load is one error
line before any port is opened, a bad option is argparse's usage error."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers import cli, python


def test_serve_help_imports_neither_keras_nor_the_web_stack() -> None:
    code = (
        "import sys; from transferkit.cli import main\n"
        "try:\n    main(['serve', '--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('keras', 'torch', 'fastapi', 'uvicorn') if m in sys.modules]\n"
        "print('HEAVY', heavy)"
    )
    result = python(code)
    assert "HEAVY []" in result.stdout and "--max-wait-ms" in result.stdout, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("model", "workers", "message"),
    [
        ("efficientnet_lit0", "1", "Did you mean 'efficientnet_lite0'"),
        ("efficientnet_lit0", "2", "Did you mean 'efficientnet_lite0'"),
        ("missing.onnx", "1", "does not exist"),
        ("missing.keras", "2", "does not exist"),
    ],
)
def test_a_model_it_cannot_load_is_one_line(tmp_path: Path, model: str, workers: str, message: str) -> None:
    path = model if "." not in model else str(tmp_path / model)
    result = cli("serve", path, "--workers", workers, "--port", "1")  # a port it may not open: never reached
    assert result.returncode == 1 and message in result.stderr and result.stderr.count("\n") == 1, result.stderr


def test_a_bad_option_is_a_usage_error() -> None:
    with pytest.raises(SystemExit) as exit:
        cli("serve", "efficientnet_lite0", "--max-batch", "0")
    assert exit.value.code == 2
