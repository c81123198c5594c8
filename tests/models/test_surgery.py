"""Model surgery on real functional models: the zoo's top layers, pop/remove/cut/add/replace_head, freezing."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import transferkit
from transferkit import surgery
from transferkit.errors import SurgeryError
from transferkit.models.graph import walk

SIZE = 96


def _lite0() -> Any:
    """A fresh pretrained EfficientNet-Lite0 at 96 px (surgery shares layers, so tests that train need their own)."""
    return transferkit.load_pretrained("efficientnet_lite0", input_shape=(SIZE, SIZE, 3))


@pytest.fixture(scope="module")
def lite() -> Any:
    """Read-only: tests using it never train or freeze it."""
    return _lite0()


@pytest.fixture(scope="module")
def photos(photo_dir: Path) -> np.ndarray:
    """The three real photos at 96 px, each also flipped: 6 images, classes 0, 1, 2, 0, 1, 2."""
    from transferkit.data import images

    batch = np.stack([images.load(photo_dir / n, (SIZE, SIZE)) for n in ("chelsea.png", "coffee.jpg", "astronaut.jpg")])
    return np.concatenate([batch, batch[:, :, ::-1]])


LABELS = np.eye(3, dtype="float32")[[0, 1, 2, 0, 1, 2]]


def _keras_family(name: str) -> Any:
    import keras

    shape = (75, 75, 3) if name == "InceptionV3" else (32, 32, 3)
    return getattr(keras.applications, name)(weights=None, classes=10, input_shape=shape)


@pytest.mark.parametrize(
    ("family", "expected"),
    [
        ("VGG16", ["Flatten", "Dense", "Dense", "Dense"]),
        ("InceptionV3", ["GlobalAveragePooling2D", "Dense"]),
        ("ResNet50", ["GlobalAveragePooling2D", "Dense"]),
        ("DenseNet121", ["GlobalAveragePooling2D", "Dense"]),
        ("MobileNet", ["GlobalAveragePooling2D", "Dropout", "Conv2D", "Reshape", "Activation"]),
        ("MobileNetV2", ["GlobalAveragePooling2D", "Dense"]),
    ],
)
def test_top_layers_of_each_family(family: str, expected: list[str]) -> None:
    # 32 px inputs make the last feature maps 1x1: the head must still be found by structure, not by shape.
    top = surgery.top_layers(_keras_family(family))
    assert [type(layer).__name__ for layer in top] == expected
    assert top[-1].name == "predictions"


def test_top_layers_of_lite_and_of_a_model_without_top(lite: Any) -> None:
    assert [layer.name for layer in surgery.top_layers(lite)] == ["avg_pool", "top_dropout", "predictions"]
    headless = transferkit.load_pretrained("efficientnet_lite0", weights=None, include_top=False)
    assert surgery.top_layers(headless) == []
    with pytest.raises(SurgeryError, match=r"has nothing to pop. Use cut\(model, at=NAME\)"):
        surgery.pop(headless)


def test_pop_removes_layers_from_the_top(lite: Any) -> None:
    assert surgery.pop(lite).output_shape == (None, 1280)
    features = surgery.pop(lite, 3)
    assert features.output_shape == (None, 3, 3, 1280)
    assert features.layers[-1].name == "top_activation"
    assert lite.output_shape == (None, 1000)  # the original is untouched
    with pytest.raises(SurgeryError, match=r"3 top layers \(avg_pool, top_dropout, predictions\); n must be 1 to 3"):
        surgery.pop(lite, 4)


def test_removing_the_input_layer_says_what_to_do(lite: Any) -> None:
    for layer in (lite.layers[0], 0, "image"):
        with pytest.raises(SurgeryError, match=r"'image' is the input layer.*pop\(\).*cut\(at=NAME\)"):
            surgery.remove(lite, layer)


def test_removing_a_middle_layer_suggests_cut(lite: Any) -> None:
    with pytest.raises(SurgeryError, match=r"'block3a_dwconv' is inside .*cut\(at='block3a_dwconv'\)"):
        surgery.remove(lite, "block3a_dwconv")
    with pytest.raises(SurgeryError, match=r"no layer named 'block3a_dwconf'\. Did you mean 'block3a_dwconv'"):
        surgery.remove(lite, "block3a_dwconf")


def test_removing_a_layer_that_flattens_would_break_the_layers_above(lite: Any) -> None:
    with pytest.raises(SurgeryError, match=r"feed 'top_dropout' a 4-D tensor .*pop\(n\)"):
        surgery.remove(lite, "avg_pool")


def test_remove_keeps_layers_above_and_reinitialises_one_whose_input_changes(lite: Any) -> None:
    import keras

    dense = keras.layers.Dense(3, activation="softmax", name="new_classes")
    grown = surgery.add(lite, dense)
    assert grown.output_shape == (None, 3)
    with pytest.warns(UserWarning, match=r"'new_classes' \(\(None, 1000\) -> \(None, 1280\)\): re-initialised"):
        result = surgery.remove(grown, "predictions")
    assert [layer.name for layer in surgery.top_layers(result)] == ["avg_pool", "top_dropout", "new_classes"]
    assert result.get_layer("new_classes").kernel.shape == (1280, 3)
    # A same-shape layer is simply left out, without any new weights.
    no_dropout = surgery.remove(lite, "top_dropout")
    assert no_dropout.get_layer("predictions") is lite.get_layer("predictions")


def test_cut_ends_the_network_at_an_inner_feature_map(lite: Any, photos: np.ndarray) -> None:
    import keras

    cut = surgery.cut(lite, at="block6a_expand_activation")
    assert cut.output_shape == (None, 6, 6, 672)
    assert cut.layers[-1].name == "block6a_expand_activation"
    expected = keras.Model(lite.input, lite.get_layer("block6a_expand_activation").output)
    np.testing.assert_allclose(cut.predict(photos, verbose=0), expected.predict(photos, verbose=0))
    with pytest.raises(SurgeryError, match="is the input layer, so nothing would be left"):
        surgery.cut(lite, at="image")


def test_add_refuses_a_duplicate_name(lite: Any) -> None:
    import keras

    with pytest.raises(SurgeryError, match="already has a layer named 'predictions'"):
        surgery.add(lite, keras.layers.Dense(3, name="predictions"))
    with pytest.raises(SurgeryError, match="at least one layer"):
        surgery.add(lite)


def test_replace_head_arguments_are_checked(lite: Any) -> None:
    with pytest.raises(SurgeryError, match="num_classes >= 2"):
        surgery.replace_head(lite, 1)
    with pytest.raises(SurgeryError, match="num_classes=2 but 3 class names"):
        surgery.replace_head(lite, 2, classes=["a", "b", "c"])
    with pytest.raises(SurgeryError, match=r"dropout must be in \[0, 1\)"):
        surgery.replace_head(lite, 3, dropout=1.5)


@pytest.mark.slow
def test_surgery_results_train_save_and_load(photos: np.ndarray, tmp_path: Path) -> None:
    import keras

    keras.utils.set_random_seed(0)
    base = _lite0()
    model = surgery.replace_head(surgery.cut(base, at="block6a_expand_activation"), classes=["cat", "cup", "person"])
    assert [layer.name for layer in surgery.top_layers(model)] == ["head_pool", "head_dropout", "predictions"]
    assert model.class_names == ["cat", "cup", "person"]
    stacked = surgery.add(surgery.pop(base), keras.layers.Dense(3, activation="softmax", name="classes"))
    for result in (model, stacked):
        result.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
        history = result.fit(photos, LABELS, epochs=1, batch_size=6, verbose=0)
        assert np.isfinite(history.history["loss"]).all()
        path = tmp_path / f"{result.layers[-1].name}.keras"
        result.save(path)
        loaded = keras.saving.load_model(path, safe_mode=True)
        np.testing.assert_array_equal(loaded.predict(photos, verbose=0), result.predict(photos, verbose=0))


def _numpy(variable: Any) -> np.ndarray:
    import keras

    return np.array(keras.ops.convert_to_numpy(variable))


def _batchnorm_state(model: Any) -> dict[str, list[np.ndarray]]:
    return {
        layer.path: [_numpy(v) for v in (layer.moving_mean, layer.moving_variance, layer.gamma, layer.beta)]
        for layer, _ in walk(model)
        if type(layer).__name__ == "BatchNormalization"
    }


@pytest.mark.slow
def test_frozen_batchnorm_statistics_do_not_change_in_training(photos: np.ndarray) -> None:
    import keras

    keras.utils.set_random_seed(0)
    model = surgery.add(surgery.pop(_lite0()), keras.layers.Dense(3, activation="softmax", name="classes"))
    surgery.unfreeze(surgery.freeze(model, "*"), "classes")
    before, head_before = _batchnorm_state(model), _numpy(model.get_layer("classes").kernel)
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="categorical_crossentropy")
    model.fit(photos, LABELS, epochs=2, batch_size=3, verbose=0)
    after = _batchnorm_state(model)
    assert len(before) == 49
    for name, values in before.items():
        for old, new in zip(values, after[name]):
            np.testing.assert_array_equal(old, new, err_msg=name)
    assert not np.allclose(head_before, _numpy(model.get_layer("classes").kernel))  # the head did train

    # The same training with BatchNormalization unfrozen does move the statistics: the check above can fail.
    surgery.unfreeze(model, "*", include_batchnorm=True)
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="categorical_crossentropy")
    model.fit(photos, LABELS, epochs=1, batch_size=3, verbose=0)
    moved = _batchnorm_state(model)
    assert any(not np.array_equal(after[name][0], moved[name][0]) for name in after)


def test_freeze_and_unfreeze_by_glob_and_regex() -> None:
    model = _lite0()
    surgery.freeze(model, "*")
    assert model.trainable_weights == []
    surgery.unfreeze(model, "block6*")
    trainable = {layer.name for layer in model.layers if layer.trainable and layer.weights}
    assert "block6a_expand_conv" in trainable and "block6d_project_conv" in trainable
    assert "block6a_bn" not in trainable  # BatchNormalization stays frozen by default
    assert not any(name.startswith(("block5", "top_", "predictions")) for name in trainable)
    surgery.unfreeze(model, re.compile(r"^predictions$|block6a_bn"), include_batchnorm=True)
    assert model.get_layer("block6a_bn").trainable and model.get_layer("predictions").trainable
    surgery.freeze(model, re.compile("block6"))
    assert {w.path.split("/")[0] for w in model.trainable_weights} == {"predictions"}
    with pytest.raises(SurgeryError, match=r"No layer of 'efficientnet_lite0' matches 'blok6\*'"):
        surgery.freeze(model, "blok6*")


def test_unfreezing_inside_a_frozen_nested_model() -> None:
    import keras

    backbone = surgery.pop(_lite0(), 3)
    inputs = keras.Input((SIZE, SIZE, 3))
    outer = keras.Model(inputs, keras.layers.Dense(2)(keras.layers.GlobalAveragePooling2D()(backbone(inputs))))
    backbone.trainable = False
    surgery.unfreeze(outer, "top_conv")
    assert backbone.trainable  # a frozen parent would hide the unfrozen layer's weights
    assert {w.path for w in backbone.trainable_weights} == {"top_conv/kernel"}
    assert not backbone.get_layer("block6a_expand_conv").trainable


def test_one_vocabulary_picks_layers_by_pattern_or_from_a_layer_on() -> None:
    model = _lite0()
    surgery.freeze(model)
    assert model.trainable_weights == []
    surgery.unfreeze(model, from_layer="top_conv")  # a name: that layer and every one after it
    assert {layer.name for layer in model.layers if layer.trainable and layer.weights} == {"top_conv", "predictions"}
    names = [layer.name for layer in surgery.select(model, from_layer=-3)]
    assert names == ["avg_pool", "top_dropout", "predictions"]  # an index counts from the end too
    assert len(surgery.select(model, from_layer=0.1)) == round(len(model.layers) * 0.1)  # the top 10%
    assert [layer.name for layer in surgery.select(model, "top_*")] == ["top_conv", "top_bn", "top_activation",
                                                                        "top_dropout"]  # fmt: skip
    with pytest.raises(SurgeryError, match="a pattern or from_layer, not both"):
        surgery.select(model, "top_*", from_layer=3)
    with pytest.raises(SurgeryError, match=r"fraction of layers must be in \(0, 1\]"):
        surgery.unfreeze(model, from_layer=1.5)
    with pytest.raises(SurgeryError, match="no layer named 'top_cnov'. Did you mean 'top_conv'"):
        surgery.freeze(model, from_layer="top_cnov")
    with pytest.raises(SurgeryError, match="layer name, an index or a fraction"):
        surgery.freeze(model, from_layer=True)
