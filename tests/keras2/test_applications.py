"""The article's workflow on transferkit.applications: load, remove the classifier, add, compile, fit, predict."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import transferkit
from transferkit.zoo import registry
from transferkit.zoo.specs import ModelSpec

SIZE = 96
CLASSES = ("cat", "coffee", "rocket")


def _labelled_folder(root: Path, per_class: int, seed: int) -> Path:
    """Random crops (some mirrored) of three photos scikit-image ships, one sub-folder per class, as JPEG files."""
    from PIL import Image
    from skimage import data

    rng = np.random.default_rng(seed)
    for name, photo in zip(CLASSES, (data.chelsea(), data.coffee(), data.rocket())):
        (root / name).mkdir(parents=True)
        height, width = photo.shape[:2]
        for i in range(per_class):
            scale = rng.uniform(0.45, 0.8)
            h, w = int(height * scale), int(width * scale)
            top, left = rng.integers(0, height - h + 1), rng.integers(0, width - w + 1)
            crop = photo[top : top + h, left : left + w]
            if rng.random() < 0.5:
                crop = crop[:, ::-1]
            Image.fromarray(np.ascontiguousarray(crop)).save(root / name / f"{name}_{i}.jpg", quality=90)
    return root


def _arrays(folder: Path) -> tuple[np.ndarray, np.ndarray, list[Path]]:
    """Images (0-255, 96 px) and one-hot labels read from a class-per-folder tree."""
    from transferkit.data import images

    paths = sorted(folder.glob("*/*.jpg"))
    x = np.stack([images.load(p, (SIZE, SIZE)) for p in paths])
    y = np.eye(len(CLASSES), dtype="float32")[[CLASSES.index(p.parent.name) for p in paths]]
    return x, y, paths


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("labelled")
    return _labelled_folder(root / "train", 8, seed=0), _labelled_folder(root / "validation", 4, seed=1)


def _trainable(model: Any) -> set[str]:
    """Names of the layers (nested ones included, models excluded) whose weights training would change."""
    from transferkit.models.graph import walk

    return {layer.name for layer, _ in walk(model) if not hasattr(layer, "layers") and layer.trainable_weights}


def _lite0(**kwargs: Any) -> Any:
    from transferkit.applications import EfficientNetLite0

    return EfficientNetLite0(weights="imagenet", input_shape=(SIZE, SIZE, 3), **kwargs)


@pytest.mark.parametrize("spec", list(registry.all_specs()), ids=lambda s: s.keras_name)
def test_every_registered_model_has_a_constructor(spec: ModelSpec) -> None:
    from transferkit import applications

    build = getattr(applications, spec.keras_name)
    assert build.__name__ == spec.keras_name and spec.keras_name in applications.__all__
    assert list(inspect.signature(build).parameters)[:2] == ["include_top", "weights"]


def test_inception_is_the_article_name_for_inception_v3() -> None:
    from transferkit import applications

    assert applications.Inception.model_name == "InceptionV3"  # type: ignore[attr-defined]
    model = applications.Inception(weights=None, input_shape=(75, 75, 3))
    assert model.model_name == "inception_v3"
    assert [layer.name for layer in model.top_layers] == ["avg_pool", "predictions"]


def test_a_misspelt_model_name_suggests_the_right_one() -> None:
    from transferkit import applications

    with pytest.raises(AttributeError, match=r"no model 'EfficentNetLite0'\. Did you mean 'EfficientNetLite0'"):
        applications.EfficentNetLite0  # noqa: B018


def test_layers_are_the_backbone_then_the_top(photo_dir: Path) -> None:
    from transferkit.data import images

    model = _lite0()
    assert [layer.name for layer in model.layers] == ["efficientnet_lite0", "avg_pool", "top_dropout", "predictions"]
    assert model.backbone is model.layers[0] and model.model_name == "efficientnet_lite0"
    batch = np.stack([images.load(photo_dir / "chelsea.png", (SIZE, SIZE), 0.875)])
    functional = transferkit.load_pretrained("efficientnet_lite0", input_shape=(SIZE, SIZE, 3))
    np.testing.assert_allclose(model.predict(batch, verbose=0), functional.predict(batch, verbose=0), atol=1e-6)


@pytest.mark.slow
def test_the_article_workflow(folders: tuple[Path, Path], tmp_path: Path) -> None:
    """Load with ImageNet weights -> remove the ImageNet classifier -> add Dense -> compile -> fit -> predict."""
    import keras
    from keras.layers import Dense

    from transferkit import ImageDataGenerator
    from transferkit.applications import EfficientNetLite0
    from transferkit.errors import SurgeryError

    keras.utils.set_random_seed(0)
    train_dir, validation_dir = folders
    # The article's data path, exactly: rescale=1./255 included (its models accept 0-1 as well as 0-255).
    datagen = ImageDataGenerator(rescale=1.0 / 255, shear_range=0.2, zoom_range=0.2, horizontal_flip=True)
    train_generator = datagen.flow_from_directory(
        train_dir, target_size=(SIZE, SIZE), batch_size=8, class_mode="categorical", seed=0
    )
    validation = ImageDataGenerator(rescale=1.0 / 255).flow_from_directory(
        validation_dir, target_size=(SIZE, SIZE), batch_size=32, class_mode="categorical", shuffle=False
    )
    x_val, y_val = validation[0]

    model = EfficientNetLite0(weights="imagenet", input_shape=(SIZE, SIZE, 3))
    with pytest.raises(SurgeryError, match=r"model.layers\[0\] is the pretrained backbone .*model.pop\(\)"):
        model.remove(model.layers[0])  # the article's literal call
    model.remove(model.layers[-1])  # its intended meaning: remove the ImageNet classifier
    model.add(Dense(3, activation="softmax"))
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(train_generator, epochs=2, verbose=0)
    probabilities = model.predict(x_val, verbose=0)

    assert probabilities.shape == (len(y_val), 3) and float(x_val.max()) <= 1.0
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    accuracy = float(np.mean(probabilities.argmax(axis=1) == y_val.argmax(axis=1)))
    assert accuracy >= 0.75, (accuracy, history.history)  # chance is 0.33

    path = tmp_path / "article.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    assert type(loaded).__name__ == "PretrainedModel"
    assert [layer.name for layer in loaded.layers] == [layer.name for layer in model.layers]
    np.testing.assert_array_equal(loaded.predict(x_val, verbose=0), probabilities)


def test_the_article_order_add_first_then_remove_the_classifier() -> None:
    import keras

    from transferkit.errors import SurgeryError

    model = _lite0()
    model.add(keras.layers.Dense(3, activation="softmax", name="new_classes"))
    with pytest.raises(SurgeryError, match=r"top layers: avg_pool, top_dropout, predictions, new_classes"):
        model.remove(model.layers[0])
    with pytest.warns(UserWarning, match="'new_classes'.*re-initialised"):
        model.remove("predictions")
    assert [layer.name for layer in model.layers] == ["efficientnet_lite0", "avg_pool", "top_dropout", "new_classes"]
    assert model.output_shape == (None, 3) and model.get_layer("new_classes").kernel.shape == (1280, 3)


def test_inner_layers_and_the_backbone_cannot_be_popped_or_removed() -> None:
    from transferkit.errors import SurgeryError

    model = _lite0()
    with pytest.raises(SurgeryError, match=r"'block3a_dwconv' is inside .*model.cut\(at='block3a_dwconv'\)"):
        model.remove("block3a_dwconv")
    for _ in range(3):
        model.pop()
    assert model.output_shape == (None, 3, 3, 1280)
    with pytest.raises(SurgeryError, match=r"no layers on top of its backbone .*model.cut\(at=NAME\)"):
        model.pop()


def test_cut_and_replace_head_in_place(photo_dir: Path, tmp_path: Path) -> None:
    import keras

    model = _lite0()
    assert model.backbone.get_layer("preprocess").crop_pct == 0.875  # an ImageNet classifier centre-crops
    model.cut(at="block6a_expand_activation")
    assert [layer.name for layer in model.layers] == ["efficientnet_lite0"]
    assert model.output_shape == (None, 6, 6, 672)
    model.replace_head(classes=["cat", "coffee", "rocket"], dropout=0.3)
    assert [layer.name for layer in model.top_layers] == ["head_pool", "head_dropout", "predictions"]
    assert model.get_layer("head_dropout").rate == 0.3
    assert model.backbone.get_layer("preprocess").crop_pct is None  # a new classifier takes whole images
    path = tmp_path / "cut.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    assert loaded.class_names == ["cat", "coffee", "rocket"] and loaded.output_shape == (None, 3)
    (predictions,) = transferkit.predict(loaded, photo_dir / "chelsea.png", top=3)
    assert {p.label for p in predictions} == {"cat", "coffee", "rocket"}
    model.cut(at="head_pool")
    assert model.output_shape == (None, 672) and model.class_names is None


@pytest.mark.slow
def test_freeze_trains_only_the_top_and_unfreeze_keeps_batchnorm_frozen(folders: tuple[Path, Path]) -> None:
    import keras

    keras.utils.set_random_seed(0)
    x_train, y_train, _ = _arrays(folders[0])
    model = _lite0()
    model.pop()
    model.add(keras.layers.Dense(3, activation="softmax", name="classes"))
    model.freeze()
    assert _trainable(model) == {"classes"}
    before = [np.array(keras.ops.convert_to_numpy(w)) for w in model.backbone.weights]
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    model.fit(x_train[:12], y_train[:12], epochs=1, batch_size=6, verbose=0)
    after = [np.array(keras.ops.convert_to_numpy(w)) for w in model.backbone.weights]
    assert all(np.array_equal(a, b) for a, b in zip(before, after))  # weights and BatchNorm statistics

    model.unfreeze("block6*")
    trainable = _trainable(model)
    assert "block6a_expand_conv" in trainable and "classes" in trainable
    assert not any(name.endswith("_bn") or name.startswith("block5") for name in trainable)
    model.unfreeze()
    assert not any(name.endswith("_bn") for name in _trainable(model))
    assert "stem_conv" in _trainable(model) and len(model.trainable_weights) == 49 + 2  # 49 convolutions


def test_keras_arguments_pooling_and_classes() -> None:
    from transferkit.errors import SurgeryError

    pooled = _lite0(include_top=False, pooling="avg")
    assert [layer.name for layer in pooled.layers] == ["efficientnet_lite0", "avg_pool"]
    assert pooled.output_shape == (None, 1280)
    assert _lite0(classes=5).output_shape == (None, 5)
    with pytest.raises(SurgeryError, match="pooling must be None, 'avg' or 'max'"):
        _lite0(include_top=False, pooling="mean")
    with pytest.raises(SurgeryError, match="classes=5 needs include_top=True"):
        _lite0(include_top=False, classes=5)
