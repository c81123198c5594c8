"""ImageClassifier's structure: the one head on a pretrained backbone, and BatchNorm-safe freezing (training,
saving and predicting are tested where they live: train/, export/, inference/)."""

from __future__ import annotations

import re

import pytest

import transferkit
from transferkit import ImageClassifier

SIZE = 96


def test_new_head_for_the_classes() -> None:
    clf = ImageClassifier.from_pretrained(classes=["a", "b", "c"], input_shape=(SIZE, SIZE, 3))
    assert clf.model.output_shape == (None, 3)
    assert clf.class_names == ["a", "b", "c"] and clf.image_size == (SIZE, SIZE)
    names = [layer.name for layer in clf.model.layers]
    assert names == ["image", "backbone", "head_pool", "head_dropout", "predictions"]
    head = clf.model.get_layer("predictions")
    assert {id(w) for w in clf.model.trainable_weights} == {id(w) for w in head.trainable_weights}
    assert head.compute_dtype == "float32"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"classes": ["only"]}, "at least 2 classes"), ({}, "at least 2 classes"), ({"num_classes": 2, "dropout": 1.0},
     r"dropout must be in \[0, 1\)"), ({"classes": ["a", "a"]}, "unique")],
)  # fmt: skip
def test_a_head_that_cannot_be_is_one_clear_error(kwargs: dict, message: str) -> None:
    with pytest.raises(transferkit.SurgeryError, match=message) as info:
        ImageClassifier.from_pretrained(**kwargs)
    assert isinstance(info.value, ValueError)


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
    with pytest.raises(transferkit.SurgeryError, match="fraction"):
        clf.unfreeze(1.5)
    with pytest.raises(transferkit.SurgeryError, match="layer name, an index or a fraction"):
        clf.unfreeze(True)
    assert clf.unfreeze(pattern=re.compile("^block6")) == clf.unfreeze(pattern="block6*") > 0
    assert not layers[-3].trainable  # exactly the pattern: what was unfrozen before is frozen again
