"""The servers the tests talk to (one per model and test session) and the photos sent to them (JPEG files)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from serve_helpers import SIZE, WITHOUT_KERAS, Served

from helpers import cli


@pytest.fixture(scope="session")
def served_photos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Real photos as JPEG files (scikit-image's): a cat, an espresso, an astronaut (large enough to be
    decoded at reduced size, as the CLI does)."""
    from PIL import Image
    from skimage import data

    folder = tmp_path_factory.mktemp("served-photos")
    photos = {"cat": data.chelsea(), "coffee": data.coffee(), "astronaut": data.astronaut()}
    paths = {}
    for name, pixels in photos.items():
        paths[name] = folder / f"{name}.jpg"
        Image.fromarray(pixels).save(paths[name], quality=90)
    return paths


@pytest.fixture(scope="session")
def lite0_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """``transferkit serve efficientnet_lite0`` (ImageNet classes), with a pixel limit of 4 million."""
    log = tmp_path_factory.mktemp("lite0-server") / "server.log"
    server = Served(
        [sys.executable, "-m", "transferkit", "serve", "efficientnet_lite0"], log, {"TRANSFERKIT_MAX_PIXELS": "4000000"}
    )
    yield server
    server.stop()


@pytest.fixture(scope="session")
def onnx_file(textures: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 4-class texture classifier (head trained, out-of-distribution score fit), saved and exported with
    ``transferkit export``."""
    from transferkit import ImageClassifier, data
    from transferkit.train.calibration import fit_familiarity

    train = data.image_folder(textures[0], SIZE, batch_size=16, seed=0)
    clf = ImageClassifier.from_pretrained(classes=train.class_names, input_shape=(SIZE, SIZE, 3), seed=0)
    clf.fine_tune(train, None, epochs=0, verbose=0, seed=0)
    fit_familiarity(clf, train, data.image_folder(textures[1], SIZE, shuffle=False))  # ood_score in the answers
    folder = tmp_path_factory.mktemp("served-onnx")
    clf.save(folder / "textures.keras")
    result = cli("export", folder / "textures.keras", "--out", folder / "textures.onnx")
    assert result.returncode == 0, result.stderr
    return folder / "textures.onnx"


@pytest.fixture(scope="session")
def onnx_server(onnx_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """``transferkit serve textures.onnx`` where Keras and torch cannot be imported, with tight limits."""
    argv = [sys.executable, "-c", WITHOUT_KERAS, "serve", str(onnx_file)]
    limits = ["--timeout", "3", "--max-body-mb", "1", "--max-images", "4"]
    server = Served([*argv, *limits], tmp_path_factory.mktemp("onnx-server") / "server.log", wait=120)
    yield server
    server.stop()
