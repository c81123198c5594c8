"""Grad-CAM: the heat lies on the cat, at the image's own size, for zoo models and fine-tuned classifiers alike."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

import transferkit
from helpers import python
from transferkit.errors import ImageError, ModelFileError
from transferkit.inference.explain import class_index_of, crop_box, explain, grad_cam, overlay, overlay_png

CATS = range(281, 286)  # ImageNet's domestic cats


@pytest.fixture(scope="module")
def cat_left() -> np.ndarray:
    """300x300: a 150 px strip of chelsea's face (an eye, the nose) on the left, bricks on the right."""
    from skimage import data

    bricks = np.repeat(data.brick()[:300, :150, None], 3, axis=-1)
    return np.concatenate([data.chelsea()[:, 120:270], bricks], axis=1)


@pytest.fixture(scope="module")
def classifier(one_torch_thread: None) -> Any:
    """A fine-tuned classifier's shape (new head, not trained: Grad-CAM does not care how good it is)."""
    return transferkit.ImageClassifier.from_pretrained("efficientnet_lite0", classes=["cat", "bricks", "other"], seed=0)


def test_the_heat_lies_on_the_cats_half(lite0: Any, cat_left: np.ndarray) -> None:
    (ranked,) = transferkit.predict(lite0, cat_left, top=1000)
    assert ranked[0].class_index in CATS
    cat = next(p.class_index for p in ranked if p.class_index in CATS)
    heatmap = explain(lite0, cat_left, class_index=cat)
    cat_half, brick_half = heatmap[:, :150].sum(), heatmap[:, 150:].sum()
    assert cat_half > 3 * brick_half, (cat_half, brick_half)  # measured: 9.5x


def test_the_heatmap_has_the_images_own_size_and_the_models_answer(lite0: Any, chelsea: Path) -> None:
    found = grad_cam(lite0, chelsea)
    assert found.heatmap.shape == (300, 451) and found.heatmap.dtype == np.float32
    assert 0.0 <= found.heatmap.min() and found.heatmap.max() <= 1.0 and found.heatmap.max() > 0.9
    assert found.image.size == (451, 300)
    (top,) = transferkit.predict(lite0, chelsea, top=1)[0]
    assert (found.class_index, found.label) == (top.class_index, top.label)
    assert found.probability == pytest.approx(top.probability, abs=1e-4)
    left, top_edge, right, bottom = crop_box((300, 451), (224, 224), 0.875)
    assert not found.heatmap[:, :left].any() and not found.heatmap[:, right:].any()  # the crop's border: unseen


def test_a_fine_tuned_classifier_is_explained_with_its_own_classes(classifier: Any, chelsea: Path) -> None:
    found = grad_cam(classifier, Image.open(chelsea), class_index=1)
    assert found.label == "bricks" and found.heatmap.shape == (300, 451)
    assert 0.0 <= found.heatmap.min() and found.heatmap.max() <= 1.0
    assert found.heatmap[:, 0].any() and found.heatmap[:, -1].any()  # no crop: the whole image was seen
    assert explain(classifier, np.zeros((40, 60, 3), np.uint8)).shape == (40, 60)
    assert class_index_of(classifier, "Bricks") == 1 and class_index_of(classifier, "2") == 2


def test_mistakes_are_transferkit_errors_that_say_what_to_do(classifier: Any, chelsea: Path, tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match=r"out of range: the model has 3 classes \(0-2\)"):
        explain(classifier, chelsea, class_index=3)
    with pytest.raises(ModelFileError, match="must be an integer"):
        explain(classifier, chelsea, class_index="cat")  # type: ignore[arg-type]
    with pytest.raises(ModelFileError, match=r"no class 'brick'\. Did you mean 'bricks'\? Its classes: cat, bricks"):
        class_index_of(classifier, "brick")
    with pytest.raises(ModelFileError, match=r"explanations need the \.keras model"):
        explain(tmp_path / "model.onnx", chelsea)
    with pytest.raises(ModelFileError, match="has no spatial feature map"):
        explain(classifier.backbone, chelsea)
    with pytest.raises(ModelFileError, match="received str"):
        explain(transferkit.ImageClassifier("not a model", ["a", "b"], "x"), chelsea)
    with pytest.raises(transferkit.UnknownModelError, match="Did you mean"):
        explain("efficientnet_lite9", chelsea)
    with pytest.raises(ImageError, match="missing.jpg"):
        explain(classifier, tmp_path / "missing.jpg")


def test_crop_box_is_the_part_fit_shows_the_model() -> None:
    from transferkit.data.images import fit

    ramp = np.zeros((300, 451, 3), np.uint8)
    ramp[..., 0] = np.linspace(0, 255, 451)[None, :]
    ramp[..., 1] = np.linspace(0, 255, 300)[:, None]
    fitted = np.asarray(fit(Image.fromarray(ramp), (224, 224), 0.875), np.float64)
    left, top, right, bottom = crop_box((300, 451), (224, 224), 0.875)
    assert fitted[112, 0, 0] == pytest.approx(left * 255 / 450, abs=2.5)
    assert fitted[112, -1, 0] == pytest.approx(right * 255 / 450, abs=2.5)
    assert fitted[0, 112, 1] == pytest.approx(top * 255 / 299, abs=2.5)
    assert fitted[-1, 112, 1] == pytest.approx(bottom * 255 / 299, abs=2.5)
    assert crop_box((300, 451), (224, 224), None) == (0, 0, 451, 300)


def test_overlay_colours_the_image_at_its_size(chelsea: Path) -> None:
    heat = np.zeros((300, 451), np.float32)
    heat[:, 200:] = 1.0
    picture = overlay(chelsea, heat)
    assert picture.size == (451, 300) and picture.mode == "RGB"
    pixels, original = np.asarray(picture, np.int16), np.asarray(Image.open(chelsea), np.int16)
    redder = (pixels[..., 0] - pixels[..., 2]) - (original[..., 0] - original[..., 2])
    assert redder[:, 300:].mean() > 20 and redder[:, :100].mean() < -20  # hot: jet's red; cold: jet's blue
    assert np.array_equal(np.asarray(overlay(chelsea, heat, alpha=0.0)), np.asarray(Image.open(chelsea)))
    assert overlay(chelsea, np.ones((7, 7), np.float32)).size == (451, 300)  # another size is stretched
    assert Image.open(io.BytesIO(overlay_png(chelsea, heat))).size == (451, 300)


def test_explain_is_public() -> None:
    assert transferkit.explain is explain
    assert "explain" in transferkit.__all__


@pytest.mark.slow
def test_jax_gives_the_same_heatmap(lite0: Any, cat_left: np.ndarray, tmp_path: Path) -> None:
    np.save(tmp_path / "image.npy", cat_left)
    code = (
        "import sys, numpy as np, transferkit, keras; assert keras.backend.backend() == 'jax';"
        "image = np.load(sys.argv[1]); np.save(sys.argv[2], transferkit.explain('efficientnet_lite0', image, 285))"
    )
    result = python(code, str(tmp_path / "image.npy"), str(tmp_path / "heat.npy"), KERAS_BACKEND="jax")
    assert result.returncode == 0, result.stderr[-2000:]
    assert np.allclose(np.load(tmp_path / "heat.npy"), explain(lite0, cat_left, 285), atol=1e-3)
