"""Run folders, through ``transferkit train`` / ``evaluate`` / ``predict --model PATH`` as a user runs them: the
folder's files, no overwriting, bad input that leaves nothing behind, and Ctrl-C / SIGTERM with resume."""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from helpers import EXE, cli
from transferkit._util.atomic import stale_temps
from transferkit.train.callbacks import read_state


@pytest.fixture(scope="module")
def finished_run(textures: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    train_dir, val_dir = textures
    out = tmp_path_factory.mktemp("runs") / "run"
    result = cli("train", train_dir, "--val-dir", val_dir, "--out", out, "--image-size", "96",
                 "--fine-tune-epochs", "1", "--batch-size", "16", "--target-precision", "0.9")  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert "plan: efficientnet_lite0 at 96 px" in result.stdout and "validation accuracy" in result.stdout
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
    assert metrics["epochs"] == 2 and metrics["skipped_files"] == []  # the head's fit, one fine-tuning epoch
    assert metrics["model"] == "efficientnet_lite0" and metrics["auto_candidates"] is None
    assert metrics["val_accuracy"] >= 0.8  # measured 1.0 (4 classes, chance 0.25)
    html = (finished_run / "report.html").read_text()
    assert "data:image/png;base64," in html and "gravel" in html
    calibration = metrics["calibration"]  # fit on the validation images, saved in the model
    assert set(calibration) == {"temperature", "ece_before", "ece_after", "bins", "note"} and calibration["bins"] == 15
    assert 0.05 <= calibration["temperature"] <= 20 and 0 <= calibration["ece_after"] <= 1
    assert (finished_run / "reliability.png").is_file() and "Calibration" in html
    chosen = metrics["target_precision"]  # --target-precision 0.9: per-class thresholds, saved in the model
    assert chosen["target"] == 0.9 and list(chosen["thresholds"]) == metrics["classes"]
    assert chosen["precision"] is None or chosen["precision"] >= 0.9
    from transferkit.export.keras_file import read_metadata

    assert read_metadata(finished_run / "model.keras")["thresholds"] == list(chosen["thresholds"].values())


def test_finished_run_is_not_overwritten(finished_run: Path, textures: tuple[Path, Path]) -> None:
    result = cli("train", textures[0], "--out", finished_run)
    assert result.returncode == 1 and "--overwrite" in result.stderr and "Traceback" not in result.stderr
    result = cli("train", textures[0], "--out", finished_run, "--resume")
    assert result.returncode == 1 and "no interrupted run" in result.stderr


def test_evaluate_and_predict_with_the_saved_model(finished_run: Path, textures: tuple[Path, Path]) -> None:
    result = cli("evaluate", finished_run / "model.keras", textures[1], "--json")
    assert result.returncode == 0, result.stderr[-2000:]
    evaluated = json.loads(result.stdout)
    saved = json.loads((finished_run / "metrics.json").read_text())
    assert evaluated["accuracy"] == pytest.approx(saved["val_accuracy"])
    assert evaluated["loss"] == pytest.approx(saved["val_loss"], abs=0.02)  # both with the saved temperature
    assert evaluated["confusion_matrix"] == saved["confusion_matrix"]

    image = sorted((textures[1] / "gravel").iterdir())[0]
    result = cli("predict", "--model", finished_run / "model.keras", "--json", "--top", "2", image)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "skipping variable" not in result.stderr.lower()  # the optimizer was saved whole
    top = json.loads(result.stdout)[0]["predictions"]
    assert len(top) == 2 and top[0]["label"] in saved["classes"]
    mirrored = cli("predict", "--model", finished_run / "model.keras", "--json", "--top", "2", "--tta", image)
    assert mirrored.returncode == 0, mirrored.stderr[-2000:]
    with_tta = json.loads(mirrored.stdout)[0]["predictions"]
    assert with_tta[0]["label"] == top[0]["label"] and with_tta[0]["probability"] != top[0]["probability"]


def test_export_is_checked_on_the_runs_validation_images(finished_run: Path, textures: tuple[Path, Path]) -> None:
    recorded = json.loads((finished_run / "validation.json").read_text())
    assert len(recorded["files"]) == len(recorded["labels"]) == 24 and all(Path(f).is_file() for f in recorded["files"])
    assert sorted(set(recorded["labels"])) == [0, 1, 2, 3]

    out = finished_run.parent / "int8.onnx"
    result = cli("export", finished_run / "model.keras", "--out", out, "--int8", "--input-dtype", "uint8")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "int8, uint8 input" in result.stdout and "on 24 images" in result.stdout
    assert "the run's validation images" in result.stdout and "accuracy 100.0% -> " in result.stdout, result.stdout

    import onnx

    graph = onnx.load(str(out)).graph
    assert graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.UINT8
    assert any(node.op_type == "QuantizeLinear" for node in graph.node)


def test_images_unlike_the_training_images_are_unfamiliar_in_keras_and_onnx(
    finished_run: Path, textures: tuple[Path, Path], photo_dir: Path
) -> None:
    found = json.loads((finished_run / "metrics.json").read_text())["familiarity"]
    assert found["images"] == 48 and found["neighbours"] == 5 and 0 < found["threshold"] < 2
    assert len(found["unfamiliar_validation_images"]) <= 1  # 99% of the validation images are within it
    held_out = sorted(str(p) for p in textures[1].rglob("*.jpg"))
    photos = sorted(str(p) for p in photo_dir.iterdir())  # a cat, a cup of coffee, an astronaut: no texture
    onnx_file = finished_run.parent / "familiar.onnx"
    assert cli("export", finished_run / "model.keras", "--out", onnx_file).returncode == 0
    answers = {}
    for model in (finished_run / "model.keras", onnx_file):
        result = cli("predict", "--model", model, "--json", *held_out, *photos)
        assert result.returncode == 0, result.stderr[-2000:]
        answers[model.suffix] = {Path(a["image"]).name: a for a in json.loads(result.stdout)}
        flagged = [a["image"] for a in json.loads(result.stdout) if a["unfamiliar"]]
        assert set(photos) <= set(flagged)
        assert len(set(flagged) - set(photos)) <= 2, flagged  # of 24 held-out textures
    for name, keras_answer in answers[".keras"].items():
        assert keras_answer["ood_score"] == pytest.approx(answers[".onnx"][name]["ood_score"], abs=5e-3)
    table = cli("predict", "--model", finished_run / "model.keras", photos[0])
    assert "unfamiliar: unlike the training images" in table.stdout


@pytest.mark.parametrize(
    ("problem", "message"),
    [("missing", "does not exist"), ("one class", "Only one class"), ("split", "--val-split is a fraction")],
)
def test_bad_input_leaves_nothing_and_the_same_command_then_runs(
    textures: tuple[Path, Path], tmp_path: Path, problem: str, message: str
) -> None:
    """A run that fails on its input before training writes nothing, so after the fix the same command (no
    --overwrite, no --resume) just works."""
    data, out = tmp_path / "photos", tmp_path / "run"
    if problem == "one class":
        shutil.copytree(textures[0] / "brick", data / "brick")
    split = "1.5" if problem == "split" else "0.25"
    command = ("train", data, "--out", out, "--val-split", split, "--image-size", "64", "--epochs", "1",
               "--fine-tune-epochs", "0", "--augment", "none")  # fmt: skip
    failed = cli(*command)
    assert failed.returncode == 1 and message in failed.stderr and failed.stderr.count("\n") == 1, failed.stderr
    assert not out.exists()

    shutil.rmtree(data, ignore_errors=True)
    shutil.copytree(textures[0], data)
    fixed = cli(*(["0.25" if part == "1.5" else part for part in command]))
    assert fixed.returncode == 0, fixed.stderr[-2000:]
    assert (out / "model.keras").is_file()


def test_skipped_files_are_one_warning_line_each(textures: tuple[Path, Path], tmp_path: Path) -> None:
    data = tmp_path / "photos"
    shutil.copytree(textures[0], data)
    (data / "grass" / "notes.txt").write_text("not a photo")
    (data / "moon" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not the rest of a jpeg")
    result = cli("train", data, "--out", tmp_path / "run", "--val-split", "0.25", "--image-size", "64",
                 "--epochs", "1", "--fine-tune-epochs", "0", "--augment", "none")  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert f"warning: skipped {data / 'grass' / 'notes.txt'}: not an image file" in "\n".join(warnings)
    assert any(line.startswith(f"warning: skipped {data / 'moon' / 'broken.jpg'}: ") for line in warnings)
    assert "SkippedFileWarning" not in result.stderr and "warnings.warn" not in result.stderr


def _history(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_interrupted_run_resumes_at_the_next_epoch(textures: tuple[Path, Path], tmp_path: Path) -> None:
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
    checkpoint = json.loads(state.read_text())
    done = checkpoint["epochs_done"]
    assert 1 <= done < 8 and (out / "checkpoint.npz").is_file()

    result = cli("train", textures[0], "--out", out, "--resume")
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"after epoch {done}" in result.stdout
    rows = _history(out / "history.csv")
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["epochs"] == len(rows) > done  # it trained on after the checkpoint (early stopping may end it)
    assert [int(row["epoch"]) for row in rows] == list(range(1, len(rows) + 1))
    for row, loss in zip(rows[:done], checkpoint["history"]["loss"]):
        assert float(row["loss"]) == pytest.approx(loss)  # the epochs before the checkpoint were kept, not rerun
    assert f"Epoch {done + 1}/8" in result.stdout and f"Epoch {done}/8" not in result.stdout
    grouped = metrics["split"]  # train groups near-duplicates by default; the report says what it kept together
    assert json.loads((out / "run.json").read_text())["group_duplicates"] is True and grouped["groups"] >= 0
    assert grouped["note"] in (out / "report.html").read_text()


def _comparable(run: Path) -> dict[str, object]:
    metrics = json.loads((run / "metrics.json").read_text())
    for varies in ("train_seconds", "settings"):  # the clock, and the run folder's own name
        metrics.pop(varies)
    return {"metrics": metrics, "history": (run / "history.csv").read_text()}


def test_two_seeded_runs_are_identical(textures: tuple[Path, Path], tmp_path: Path) -> None:
    """Augmented views, the split, the head and fine-tuning (dropout included) all follow --seed, whatever the
    loader threads do; the budget does not bind here (with a binding one, the epochs depend on the clock)."""
    runs = []
    for name in ("first", "second"):
        out = tmp_path / name
        result = cli("train", textures[0], "--out", out, "--val-split", "0.25", "--image-size", "64",
                     "--fine-tune-epochs", "2", "--patience", "2", "--batch-size", "8", "--seed", "5",
                     "--quiet")  # fmt: skip
        assert result.returncode == 0, result.stderr[-2000:]
        assert result.stdout == ""  # --quiet
        runs.append(_comparable(out))
    assert runs[0] == runs[1]
    assert len(runs[0]["history"].splitlines()) == 4  # header, the head, two fine-tuning epochs


def test_model_auto_with_json_progress(textures: tuple[Path, Path], tmp_path: Path) -> None:
    out = tmp_path / "run"
    result = cli("train", textures[0], "--out", out, "--val-split", "0.25", "--image-size", "64", "--model", "auto",
                 "--fine-tune-epochs", "0", "--json-progress")  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    events = [json.loads(line) for line in result.stdout.splitlines()]
    kinds = [e["event"] for e in events]
    assert kinds[-1] == "finish" and "plan" in kinds and kinds.count("start") >= 3  # probes, cache, head
    metrics = json.loads((out / "metrics.json").read_text())
    probed = [c for c in metrics["auto_candidates"] if c["accuracy"] is not None]
    assert {c["name"] for c in probed} >= {"efficientnet_lite0"}
    assert [c["name"] for c in metrics["auto_candidates"] if c["chosen"]] == [metrics["model"]]
    assert json.loads((out / "run.json").read_text())["model"] == metrics["model"]  # --resume rebuilds the choice
    assert "Model choice" in (out / "report.html").read_text()


@pytest.mark.parametrize("budget", ["5x", "-1m", "0"])
def test_a_bad_time_budget_is_one_line(tmp_path: Path, budget: str) -> None:
    """argparse's own usage error (it exits before any import of Keras): a real process."""
    result = subprocess.run([EXE, "train", str(tmp_path), "--out", str(tmp_path / "run"), f"--time-budget={budget}"],
                            capture_output=True, text=True, timeout=60)  # fmt: skip
    assert result.returncode == 2 and "is not a duration" in result.stderr and "Traceback" not in result.stderr


def test_a_bad_patience_is_one_line(tmp_path: Path) -> None:
    result = cli("train", tmp_path, "--out", tmp_path / "run", "--patience", "0")
    assert result.returncode == 1 and result.stderr.count("\n") == 1, result.stderr
    assert "--patience is a number of epochs, 1 or more. Received: 0" in result.stderr
    assert not (tmp_path / "run").exists()


def test_a_second_run_in_a_folder_in_use_is_refused_at_once(textures: tuple[Path, Path], tmp_path: Path) -> None:
    out = tmp_path / "run"
    args = [EXE, "train", str(textures[0]), "--val-split", "0.25", "--out", str(out), "--image-size", "64",
            "--epochs", "20", "--fine-tune-epochs", "0", "--no-cache-features", "--batch-size", "8",
            "--quiet"]  # fmt: skip
    first = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and first.poll() is None and not (out / "run.json").exists():
            time.sleep(0.2)
        assert first.poll() is None, first.communicate()[1][-2000:]
        settings = (out / "run.json").read_text()
        started = time.monotonic()
        second = cli("train", textures[0], "--out", out, "--overwrite", "--quiet")
        assert second.returncode != 0 and time.monotonic() - started < 60
        assert f"is in use by another transferkit train (pid {first.pid})" in second.stderr, second.stderr
        assert len(second.stderr.strip().splitlines()) == 1 and (out / "run.json").read_text() == settings
    finally:
        first.kill()
        first.communicate()
    resumed = cli("train", textures[0], "--out", out, "--overwrite", "--epochs", "1", "--quiet")  # the kill freed it
    assert resumed.returncode == 0, resumed.stderr[-2000:]


#: Where a run is killed (SIGKILL: no handler runs, nothing is written on the way out). The last four are inside
#: a write, through the test hook config.TEST_KILL_IN_WRITE: the file half written under its temporary name.
KILLS = {
    "before the first checkpoint": None,  # as soon as run.json is written: planning and caching the features
    "after an epoch": None,  # the head and one fine-tuning epoch checkpointed
    "in the checkpoint write": "checkpoint.json:2",  # the first fine-tuning epoch's (resume.npz is already in)
    "in the best weights write": "checkpoint.npz:1",  # the head's: the first file the run ever checkpoints
    "in the model.keras save": "model.keras",  # every epoch done
    "after model.keras, before the report": "metrics.json",
}


def _kill(args: list[str], out: Path, when: str, hook: str | None) -> None:
    """Run ``transferkit ARGS`` and kill it at ``when`` (a key of :data:`KILLS`), or inside the write ``hook``."""
    env = {**os.environ, **({"TRANSFERKIT_TEST_KILL_IN_WRITE": hook} if hook else {})}
    proc = subprocess.Popen([EXE, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.monotonic() + 600
    while hook is None and time.monotonic() < deadline and proc.poll() is None:
        if when == "before the first checkpoint" and (out / "run.json").exists():
            break
        if when == "after an epoch" and (out / "checkpoint.json").exists():
            if json.loads((out / "checkpoint.json").read_text())["epochs_done"] >= 2:  # the head and one epoch
                break
        time.sleep(0.05)
    if hook is None:
        assert proc.poll() is None, proc.communicate()[1][-2000:]
        proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=600)
    assert proc.returncode == -signal.SIGKILL


@pytest.mark.parametrize("when", list(KILLS))
def test_a_run_killed_hard_finishes_after_the_same_command(
    textures: tuple[Path, Path], tmp_path: Path, when: str
) -> None:
    """Killed anywhere, the same command (with --resume where a checkpoint was left: the message says so) finishes
    with a model that loads and predicts; every epoch checkpointed before the kill is kept, not rerun; a
    half-written file is never taken for a good one, and no temporary file is left."""
    out = tmp_path / "run"
    args = ["train", str(textures[0]), "--val-split", "0.25", "--out", str(out), "--image-size", "64",
            "--fine-tune-epochs", "6", "--batch-size", "8", "--quiet"]  # fmt: skip
    _kill(args, out, when, KILLS[when])
    if KILLS[when]:  # killed inside that write: its temporary file is there, half written, never renamed
        name = KILLS[when].split(":")[0]
        assert stale_temps(out / name), sorted(p.name for p in out.iterdir())
    assert (out / "model.keras").exists() == (when == "after model.keras, before the report")
    checkpointed = (out / "checkpoint.json").exists()
    assert checkpointed == (when not in ("before the first checkpoint", "in the best weights write"))
    if checkpointed:
        refused = cli(*args)  # an interrupted run, even with its model.keras written: not taken as finished
        assert refused.returncode == 1 and "--resume" in refused.stderr
        state = read_state(out / "checkpoint.json", out / "resume.npz")
        assert state["epochs_done"] >= 2 and json.loads((out / "checkpoint.json").read_text())["history"]
    again = cli(*args, *(["--resume"] if checkpointed else []))
    assert again.returncode == 0, again.stderr[-2000:]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["val_accuracy"] > 0.5 and not list(out.glob(".*.tmp*"))
    assert not [name for name in ("checkpoint.json", "resume.npz", "checkpoint.npz") if (out / name).exists()]
    if checkpointed:
        rows = _history(out / "history.csv")
        assert len(rows) >= state["epochs_done"]
        for row, loss in zip(rows, state["history"]["loss"]):
            assert float(row["loss"]) == pytest.approx(loss)
    predicted = cli("predict", "--model", out / "model.keras", "--json", sorted(textures[1].rglob("*.jpg"))[0])
    assert predicted.returncode == 0 and json.loads(predicted.stdout)[0]["predictions"]


def test_a_resumed_run_trains_on_exactly_as_one_never_stopped(textures: tuple[Path, Path], tmp_path: Path) -> None:
    """Four fine-tuning epochs (--patience 4: early stopping does not end them sooner): one run straight through,
    one killed inside the checkpoint write of its third epoch and resumed from the second. Both are killed in
    their model.keras save, so their last-epoch state is still on disk: weights, dropout seeds, Adam's step and
    moments all equal (measured max abs difference: 0.0 on CPU), and so are the finished models."""
    args = ["train", str(textures[0]), "--val-split", "0.25", "--image-size", "32", "--fine-tune-epochs", "4",
            "--patience", "4", "--batch-size", "16", "--time-budget", "none", "--seed", "3", "--quiet"]  # fmt: skip
    whole, cut = tmp_path / "whole", tmp_path / "cut"
    _kill([*args, "--out", str(whole)], whole, "in the model.keras save", "model.keras")
    _kill([*args, "--out", str(cut)], cut, "in the third epoch's checkpoint", "resume.npz:4")  # after 3 of them
    assert read_state(cut / "checkpoint.json", cut / "resume.npz")["epochs_done"] == 3  # the head's, 2 of 4
    _kill([*args, "--out", str(cut), "--resume"], cut, "in the model.keras save", "model.keras")
    with np.load(whole / "resume.npz") as straight, np.load(cut / "resume.npz") as resumed:
        assert straight.files == resumed.files and any(name.startswith("optimizer_") for name in straight.files)
        assert json.loads(str(straight["state"])) == json.loads(str(resumed["state"]))  # the history: 5 epochs
        assert len(json.loads(str(straight["state"]))["history"]["loss"]) == 5
        for name in straight.files:
            if name != "state":
                np.testing.assert_allclose(straight[name], resumed[name], rtol=0, atol=1e-6, err_msg=name)
    for run in (whole, cut):
        finished = cli(*args, "--out", run, "--resume")
        assert finished.returncode == 0, finished.stderr[-2000:]
    import keras

    models = [keras.saving.load_model(run / "model.keras", compile=False) for run in (whole, cut)]
    for a, b in zip(*(m.get_weights() for m in models)):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)
    assert (whole / "history.csv").read_text() == (cut / "history.csv").read_text()


def _in_a_gc_callback(send: Callable[[], None]) -> None:
    import gc

    def callback(phase: str, info: dict) -> None:
        if phase == "start":
            send()

    gc.callbacks.append(callback)
    try:
        gc.collect()
    finally:
        gc.callbacks.remove(callback)


def _in_a_weakref_callback(send: Callable[[], None]) -> None:
    import weakref

    class Thing:
        pass

    thing = Thing()
    ref = weakref.ref(thing, lambda _: send())
    del thing
    assert ref() is None


@pytest.mark.parametrize("where", [_in_a_gc_callback, _in_a_weakref_callback], ids=["gc", "weakref"])
def test_sigterm_where_python_drops_exceptions_still_interrupts(where: Callable[..., None]) -> None:
    """An exception raised inside a gc or weakref callback is printed and dropped by Python: a SIGTERM that
    arrived while JAX's gc callback ran (Keras imports JAX) left a stray traceback and a run that went on. The
    dropped interrupt is asked for again."""
    from transferkit.train.runs import _sigterm_as_interrupt

    def send() -> None:
        os.kill(os.getpid(), signal.SIGTERM)
        sum(range(100))  # the handler runs here, inside the callback

    with pytest.raises(KeyboardInterrupt), _sigterm_as_interrupt():
        where(send)
        time.sleep(5)  # asked again 0.05 s later
