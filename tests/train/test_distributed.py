"""Training on several processes (torch.distributed, gloo, 2 CPU processes) as a user starts it: ``train --nproc``
and torchrun's environment by hand. The same model as one process with the same global batch, equal weights on
every rank, rank 0 alone writing, data that differs between nodes refused, and a killed rank ending the job."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from helpers import EXE, cli

COMMON = ("--image-size", "96", "--time-budget", "none", "--quiet")


def _run(*args: object, cwd: Path | None = None, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run([EXE, *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=timeout)


@pytest.fixture(scope="module")
def runs(textures: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """One process with batches of 16, and two processes with 8 each (the same global batch, no rate scaling)."""
    train_dir, val_dir = textures
    root = tmp_path_factory.mktemp("distributed")
    one, two = root / "one", root / "two"
    single = cli("train", train_dir, "--val-dir", val_dir, "--out", one, "--batch-size", "16",
                 "--fine-tune-epochs", "3", *COMMON)  # fmt: skip
    assert single.returncode == 0, single.stderr[-3000:]
    double = _run("train", train_dir, "--val-dir", val_dir, "--out", two, "--batch-size", "8", "--nproc", "2",
                  "--lr-scaling", "none", "--fine-tune-epochs", "3", *COMMON)  # fmt: skip
    assert double.returncode == 0, double.stderr[-3000:]
    return one, two


def test_two_processes_train_what_one_does_with_the_same_global_batch(runs: tuple[Path, Path]) -> None:
    """Measured: head weights within 7e-4 of one process's (the dropout masks differ), the same validation
    accuracy, and the validation loss within 3%."""
    from transferkit.export.keras_file import load_classifier

    one, two = (json.loads((run / "metrics.json").read_text()) for run in runs)
    assert one["world_size"] == 1 and "distributed" not in one
    assert two["world_size"] == 2
    assert two["distributed"] == {
        "processes": 2, "backend": "gloo", "batch_size_per_process": 8, "global_batch_size": 16,
        "lr_scaling": "none", "learning_rate": 0.001, "weights_equal_on_all_processes": True,
    }  # fmt: skip
    assert abs(one["val_accuracy"] - two["val_accuracy"]) <= 0.02
    assert abs(one["val_loss"] - two["val_loss"]) <= 0.1 * one["val_loss"] + 1e-3
    heads = [load_classifier(run / "model.keras").model.get_weights()[-2:] for run in runs]
    assert max(float(np.abs(a - b).max()) for a, b in zip(*heads)) < 5e-3
    # the head phase is the same convex fit on the same (gathered) features
    first = [(run / "history.csv").read_text().splitlines()[1].split(",") for run in runs]
    assert np.allclose([float(v) for v in first[0]], [float(v) for v in first[1]], rtol=1e-3, atol=1e-5)


def test_the_run_folder_of_two_processes_is_that_of_one(runs: tuple[Path, Path]) -> None:
    one, two = (sorted(p.name for p in run.iterdir()) for run in runs)
    assert one == two and "model.keras" in two and "report.html" in two


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _by_hand(folders: list[Path], *args: str) -> list[subprocess.CompletedProcess[str]]:
    """Two ranks started with torchrun's variables, each in its own folder, as on two nodes: the same command
    line, relative paths, so each reads its own ``data`` and would write its own ``run``."""
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_XDIST_WORKER"}
    port = str(_free_port())
    procs = [
        subprocess.Popen(
            [EXE, "train", "data", "--out", "run", *args],
            cwd=folder,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={
                **env,
                "MASTER_ADDR": "127.0.0.1",
                "MASTER_PORT": port,
                "WORLD_SIZE": "2",
                "RANK": str(rank),
                "LOCAL_RANK": str(rank),
                "OMP_NUM_THREADS": "1",
            },
        )  # fmt: skip
        for rank, folder in enumerate(folders)
    ]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=600)
        results.append(subprocess.CompletedProcess(proc.args, proc.returncode, out, err))
    return results


def test_rank_zero_alone_writes_and_data_missing_on_a_node_is_refused(
    textures: tuple[Path, Path], tmp_path: Path
) -> None:
    nodes = [tmp_path / "node0", tmp_path / "node1"]
    for node in nodes:
        shutil.copytree(textures[0], node / "data")
    args = ("--val-split", "0.25", "--fine-tune-epochs", "1", "--batch-size", "8", *COMMON)
    results = _by_hand(nodes, *args)
    assert [r.returncode for r in results] == [0, 0], results[0].stderr[-2000:] + results[1].stderr[-2000:]
    assert (nodes[0] / "run" / "model.keras").exists() and not (nodes[1] / "run").exists()
    assert json.loads((nodes[0] / "run" / "metrics.json").read_text())["world_size"] == 2

    missing = sorted((nodes[1] / "data").rglob("*.jpg"))[3]
    missing.unlink()
    shutil.rmtree(nodes[0] / "run")
    results = _by_hand(nodes, *args)
    assert [r.returncode for r in results] == [1, 1]
    name = missing.relative_to(nodes[1]).as_posix()
    lines = results[0].stderr.strip().splitlines()
    assert lines[-1].startswith("transferkit: error: The training images differ between processes") or lines[
        -1
    ].startswith("transferkit: error: The validation images differ between processes"), results[0].stderr
    assert name in lines[-1] and "missing on process 1" in lines[-1]
    assert "Traceback" not in results[0].stderr + results[1].stderr
    assert "error" not in results[1].stderr  # said once, by rank 0
    assert not (nodes[0] / "run").exists()  # refused before the folder was touched


def _rank(launcher: int, rank: int) -> int:
    """The pid of the worker of ``launcher`` (``train --nproc``) whose RANK is ``rank``."""
    for task in os.listdir(f"/proc/{launcher}/task"):
        for child in Path(f"/proc/{launcher}/task/{task}/children").read_text().split():
            if f"RANK={rank}".encode() in Path(f"/proc/{child}/environ").read_bytes().split(b"\0"):
                return int(child)
    raise AssertionError(f"no rank {rank} under {launcher}")


def _fine_tuning(textures: tuple[Path, Path], out: Path, timeout: str) -> tuple[subprocess.Popen[str], list[str]]:
    """``train --nproc 2`` started and past its head phase (the first checkpoint written): the process and args."""
    train_dir, val_dir = textures
    args = ["train", str(train_dir), "--val-dir", str(val_dir), "--out", str(out), "--nproc", "2",
            "--fine-tune-epochs", "40", "--batch-size", "8", "--dist-timeout", timeout, *COMMON]  # fmt: skip
    proc = subprocess.Popen([EXE, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and proc.poll() is None and not (out / "checkpoint.json").exists():
        time.sleep(0.05)
    assert proc.poll() is None, proc.communicate()[1][-2000:]
    return proc, args


def test_a_killed_process_ends_the_job_and_resume_finishes(textures: tuple[Path, Path], tmp_path: Path) -> None:
    """SIGKILL one rank during fine-tuning: the job ends at once (measured 2.5 s) with one line from the launcher
    and one from rank 0, and ``--resume`` finishes the run on two processes from the last checkpoint."""
    out = tmp_path / "run"
    proc, args = _fine_tuning(textures, out, "60s")
    os.kill(_rank(proc.pid, 1), signal.SIGKILL)
    killed = time.monotonic()
    _, err = proc.communicate(timeout=120)
    assert proc.returncode != 0 and time.monotonic() - killed < 60
    assert "error: process 1 of 2 was killed by signal 9; the others were stopped." in err
    assert "Traceback" not in err and not (out / "model.keras").exists()

    again = subprocess.run([EXE, *args, "--resume"], capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-3000:]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["world_size"] == 2 and metrics["val_accuracy"] > 0.5
    predicted = cli("predict", "--model", out / "model.keras", "--json", sorted(textures[1].rglob("*.jpg"))[0])
    assert predicted.returncode == 0 and json.loads(predicted.stdout)[0]["predictions"]


def test_a_process_that_stops_answering_ends_the_job_within_the_timeout(
    textures: tuple[Path, Path], tmp_path: Path
) -> None:
    """SIGSTOP one rank (a hang, not a crash): rank 0 gives up after --dist-timeout with one line, and torchrun
    stops the job (measured 55 s with a 20 s timeout: torchrun gives a process 30 s to end before SIGKILL)."""
    out = tmp_path / "run"
    proc, _ = _fine_tuning(textures, out, "10s")
    stopped = _rank(proc.pid, 1)
    os.kill(stopped, signal.SIGSTOP)
    hung = time.monotonic()
    try:
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.kill(stopped, signal.SIGKILL)
    assert proc.returncode != 0 and time.monotonic() - hung < 90
    lines = [line for line in err.splitlines() if "error" in line]
    assert lines[0].startswith("transferkit: error: Process 0 of 2 lost the others (") and "Timed out" in lines[0]
    assert lines[0].count("lost the others") == 1 and "--resume" in lines[0]
    assert lines[1] == "error: process 0 of 2 exited with status 1; the others were stopped."
    assert "Traceback" not in err and (out / "checkpoint.json").exists()


def test_nproc_is_refused_under_torchrun_and_needs_a_timeout(tmp_path: Path) -> None:
    result = cli("train", tmp_path, "--out", tmp_path / "run", "--nproc", "2", env={"LOCAL_RANK": "0"})
    assert result.returncode == 1 and "under torchrun, leave it out" in result.stderr
    result = cli("train", tmp_path, "--out", tmp_path / "run", "--dist-timeout", "none")
    assert result.returncode == 1 and "--dist-timeout needs a time" in result.stderr
    assert sys.executable  # the launcher runs this interpreter's transferkit
