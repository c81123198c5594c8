"""Fixtures of the zoo's tests: a fresh weights cache per test, real bytes to serve, a loopback server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from http_server import LoopbackServer


@pytest.fixture(autouse=True)
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh cache per test, and none of the user's download settings."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("TRANSFERKIT_CACHE_DIR", str(folder))
    for name in ("TRANSFERKIT_OFFLINE", "TRANSFERKIT_WEIGHTS_MIRROR", "TRANSFERKIT_DOWNLOAD_TIMEOUT"):
        monkeypatch.delenv(name, raising=False)
    return folder


@pytest.fixture(scope="module")
def data(chelsea: Path) -> bytes:
    """Real bytes to serve: a photo file as scikit-image ships it (220 kB)."""
    return chelsea.read_bytes()


@pytest.fixture(scope="module")
def other(coffee: Path) -> bytes:
    return coffee.read_bytes()


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    with LoopbackServer() as running:
        yield running
