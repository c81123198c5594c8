"""Two-phase fine-tuning on a real labelled folder: it learns, BatchNorm statistics never move, seeds repeat
a run exactly, balanced class weights change what is learnt, mixed precision trains."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from transferkit import ImageClassifier, data

SIZE = 96


def _bn_state(classifier: ImageClassifier) -> list[np.ndarray]:
    import keras

    return [
        keras.ops.convert_to_numpy(w)
        for layer in classifier.backbone.layers
        if isinstance(layer, keras.layers.BatchNormalization)
        for w in layer.weights
    ]


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


def test_same_seed_same_head(textures: tuple[Path, Path]) -> None:
    import keras

    heads = []
    for _ in range(2):  # a run from scratch each time: new datasets, new model, the same seeds
        train = data.image_folder(textures[0], SIZE, batch_size=16, seed=3, augment=["flip", "rotate"])
        clf = ImageClassifier.from_pretrained(classes=train.class_names, input_shape=(SIZE, SIZE, 3), seed=7)
        clf.fine_tune(train, None, head_epochs=2, epochs=0, views=2, verbose=0, seed=7)
        heads.append(keras.ops.convert_to_numpy(clf.model.get_layer("predictions").kernel))
    np.testing.assert_allclose(heads[0], heads[1], atol=1e-6)


def _head_after_one_epoch(train: Any, class_weight: Any) -> np.ndarray:
    import keras

    clf = ImageClassifier.from_pretrained(classes=train.class_names, input_shape=(SIZE, SIZE, 3), seed=7)
    clf.fine_tune(train, None, head_epochs=1, epochs=0, class_weight=class_weight, verbose=0, seed=7)
    return np.asarray(keras.ops.convert_to_numpy(clf.model.get_layer("predictions").kernel))


def test_balanced_class_weight_changes_what_is_learnt(textures: tuple[Path, Path]) -> None:
    """On an imbalanced folder (12 brick images, 3 of each other class) the same seeded run learns another head
    with class_weight="balanced": the rare classes weigh four times as much as brick."""
    full = data.image_folder(textures[0], SIZE, batch_size=8, seed=0)
    keep = [i for i, label in enumerate(full.labels) if label == 0 or sum(full.labels[:i] == label) < 3]
    train = full.subset(keep)
    assert list(train.class_counts) == [12, 3, 3, 3]
    weights = data.class_weights(train)
    assert weights[1] == pytest.approx(4 * weights[0])
    plain, again, balanced = (_head_after_one_epoch(train, w) for w in (None, None, "balanced"))
    np.testing.assert_array_equal(plain, again)  # the run is deterministic, so any difference is the weights'
    assert np.abs(balanced - plain).max() > 1e-3


def test_mixed_precision_trains(splits: tuple[Any, Any]) -> None:
    train, val = splits
    clf = ImageClassifier.from_pretrained(classes=train.class_names, input_shape=(SIZE, SIZE, 3), mixed_precision=True)
    assert clf.backbone.get_layer("top_conv").compute_dtype == "bfloat16"
    assert clf.model.get_layer("predictions").compute_dtype == "float32"
    result = clf.fine_tune(train, val, head_epochs=4, epochs=0, views=1, verbose=0, seed=0)
    assert result.history["val_accuracy"][-1] >= 0.7


@pytest.mark.parametrize("phase_two_kept", [False, True])
def test_the_caches_give_what_the_trained_model_computes(
    splits: tuple[Any, Any], phase_two_kept: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The report's validation probabilities and the out-of-distribution score's features are read from the
    caches after training, not from another pass over the images: they are what the trained model computes,
    whether the head's weights were kept (the head fit's own outputs) or phase two's (the top part run on the
    cached activations; the training cache is float16: measured within 0.0045 of pooled features up to 6)."""
    from transferkit.train import callbacks

    if phase_two_kept:  # whatever the scores: keep phase two's weights, or the head's
        monkeypatch.setattr(callbacks.KeepBest, "on_train_end", lambda self, logs=None: None)
    else:
        monkeypatch.setattr(callbacks.KeepBest, "on_epoch_end", lambda self, epoch, logs=None: setattr(self, "wait", 1))
    train, val = splits
    clf = ImageClassifier.from_pretrained(classes=train.class_names, input_shape=(SIZE, SIZE, 3))
    result = clf.fine_tune(train, val, head_epochs=1, epochs=1, verbose=0, seed=0)
    assert result.familiar_features is not None and result.val_probabilities is not None
    assert any("kept the head's" in note for note in result.notes) != phase_two_kept
    kept, val_features = result.familiar_features
    probabilities, pooled = clf.with_features.predict(val.without_augmentation(), verbose=0)
    np.testing.assert_allclose(result.val_probabilities, probabilities, atol=1e-4)
    np.testing.assert_allclose(val_features, pooled, atol=1e-4)
    train_pooled = clf.with_features.predict(train.without_augmentation(), verbose=0)[1]  # all: under 512 images
    np.testing.assert_allclose(kept, train_pooled, atol=0.02)
