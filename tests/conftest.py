"""Shared fixtures: an isolated weights cache, real photos from installed packages, the default model, a
small real labelled folder. Shared helpers (subprocesses, the in-process CLI, zoo parameters): helpers.py."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Keep the counts tests record as ``reference_suite`` properties (from xdist workers too) for the summary."""
    if report.when == "call":
        _REFERENCE_COUNTS.extend(value for name, value in report.user_properties if name == "reference_suite")


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _REFERENCE_COUNTS:
        terminalreporter.section("keras-preprocessing's tests (tests/keras2/reference)")
        for line in _REFERENCE_COUNTS:
            terminalreporter.write_line(line)


_REFERENCE_COUNTS: list[str] = []


@pytest.fixture(scope="session", autouse=True)
def _one_thread_per_worker() -> None:
    """``make test`` runs one pytest-xdist worker per core: more than one torch thread each would oversubscribe them."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        import torch

        torch.set_num_threads(1)


@pytest.fixture(scope="session", autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Tests never read or write the user's ~/.keras cache."""
    path = tmp_path_factory.mktemp("weights-cache")
    os.environ["TRANSFERKIT_CACHE_DIR"] = str(path)
    os.environ.pop("TRANSFERKIT_OFFLINE", None)
    return path


@pytest.fixture(scope="module")
def one_torch_thread() -> Iterator[None]:
    """Building a model is mostly weight initialisation; with several test processes sharing 2 cores, torch's
    thread pool oversubscribes them: builds measured 4-6x faster with one thread."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _save(array: np.ndarray, path: Path) -> Path:
    from PIL import Image

    Image.fromarray(array).save(path)
    return path


@pytest.fixture(scope="session")
def photo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Real photos that scikit-image ships, written as files (chelsea is a cat, coffee an espresso)."""
    from skimage import data

    folder = tmp_path_factory.mktemp("photos")
    _save(data.chelsea(), folder / "chelsea.png")
    _save(data.coffee(), folder / "coffee.jpg")
    _save(data.astronaut(), folder / "astronaut.jpg")
    return folder


@pytest.fixture(scope="session")
def chelsea(photo_dir: Path) -> Path:
    return photo_dir / "chelsea.png"


@pytest.fixture(scope="session")
def coffee(photo_dir: Path) -> Path:
    return photo_dir / "coffee.jpg"


@pytest.fixture(scope="session")
def lite0() -> Any:
    """The default pretrained model, built once per test session (read-only: never train or change it)."""
    import transferkit

    return transferkit.load_pretrained("efficientnet_lite0")


@pytest.fixture(scope="session")
def textures(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A small real labelled folder (4 texture classes from scikit-image photos): (train dir, val dir)."""
    from transferkit.data.samples import texture_folders

    return texture_folders(tmp_path_factory.mktemp("textures"), train_per_class=12, val_per_class=6, size=96)


@pytest.fixture(scope="module")
def splits(textures: tuple[Path, Path]) -> tuple[Any, Any]:
    """The texture folder as training (shuffled, flipped) and validation datasets of 96 px images."""
    from transferkit import data

    train_dir, val_dir = textures
    train = data.image_folder(train_dir, 96, batch_size=16, seed=0, augment=["flip"])
    val = data.image_folder(val_dir, 96, batch_size=16, class_names=train.class_names, shuffle=False)
    return train, val


@pytest.fixture(scope="session")
def multi_label_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """``transferkit train labels.csv --multi-label`` on 160 grids of 0-3 textures at 96 px (120 training, 40
    validation images): (the CSV, the run folder)."""
    from helpers import cli
    from transferkit.data.samples import texture_table

    table = texture_table(tmp_path_factory.mktemp("grids"), count=160, size=96)
    out = tmp_path_factory.mktemp("multi-run") / "run"
    result = cli("train", table, "--multi-label", "--out", out, "--image-size", 96, "--val-split", "0.25",
                 "--fine-tune-epochs", "2", "--batch-size", "16")  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert "validation micro F1" in result.stdout
    return table, out


@pytest.fixture(scope="session")
def multi_label_onnx(multi_label_run: tuple[Path, Path]) -> Path:
    """The multi-label run's model exported to ONNX (checked on the run's validation images)."""
    from helpers import cli

    out = multi_label_run[1]
    result = cli("export", out / "model.keras", "--out", out / "model.onnx")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "all labels agree 100.0% on 40 images" in result.stdout, result.stdout
    return out / "model.onnx"


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 3 MB tmpfs: room for a run's small files, not for a model. Mounted as root, or through sudo as the
    Makefile installs packages; a machine that allows neither fails these tests rather than skipping them."""
    mount = tmp_path / "disk"
    mount.mkdir()
    sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
    done = subprocess.run([*sudo, "mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mount)], capture_output=True)
    assert done.returncode == 0, f"cannot mount a tmpfs: {done.stderr.decode(errors='replace').strip()}"
    try:
        yield mount
    finally:
        subprocess.run([*sudo, "umount", "-l", str(mount)], check=False)
