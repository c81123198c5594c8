"""One weights file against a real HTTP server on 127.0.0.1: download, verify, cache, lock, mirror, offline."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers import leftovers, sha256
from http_server import LoopbackServer
from transferkit.errors import ConfigError, HashMismatchError, OfflineError, WeightsError
from transferkit.zoo import weights
from transferkit.zoo.specs import WeightFile

FILENAME = "tk_test_net_weights.h5"
NOTOP = "tk_test_net_weights_notop.h5"


def closed_port_url(path: str) -> str:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}{path}"


# --- fetch -------------------------------------------------------------------------------------------------


def test_fetch_downloads_verifies_and_caches(
    server: LoopbackServer, data: bytes, cache: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    url = server.route(f"/w/{FILENAME}", data)
    path = weights.fetch(WeightFile(FILENAME, url, sha256(data)))
    assert path == cache / FILENAME
    assert path.read_bytes() == data
    assert leftovers(cache) == [FILENAME]
    out, err = capfd.readouterr()
    assert out == ""  # progress goes to stderr, so `--json` output stays parseable
    assert url in err


def test_a_download_onto_a_full_disk_is_one_clear_error_and_leaves_nothing(
    server: LoopbackServer, data: bytes, small_disk: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from transferkit.errors import DiskFullError

    cache = small_disk / "cache"
    cache.mkdir()
    (cache / "filler").write_bytes(b"\0" * (os.statvfs(cache).f_bavail * os.statvfs(cache).f_frsize - 50_000))
    monkeypatch.setenv("TRANSFERKIT_CACHE_DIR", str(cache))
    url = server.route(f"/w/{FILENAME}", data)  # 220 kB, where 50 kB are free
    with pytest.raises(DiskFullError, match=f"No space left in '{cache}' for '{FILENAME}': it needs more than"):
        weights.fetch(WeightFile(FILENAME, url, sha256(data)))
    assert leftovers(cache) == ["filler"]


def test_cached_file_is_not_downloaded_again(server: LoopbackServer, data: bytes) -> None:
    url = server.route(f"/w/{FILENAME}", data)
    file = WeightFile(FILENAME, url, sha256(data))
    assert weights.fetch(file) == weights.fetch(file)
    assert server.count(f"/w/{FILENAME}") == 1


def test_md5_hashes_as_keras_publishes_them(server: LoopbackServer, data: bytes) -> None:
    url = server.route(f"/w/{FILENAME}", data)
    path = weights.fetch(WeightFile(FILENAME, url, hashlib.md5(data).hexdigest()))
    assert path.read_bytes() == data


def test_hash_mismatch_is_refused_and_nothing_cached(
    server: LoopbackServer, data: bytes, other: bytes, cache: Path
) -> None:
    url = server.route(f"/w/{FILENAME}", data)
    with pytest.raises(HashMismatchError) as info:
        weights.fetch(WeightFile(FILENAME, url, sha256(other)), model_name="tk_test_net")
    message = str(info.value)
    assert FILENAME in message and sha256(other) in message and sha256(data) in message
    assert "transferkit weights import tk_test_net" in message
    assert leftovers(cache) == []


def test_truncated_body_is_an_error_and_nothing_cached(server: LoopbackServer, data: bytes, cache: Path) -> None:
    url = server.route(f"/w/{FILENAME}", data, "truncate")
    with pytest.raises(WeightsError, match="cut off after") as info:
        weights.fetch(WeightFile(FILENAME, url, sha256(data)))
    assert not isinstance(info.value, HashMismatchError)
    assert f"{len(data):,}" in str(info.value)
    assert leftovers(cache) == []


def test_http_404_names_the_url_and_the_ways_out(server: LoopbackServer, data: bytes, cache: Path) -> None:
    url = server.url(f"/missing/{FILENAME}")
    with pytest.raises(WeightsError) as info:
        weights.fetch(WeightFile(FILENAME, url, sha256(data)), model_name="tk_test_net")
    message = str(info.value)
    assert "HTTP 404" in message and url in message
    assert "TRANSFERKIT_WEIGHTS_MIRROR" in message and "transferkit weights import tk_test_net <file>" in message
    assert "\n" not in message
    assert leftovers(cache) == []


def test_unreachable_server(data: bytes, cache: Path) -> None:
    url = closed_port_url(f"/w/{FILENAME}")
    with pytest.raises(WeightsError, match="Cannot reach") as info:
        weights.fetch(WeightFile(FILENAME, url, sha256(data)))
    assert url in str(info.value)
    assert leftovers(cache) == []


@pytest.mark.parametrize("behaviour", ["stall", "stall_body"])
def test_stalled_server_times_out(
    server: LoopbackServer, data: bytes, cache: Path, monkeypatch: pytest.MonkeyPatch, behaviour: str
) -> None:
    monkeypatch.setenv("TRANSFERKIT_DOWNLOAD_TIMEOUT", "0.5")
    url = server.route(f"/w/{FILENAME}", data, behaviour)  # type: ignore[arg-type]
    with pytest.raises(WeightsError, match="timed out") as info:
        weights.fetch(WeightFile(FILENAME, url, sha256(data)))
    assert url in str(info.value) and "0.5 s" in str(info.value)
    assert leftovers(cache) == []


def test_bad_timeout_setting_is_a_clear_error(
    server: LoopbackServer, data: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRANSFERKIT_DOWNLOAD_TIMEOUT", "soon")
    url = server.route(f"/w/{FILENAME}", data)
    with pytest.raises(ConfigError, match="TRANSFERKIT_DOWNLOAD_TIMEOUT.*'soon'"):
        weights.fetch(WeightFile(FILENAME, url, sha256(data)))


def test_damaged_cached_file_is_fetched_again(
    server: LoopbackServer, data: bytes, cache: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    url = server.route(f"/w/{FILENAME}", data)
    cache.mkdir()
    (cache / FILENAME).write_bytes(data[: len(data) // 2])  # what an interrupted copy leaves
    stale = cache / f".{FILENAME[:-3]}.0123456789ab.tmp.h5"  # what a killed download leaves
    stale.write_bytes(data[:100])
    path = weights.fetch(WeightFile(FILENAME, url, sha256(data)))
    assert path.read_bytes() == data
    assert server.count(f"/w/{FILENAME}") == 1
    assert leftovers(cache) == [FILENAME]
    assert "damaged" in capfd.readouterr().err


# --- mirror and offline ------------------------------------------------------------------------------------


def test_mirror_serves_the_file_by_name(server: LoopbackServer, data: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    server.route(f"/mirror/{FILENAME}", data)
    monkeypatch.setenv("TRANSFERKIT_WEIGHTS_MIRROR", server.url("/mirror/"))
    origin = closed_port_url(f"/blocked/{FILENAME}")  # the firewalled original
    path = weights.fetch(WeightFile(FILENAME, origin, sha256(data)))
    assert path.read_bytes() == data
    assert server.requests == [f"/mirror/{FILENAME}"]


def test_mirror_missing_the_file_names_the_mirror(
    server: LoopbackServer, data: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRANSFERKIT_WEIGHTS_MIRROR", server.url("/mirror"))
    with pytest.raises(WeightsError, match="HTTP 404") as info:
        weights.fetch(WeightFile(FILENAME, "https://example.invalid/x.h5", sha256(data)))
    assert f"TRANSFERKIT_WEIGHTS_MIRROR is {server.url('/mirror')}" in str(info.value)


def test_folder_mirror_works_offline(data: bytes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shared = tmp_path / "shared drive"
    shared.mkdir()
    (shared / FILENAME).write_bytes(data)
    monkeypatch.setenv("TRANSFERKIT_WEIGHTS_MIRROR", str(shared))
    monkeypatch.setenv("TRANSFERKIT_OFFLINE", "1")
    path = weights.fetch(WeightFile(FILENAME, "https://example.invalid/x.h5", sha256(data)))
    assert path.read_bytes() == data and path.parent != shared


def test_offline_uses_the_cached_file(
    server: LoopbackServer, data: bytes, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache.mkdir()
    (cache / FILENAME).write_bytes(data)
    monkeypatch.setenv("TRANSFERKIT_OFFLINE", "1")
    url = server.route(f"/w/{FILENAME}", data)
    assert weights.fetch(WeightFile(FILENAME, url, sha256(data))).read_bytes() == data
    assert server.requests == []


def test_offline_without_the_file_says_how_to_place_it(
    server: LoopbackServer, data: bytes, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRANSFERKIT_OFFLINE", "1")
    url = server.route(f"/w/{FILENAME}", data)
    with pytest.raises(OfflineError) as info:
        weights.fetch(WeightFile(FILENAME, url, sha256(data)), model_name="tk_test_net")
    message = str(info.value)
    assert FILENAME in message and url in message
    assert "`transferkit weights import tk_test_net <file>`" in message
    assert "\n" not in message
    assert server.requests == [] and leftovers(cache) == []


# --- two processes at once -----------------------------------------------------------------------------------

_WORKER = """
import sys, time
from pathlib import Path
from transferkit.zoo import weights
from transferkit.zoo.specs import WeightFile
ready, go = Path(sys.argv[1]), Path(sys.argv[2])
ready.touch()
while not go.exists():
    time.sleep(0.005)
print(weights.fetch(WeightFile(*sys.argv[3:6])))
"""


def test_two_processes_share_one_download(server: LoopbackServer, data: bytes, cache: Path, tmp_path: Path) -> None:
    url = server.route(f"/w/{FILENAME}", data, "slow", seconds=1.5)
    env = dict(os.environ, TRANSFERKIT_CACHE_DIR=str(cache))
    go = tmp_path / "go"
    ready = [tmp_path / f"ready{i}" for i in range(2)]
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", _WORKER, str(flag), str(go), FILENAME, url, sha256(data)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for flag in ready
    ]
    deadline = time.monotonic() + 60
    while not all(flag.exists() for flag in ready) and time.monotonic() < deadline:
        time.sleep(0.01)
    go.touch()  # both start fetching within milliseconds; the download takes 1.5 s
    results = [worker.communicate(timeout=60) for worker in workers]
    assert [worker.returncode for worker in workers] == [0, 0], results
    assert {out.strip() for out, _ in results} == {str(cache / FILENAME)}
    assert server.count(f"/w/{FILENAME}") == 1
    assert sum("Waiting for another process" in err for _, err in results) == 1  # they really overlapped
    assert (cache / FILENAME).read_bytes() == data
    assert leftovers(cache) == [FILENAME]


def test_importing_weights_stays_light() -> None:
    code = "import sys, transferkit.zoo.weights; print(sorted({'keras', 'torch', 'urllib.request'} & set(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


# --- files Keras publishes no hash for (MobileNet V1/V2) ----------------------------------------------------


@pytest.fixture(scope="module")
def hdf5_bytes(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A real HDF5 file, as every Keras weights file is."""
    import h5py
    import numpy as np

    path = tmp_path_factory.mktemp("h5") / "w.h5"
    with h5py.File(path, "w") as handle:
        handle["kernel"] = np.arange(12.0).reshape(3, 4)
    return path.read_bytes()


def test_a_file_without_a_published_hash_is_accepted_when_it_is_hdf5(
    server: LoopbackServer, hdf5_bytes: bytes, data: bytes, cache: Path
) -> None:
    good = weights.fetch(WeightFile(FILENAME, server.route(f"/w/{FILENAME}", hdf5_bytes), None))
    assert good.read_bytes() == hdf5_bytes
    assert weights.fetch(WeightFile(FILENAME, "https://example.invalid/x.h5", None)) == good  # cached: no network
    with pytest.raises(HashMismatchError, match="is not an HDF5 weights file"):
        weights.fetch(WeightFile(NOTOP, server.route(f"/w/{NOTOP}", data), None))  # e.g. a proxy's HTML page
    assert leftovers(cache) == [FILENAME]
