"""The frozen-feature cache: augmented views are stored per image, and only when training augments."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from transferkit import ImageClassifier, data
from transferkit.train import features
from transferkit.train.features import unaugmented

SIZE = 96


def test_feature_cache_stores_augmented_views(splits: tuple[Any, Any]) -> None:
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
