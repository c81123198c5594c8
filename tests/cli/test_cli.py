"""The ``transferkit`` command on real photos: its output, its one-line errors, and what it does not import.

Most tests run the command in-process (``helpers.cli``: the same ``main`` the installed script calls); those
about start-up cost and exit codes of a real process run the installed ``transferkit``.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from helpers import EXE, cli, python


def test_predict_json_chelsea_is_a_cat(chelsea: Path, coffee: Path) -> None:
    result = cli("predict", "--json", str(chelsea), str(coffee))
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
    result = cli("predict", "--top", "2", str(chelsea))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[0] == str(chelsea)
    assert len(lines) == 3 and lines[1].lstrip().startswith("1.") and "%" in lines[1]


def test_bad_images_are_reported_and_the_rest_predicted(tmp_path: Path, chelsea: Path) -> None:
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 definitely not a whole jpeg")
    missing = tmp_path / "missing.png"
    result = subprocess.run(  # a real process: its exit status, and nothing but the two lines on stderr
        [EXE, "predict", "--json", str(broken), str(chelsea), str(missing)], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 1
    assert [item["image"] for item in json.loads(result.stdout)] == [str(chelsea)]
    errors = result.stderr.strip().splitlines()
    assert len(errors) == 2 and "Traceback" not in result.stderr
    assert str(broken) in errors[0] and str(missing) in errors[1] and "no such file" in errors[1]


def test_unknown_model_is_one_line(chelsea: Path) -> None:
    result = cli("predict", "--model", "efficientnet_lite", str(chelsea))
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
    result = python(code)
    assert "HEAVY []" in result.stdout, result.stdout + result.stderr


def test_version() -> None:
    import transferkit

    result = subprocess.run([EXE, "--version"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and result.stdout.strip() == f"transferkit {transferkit.__version__}"


def test_models_json_lists_the_zoo() -> None:
    result = cli("models", "--json")
    assert result.returncode == 0, result.stderr
    models = {m["name"]: m for m in json.loads(result.stdout)}
    assert len(models) == 43
    assert models["inception_v3"]["aliases"] == ["inception"] and models["inception_v3"]["keras_name"] == "InceptionV3"
    assert models["efficientnet_lite0"]["cached"] is True  # package-shipped weights are always at hand


def test_models_table_does_not_import_keras() -> None:
    code = "import sys; from transferkit.cli import main; main(['models']); print('HEAVY', 'keras' in sys.modules)"
    result = python(code)
    assert "HEAVY False" in result.stdout and "resnet50" in result.stdout


@pytest.mark.parametrize(("model", "file"), [("resnet50", "resnet50_weights"), ("inception", "inception_v3_weights")])
def test_offline_with_an_empty_cache_is_one_clear_line(tmp_path: Path, chelsea: Path, model: str, file: str) -> None:
    env = {"TRANSFERKIT_OFFLINE": "1", "TRANSFERKIT_CACHE_DIR": str(tmp_path)}
    result = cli("predict", "--model", model, str(chelsea), env=env)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1
    assert file in result.stderr and "https://" in result.stderr and "transferkit weights import" in result.stderr


def test_weights_verify_names_the_damaged_file(tmp_path: Path) -> None:
    from transferkit.zoo import registry

    env = {"TRANSFERKIT_CACHE_DIR": str(tmp_path)}
    result = cli("weights", "verify", env=env)
    assert result.returncode == 0, result.stderr
    rows = [line.split() for line in result.stdout.splitlines()[1:]]
    assert ["efficientnet_lite0", "efficientnet-lite0-57934424.pth"] == rows[0][:2] and rows[0][-1] == "ok"

    damaged = registry.get("resnet50").weights_notop
    assert damaged is not None
    (tmp_path / damaged.filename).write_bytes(b"<html>a proxy's error page</html>")
    result = cli("weights", "verify", env=env)
    assert result.returncode == 1
    assert [row[-1] for row in (line.split() for line in result.stdout.splitlines()) if damaged.filename in row] == [
        "DAMAGED"
    ]
    listed = cli("weights", "list", "--all", env=env)
    assert "resnet50_weights_tf_dim_ordering_tf_kernels.h5" in listed.stdout
    result = cli("weights", "verify", "--remove", env=env)
    assert result.returncode == 1 and not (tmp_path / damaged.filename).exists()
    assert cli("weights", "verify", env=env).returncode == 0


def test_a_bad_environment_variable_is_one_line_before_any_work(chelsea: Path) -> None:
    result = cli("predict", str(chelsea), env={"TRANSFERKIT_OFFLINE": "maybe"})
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        "transferkit: error: TRANSFERKIT_OFFLINE is 1 or 0 (true/false, yes/no, on/off); received 'maybe'. "
        "Unset it for the default."
    ]
