"""The partial-backbone cache: cut below the trainable layers where no skip connection jumps over, the same
logits as the whole model, the same update as plain ``fit`` for one step, and phase two within a budget."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from transferkit import ImageClassifier
from transferkit.train.partial import split

SIZE = 96


def _numpy(x: Any) -> np.ndarray:
    import keras

    return np.asarray(keras.ops.convert_to_numpy(x))


@pytest.fixture(scope="module")
def images() -> np.ndarray:
    from skimage import data, transform

    photos = [data.chelsea(), data.coffee(), data.astronaut(), data.rocket()]
    return np.stack([transform.resize(p, (SIZE, SIZE), preserve_range=True) for p in photos]).astype(np.float32)


@pytest.mark.parametrize(
    ("unfreeze", "cut", "fraction"),
    [(0.3, "block6a_activation", 0.71), (0.1, "block6c_add", 0.86), ("block6a_expand_conv", "block5c_add", 0.67),
     (None, "preprocess", 0.0)],
)  # fmt: skip
def test_the_cut_gives_the_whole_models_logits(images: np.ndarray, unfreeze: Any, cut: str, fraction: float) -> None:
    """block6a_project_conv is the first layer of the top 30%: the cut is just below it; 'block6a_expand_conv'
    starts a block, whose input is block5c's sum; with everything trainable nothing can be cached."""
    clf = ImageClassifier.from_pretrained(classes=["a", "b", "c"], input_shape=(SIZE, SIZE, 3), seed=0)
    clf.unfreeze(unfreeze)
    parts = split(clf)
    assert parts.cut == cut and parts.fraction == pytest.approx(fraction, abs=0.01)
    cached = _numpy(parts.bottom(images))
    np.testing.assert_allclose(_numpy(parts.top(cached)), _numpy(clf.model(images)), atol=1e-5)
    assert not any(layer.trainable_weights for layer in parts.bottom.layers)  # nothing below the cut trains
    half = cached.astype(np.float16).astype(np.float32)
    np.testing.assert_allclose(_numpy(parts.top(half)), _numpy(clf.model(images)), atol=2e-3)


def test_one_step_on_the_cache_updates_the_weights_as_plain_fit_does(
    images: np.ndarray, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Keras 3 runs a nested model's Dropout in training mode even when the graph called it with
    training=False, so the backbone's stochastic depth draws random masks in both; with their rate at 0 the two
    steps are the same computation. The bottom's BatchNorm folding (tests/models/test_fold.py) is left out here:
    it moves the cached activations by float rounding (1e-5), which on these photos flips a ReLU6 of the first
    block above the cut and moves that block's updates by up to 9% (exact again from the next block on)."""
    import keras

    from transferkit.train import partial

    monkeypatch.setattr(partial, "fold", lambda model: model)

    labels = np.eye(3)[[0, 1, 2, 0]]
    updated = []
    for cached in (False, True):
        clf = ImageClassifier.from_pretrained(classes=["a", "b", "c"], input_shape=(SIZE, SIZE, 3), dropout=0.0, seed=0)
        clf.unfreeze(0.3)
        for layer in clf.backbone.layers:
            if isinstance(layer, keras.layers.Dropout):
                layer.rate = 0.0
        parts = split(clf)
        model, inputs = (parts.top, _numpy(parts.bottom(images))) if cached else (clf.model, images)
        model.compile(optimizer=keras.optimizers.SGD(0.1), loss="categorical_crossentropy")
        model.train_on_batch(inputs, labels)
        updated.append([_numpy(w) for w in clf.model.trainable_weights])
    assert len(updated[0]) == len(updated[1]) > 10
    for plain, on_cache in zip(*updated):
        np.testing.assert_allclose(on_cache, plain, atol=2e-5)


def test_a_tiny_budget_skips_fine_tuning_and_says_so(splits: tuple[Any, Any]) -> None:
    train, val = splits
    clf = ImageClassifier.from_pretrained(classes=train.class_names, input_shape=(SIZE, SIZE, 3), seed=0)
    result = clf.fine_tune(train, val, epochs=3, time_budget=1.0, verbose=0, seed=0)
    assert result.history["phase"] == [1.0]  # the head was fitted anyway: it is what gives a model
    assert result.notes and result.notes[0].startswith("fine-tuning skipped: one epoch needs")
    assert result.history["val_accuracy"][0] >= 0.8  # measured 1.0 (4 classes)


def test_fine_tuning_on_the_cache_keeps_the_best_weights(splits: tuple[Any, Any]) -> None:
    train, val = splits
    clf = ImageClassifier.from_pretrained(classes=train.class_names, input_shape=(SIZE, SIZE, 3), seed=0)
    result = clf.fine_tune(train, val, epochs=2, verbose=0, seed=0)
    assert result.history["phase"][0] == 1.0 and set(result.history["phase"][1:]) == {2.0}
    assert result.cut == "block6a_activation"
    final = clf.model.evaluate(val.without_augmentation(), verbose=0, return_dict=True)
    best = max(zip(result.history["val_accuracy"], [-v for v in result.history["val_loss"]]))
    assert final["accuracy"] == pytest.approx(best[0], abs=1e-6)


@pytest.mark.parametrize("name", ["resnet50", "convnext_tiny", "mobilenet_v3_small", "densenet121"])
def test_the_cut_is_exact_on_other_families(images: np.ndarray, name: str) -> None:
    """Skip connections as Add layers (ResNet), as keras.ops in the graph (ConvNeXt), concatenations (DenseNet)."""
    clf = ImageClassifier.from_pretrained(name, classes=["a", "b", "c"], weights=None, input_shape=(SIZE, SIZE, 3))
    clf.unfreeze(0.3)
    parts = split(clf)
    assert 0.6 < parts.fraction < 0.8
    cached = _numpy(parts.bottom(images))
    np.testing.assert_allclose(_numpy(parts.top(cached)), _numpy(clf.model(images)), atol=1e-5)


def test_without_validation_fine_tuning_keeps_its_last_weights(splits: tuple[Any, Any]) -> None:
    import keras

    train, _ = splits
    clf = ImageClassifier.from_pretrained(classes=train.class_names, input_shape=(SIZE, SIZE, 3), seed=0)
    kernels = []

    class Record(keras.callbacks.Callback):
        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            kernels.append(_numpy(clf.model.get_layer("predictions").kernel).copy())

    result = clf.fine_tune(train, None, epochs=2, verbose=0, seed=0, callbacks=[Record()])
    assert result.history["phase"] == [1.0, 2.0, 2.0] and not result.notes
    np.testing.assert_array_equal(_numpy(clf.model.get_layer("predictions").kernel), kernels[-1])
