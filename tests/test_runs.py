"""``transferkit train`` / ``evaluate`` / ``predict --model PATH`` as a user runs them, including Ctrl-C and resume."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

EXE = str(Path(sys.executable).parent / "transferkit")


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([EXE, *map(str, args)], capture_output=True, text=True, timeout=900)


@pytest.fixture(scope="module")
def finished_run(textures: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    train_dir, val_dir = textures
    out = tmp_path_factory.mktemp("runs") / "run"
    result = run("train", train_dir, "--val-dir", val_dir, "--out", out, "--image-size", "96", "--epochs", "6",
                 "--fine-tune-epochs", "1", "--batch-size", "16")  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert "validation accuracy" in result.stdout
    return out


def test_train_writes_the_run_folder(finished_run: Path) -> None:
    for name in ("model.keras", "metrics.json", "history.csv", "report.html", "run.json", "confusion_matrix.png"):
        assert (finished_run / name).is_file(), name
    assert not (finished_run / "checkpoint.json").exists()
    metrics = json.loads((finished_run / "metrics.json").read_text())
    for key in ("val_accuracy", "val_loss", "classes", "per_class", "confusion_matrix", "epochs", "train_seconds",
                "skipped_files"):  # fmt: skip
        assert key in metrics, key
    assert metrics["classes"] == ["brick", "grass", "gravel", "moon"]
    assert metrics["epochs"] == 7 and metrics["skipped_files"] == []
    assert metrics["val_accuracy"] >= 0.8  # measured 1.0 (4 classes, chance 0.25)
    html = (finished_run / "report.html").read_text()
    assert "data:image/png;base64," in html and "gravel" in html


def test_finished_run_is_not_overwritten(finished_run: Path, textures: tuple[Path, Path]) -> None:
    result = run("train", textures[0], "--out", finished_run)
    assert result.returncode == 1 and "--overwrite" in result.stderr and "Traceback" not in result.stderr
    result = run("train", textures[0], "--out", finished_run, "--resume")
    assert result.returncode == 1 and "no interrupted run" in result.stderr


def test_evaluate_and_predict_with_the_saved_model(finished_run: Path, textures: tuple[Path, Path]) -> None:
    result = run("evaluate", finished_run / "model.keras", textures[1], "--json")
    assert result.returncode == 0, result.stderr[-2000:]
    evaluated = json.loads(result.stdout)
    saved = json.loads((finished_run / "metrics.json").read_text())
    assert evaluated["accuracy"] == pytest.approx(saved["val_accuracy"])
    assert evaluated["confusion_matrix"] == saved["confusion_matrix"]

    image = sorted((textures[1] / "gravel").iterdir())[0]
    result = run("predict", "--model", finished_run / "model.keras", "--json", "--top", "2", image)
    assert result.returncode == 0, result.stderr[-2000:]
    top = json.loads(result.stdout)[0]["predictions"]
    assert len(top) == 2 and top[0]["label"] in saved["classes"]


def test_interrupted_run_resumes(textures: tuple[Path, Path], tmp_path: Path) -> None:
    out = tmp_path / "run"
    args = [EXE, "train", str(textures[0]), "--val-split", "0.25", "--out", str(out), "--image-size", "64",
            "--epochs", "8", "--fine-tune-epochs", "0", "--no-cache-features", "--batch-size", "8"]  # fmt: skip
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    state = out / "checkpoint.json"
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and proc.poll() is None:
        if state.exists() and json.loads(state.read_text())["epochs_done"] >= 1:
            break
        time.sleep(0.2)
    assert proc.poll() is None, proc.communicate()[1][-2000:]
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 130, stderr[-2000:]
    assert "--resume" in stderr and "Traceback" not in stderr
    done = json.loads(state.read_text())["epochs_done"]
    assert 1 <= done < 8 and (out / "checkpoint.weights.h5").is_file()

    result = run("train", textures[0], "--out", out, "--resume")
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"after epoch {done}" in result.stdout
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["epochs"] >= done  # early stopping may end it before epoch 8
