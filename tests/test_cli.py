"""The ``transferkit`` command as a user runs it: a real process, real photos, real output."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

EXE = str(Path(sys.executable).parent / "transferkit")


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([EXE, *args], capture_output=True, text=True, timeout=300, env={**os.environ, **(env or {})})


def test_predict_json_chelsea_is_a_cat(chelsea: Path, coffee: Path) -> None:
    result = run("predict", "--json", str(chelsea), str(coffee))
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert [item["image"] for item in payload] == [str(chelsea), str(coffee)]
    cat, cup = payload
    assert len(cat["predictions"]) == 5
    assert set(cat["predictions"][0]) == {"label", "class_index", "probability"}
    assert 281 <= cat["predictions"][0]["class_index"] <= 285
    assert cup["predictions"][0]["label"] in ("espresso", "cup", "coffee mug")
    probs = [p["probability"] for p in cat["predictions"]]
    assert probs == sorted(probs, reverse=True) and 0 < sum(probs) <= 1.0 + 1e-6


def test_predict_table_and_top(chelsea: Path) -> None:
    result = run("predict", "--top", "2", str(chelsea))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[0] == str(chelsea)
    assert len(lines) == 3 and lines[1].lstrip().startswith("1.") and "%" in lines[1]


def test_bad_images_are_reported_and_the_rest_predicted(tmp_path: Path, chelsea: Path) -> None:
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 definitely not a whole jpeg")
    missing = tmp_path / "missing.png"
    result = run("predict", "--json", str(broken), str(chelsea), str(missing))
    assert result.returncode == 1
    assert [item["image"] for item in json.loads(result.stdout)] == [str(chelsea)]
    errors = result.stderr.strip().splitlines()
    assert len(errors) == 2 and "Traceback" not in result.stderr
    assert str(broken) in errors[0] and str(missing) in errors[1] and "no such file" in errors[1]


def test_unknown_model_is_one_line(chelsea: Path) -> None:
    result = run("predict", "--model", "efficientnet_lite", str(chelsea))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1 and "Did you mean" in result.stderr


@pytest.mark.parametrize("flag", ["--help", "--version"])
def test_help_and_version_do_not_import_keras_or_torch(flag: str) -> None:
    code = (
        "import sys; from transferkit.cli import main\n"
        f"try:\n    main([{flag!r}])\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('keras', 'torch', 'jax', 'tensorflow', 'matplotlib') if m in sys.modules]\n"
        "print('HEAVY', heavy)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert "HEAVY []" in result.stdout, result.stdout + result.stderr


def test_version() -> None:
    import transferkit

    result = run("--version")
    assert result.returncode == 0 and result.stdout.strip() == f"transferkit {transferkit.__version__}"


def test_models_json_lists_the_zoo() -> None:
    result = run("models", "--json")
    assert result.returncode == 0, result.stderr
    models = {m["name"]: m for m in json.loads(result.stdout)}
    assert len(models) == 43
    assert models["inception_v3"]["aliases"] == ["inception"] and models["inception_v3"]["keras_name"] == "InceptionV3"
    assert models["efficientnet_lite0"]["cached"] is True  # package-shipped weights are always at hand


def test_models_table_does_not_import_keras() -> None:
    code = "import sys; from transferkit.cli import main; main(['models']); print('HEAVY', 'keras' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert "HEAVY False" in result.stdout and "resnet50" in result.stdout


@pytest.mark.parametrize(("model", "file"), [("resnet50", "resnet50_weights"), ("inception", "inception_v3_weights")])
def test_offline_with_an_empty_cache_is_one_clear_line(tmp_path: Path, chelsea: Path, model: str, file: str) -> None:
    env = {"TRANSFERKIT_OFFLINE": "1", "TRANSFERKIT_CACHE_DIR": str(tmp_path)}
    result = run("predict", "--model", model, str(chelsea), env=env)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1
    assert file in result.stderr and "https://" in result.stderr and "transferkit weights import" in result.stderr


def test_weights_verify_and_list() -> None:
    result = run("weights", "verify")
    assert result.returncode == 0, result.stderr
    assert "efficientnet_lite0" in result.stdout and "ok" in result.stdout
    listed = run("weights", "list", "--all")
    assert "resnet50_weights_tf_dim_ordering_tf_kernels.h5" in listed.stdout
