"""The servers the tests talk to (one per model and test session) and the photos sent to them (JPEG files)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from serve_helpers import Served


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
