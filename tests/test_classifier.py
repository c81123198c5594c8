"""ImageClassifier: a new head on a pretrained backbone, BatchNorm-safe freezing, fine-tuning, saving."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import transferkit
from transferkit import data
from transferkit.classifier import ImageClassifier

SIZE = 96


@pytest.fixture(scope="module")
def splits(textures: tuple[Path, Path]) -> tuple[Any, Any]:
    train_dir, val_dir = textures
    train = data.image_folder(train_dir, SIZE, batch_size=16, seed=0, augment=["flip"])
    val = data.image_folder(val_dir, SIZE, batch_size=16, class_names=train.class_names, shuffle=False)
    return train, val


def _bn_state(classifier: ImageClassifier) -> list[np.ndarray]:
    import keras

    return [
        keras.ops.convert_to_numpy(w)
        for layer in classifier.backbone.layers
        if isinstance(layer, keras.layers.BatchNormalization)
        for w in layer.weights
    ]


def test_new_head_for_the_classes() -> None:
    clf = ImageClassifier.from_pretrained(classes=["a", "b", "c"], input_shape=(SIZE, SIZE, 3))
    assert clf.model.output_shape == (None, 3)
    assert clf.class_names == ["a", "b", "c"] and clf.image_size == (SIZE, SIZE)
    head = clf.model.get_layer("predictions")
    assert {id(w) for w in clf.model.trainable_weights} == {id(w) for w in head.trainable_weights}
    with pytest.raises(ValueError, match="at least 2 classes"):
        ImageClassifier.from_pretrained(classes=["only"])


def test_unfreeze_keeps_batchnorm_frozen_and_counts() -> None:
    import keras

    clf = ImageClassifier.from_pretrained(num_classes=2, input_shape=(SIZE, SIZE, 3))
    layers = clf.backbone.layers
    some = clf.unfreeze(0.3)
    assert 0 < some < clf.unfreeze(None)
    assert not any(layer.trainable for layer in layers if isinstance(layer, keras.layers.BatchNormalization))
    clf.unfreeze("top_conv")
    assert layers[-3].name == "top_conv" and layers[-3].trainable and not layers[5].trainable
    assert clf.unfreeze(-3) == clf.unfreeze("top_conv")
    with pytest.raises(transferkit.SurgeryError, match="no layer named 'nope'"):
        clf.unfreeze("nope")
    with pytest.raises(ValueError, match="fraction"):
        clf.unfreeze(1.5)


def test_batchnorm_statistics_do_not_change_in_training(splits: tuple[Any, Any]) -> None:
    train, val = splits
    clf = ImageClassifier.from_pretrained(classes=train.class_names, input_shape=(SIZE, SIZE, 3))
    before = _bn_state(clf)
    clf.fine_tune(train, val, head_epochs=1, epochs=1, cache_features=False, verbose=0, seed=0)
    after = _bn_state(clf)
    assert len(before) > 100
    for a, b in zip(before, after):
        np.testing.assert_array_equal(a, b)
    conv = [w for w in clf.backbone.get_layer("top_conv").weights]
    assert conv and conv[0].trainable  # the unfrozen part did train around the frozen BatchNorms


@pytest.mark.parametrize("cache", [True, False])
def test_fine_tune_learns_the_textures(splits: tuple[Any, Any], cache: bool) -> None:
    """Measured: 1.0 validation accuracy both ways (4 classes, chance 0.25); asserted with margin."""
    train, val = splits
    clf = ImageClassifier.from_pretrained(classes=train.class_names, input_shape=(SIZE, SIZE, 3))
    result = clf.fine_tune(train, val, head_epochs=6, epochs=0, cache_features=cache, verbose=0, seed=0)
    assert result.history["val_accuracy"][-1] >= 0.8
    assert result.history["phase"] == [1.0] * result.epochs


def test_feature_cache_stores_augmented_views(splits: tuple[Any, Any]) -> None:
    from transferkit import features
    from transferkit.finetune import unaugmented

    train, _ = splits
    clf = ImageClassifier.from_pretrained(classes=train.class_names, input_shape=(SIZE, SIZE, 3))
    cached = features.extract(clf, [unaugmented(train), train, train], verbose=False)
    assert cached.features.shape == (3, len(train.files), 1280)
    assert not np.allclose(cached.features[0], cached.features[1])  # flips change the features
    assert cached.labels.shape == (3, len(train.files), len(train.class_names))


@pytest.mark.parametrize(("augment", "views"), [(None, 1), (["flip"], 3)])
def test_views_cached_only_when_training_augments(
    textures: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch, augment: Any, views: int
) -> None:
    """A shuffled but unaugmented dataset gives the same features every pass: one view, not three."""
    from transferkit import features

    extract, shapes = features.extract, []

    def recording(*args: Any, **kwargs: Any) -> Any:
        cached = extract(*args, **kwargs)
        shapes.append(cached.features.shape)
        return cached

    monkeypatch.setattr(features, "extract", recording)
    train = data.image_folder(textures[0], SIZE, batch_size=16, seed=0, augment=augment)
    clf = ImageClassifier.from_pretrained(classes=train.class_names, input_shape=(SIZE, SIZE, 3))
    clf.fine_tune(train, None, head_epochs=1, epochs=0, verbose=0)
    assert shapes == [(views, len(train.files), 1280)]


def test_same_seed_same_head(textures: tuple[Path, Path]) -> None:
    import keras

    heads = []
    for _ in range(2):  # a run from scratch each time: new datasets, new model, the same seeds
        train = data.image_folder(textures[0], SIZE, batch_size=16, seed=3, augment=["flip", "rotate"])
        clf = ImageClassifier.from_pretrained(classes=train.class_names, input_shape=(SIZE, SIZE, 3), seed=7)
        clf.fine_tune(train, None, head_epochs=2, epochs=0, views=2, verbose=0, seed=7)
        heads.append(keras.ops.convert_to_numpy(clf.model.get_layer("predictions").kernel))
    np.testing.assert_allclose(heads[0], heads[1], atol=1e-6)


def test_balanced_class_weight(textures: tuple[Path, Path]) -> None:
    train = data.image_folder(textures[0], SIZE, batch_size=16)
    clf = ImageClassifier.from_pretrained(classes=train.class_names, input_shape=(SIZE, SIZE, 3))
    result = clf.fine_tune(train, None, head_epochs=1, epochs=0, class_weight="balanced", verbose=0)
    assert result.epochs == 1


def test_save_load_predict_identical(tmp_path: Path, splits: tuple[Any, Any], chelsea: Path) -> None:
    train, val = splits
    clf = ImageClassifier.from_pretrained(classes=train.class_names, input_shape=(SIZE, SIZE, 3))
    clf.fine_tune(train, val, head_epochs=2, epochs=0, verbose=0, seed=0)
    clf.save(tmp_path / "model.keras")
    loaded = transferkit.load_classifier(tmp_path / "model.keras")
    assert loaded.class_names == train.class_names and loaded.base_model == "efficientnet_lite0"
    images = val.files[:4] + [str(chelsea)]
    ours = [[p.probability for p in row] for row in clf.predict(images, top=4)]
    theirs = [[p.probability for p in row] for row in loaded.predict(images, top=4)]
    np.testing.assert_array_equal(ours, theirs)
    assert {p.label for p in loaded.predict(images[0])[0]} <= set(train.class_names)
    from transferkit.artifact import read_metadata

    info = read_metadata(tmp_path / "model.keras")
    assert info["image_size"] == [SIZE, SIZE] and info["preprocessing"]["mean"] == [127.0, 127.0, 127.0]


def test_model_file_errors(tmp_path: Path, lite0: Any) -> None:
    with pytest.raises(transferkit.ModelFileError, match="does not exist"):
        transferkit.load_classifier(tmp_path / "missing.keras")
    lite0.save(tmp_path / "plain.keras")
    with pytest.raises(transferkit.ModelFileError, match="without transferkit metadata"):
        transferkit.load_classifier(tmp_path / "plain.keras")
    (tmp_path / "junk.keras").write_bytes(b"not a zip")
    with pytest.raises(transferkit.ModelFileError, match="not a readable"):
        transferkit.load_classifier(tmp_path / "junk.keras")
    clf = ImageClassifier.from_pretrained(num_classes=2, input_shape=(SIZE, SIZE, 3))
    with pytest.raises(transferkit.ModelFileError, match=r"end in '\.keras'"):
        clf.save(tmp_path / "model.h5")


def test_mixed_precision_trains(splits: tuple[Any, Any]) -> None:
    train, val = splits
    clf = ImageClassifier.from_pretrained(classes=train.class_names, input_shape=(SIZE, SIZE, 3), mixed_precision=True)
    assert clf.backbone.get_layer("top_conv").compute_dtype == "bfloat16"
    assert clf.model.get_layer("predictions").compute_dtype == "float32"
    result = clf.fine_tune(train, val, head_epochs=4, epochs=0, verbose=0, seed=0)
    assert result.history["val_accuracy"][-1] >= 0.7
