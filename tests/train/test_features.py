"""The activation cache: augmented views are stored per image, only when training augments, and served per
epoch as float32."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from transferkit import ImageClassifier, data
from transferkit.train import features
from transferkit.train.features import unaugmented
from transferkit.train.partial import split

SIZE = 96


def test_feature_cache_stores_augmented_views(splits: tuple[Any, Any]) -> None:
    train, _ = splits
    clf = ImageClassifier.from_pretrained(classes=train.class_names, input_shape=(SIZE, SIZE, 3))
    parts = split(clf)  # frozen: the cut is the backbone's output
    cached = features.extract(parts.bottom, [unaugmented(train), train, train])
    assert cached.features.shape == (3, len(train.files), 3, 3, 1280)
    pooled = cached.map(parts.pooled)
    assert pooled.features.shape == (3, len(train.files), 1280)
    assert not np.allclose(pooled.features[0], pooled.features[1])  # flips change the features
    assert cached.labels.shape == (3, len(train.files), len(train.class_names))
    assert cached.seconds_per_image > 0


def test_float16_cache_is_memory_mapped_past_its_limit(splits: tuple[Any, Any], tmp_path: Path) -> None:
    train, _ = splits
    clf = ImageClassifier.from_pretrained(classes=train.class_names, input_shape=(SIZE, SIZE, 3))
    bottom = split(clf).bottom
    small = features.extract(bottom, [unaugmented(train)])
    mapped = features.extract(bottom, [unaugmented(train)], folder=tmp_path, dtype=np.float16, max_memory_bytes=1)
    assert isinstance(mapped.features, np.memmap) and (tmp_path / "cache.npy").is_file()
    assert mapped.features.dtype == np.float16
    np.testing.assert_allclose(mapped.features, small.features, rtol=2e-3, atol=2e-3)
    batch, _ = features.ViewBatches(mapped, 16, seed=0)[0]
    assert batch.dtype == np.float32


@pytest.mark.parametrize(("augment", "views"), [(None, 1), (["flip"], features.DEFAULT_VIEWS)])
def test_views_cached_only_when_training_augments(
    textures: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch, augment: Any, views: int
) -> None:
    """A shuffled but unaugmented dataset gives the same features every pass: one view, not several."""
    extract, shapes = features.extract, []

    def recording(*args: Any, **kwargs: Any) -> Any:
        cached = extract(*args, **kwargs)
        shapes.append(cached.features.shape)
        return cached

    monkeypatch.setattr(features, "extract", recording)
    train = data.image_folder(textures[0], SIZE, batch_size=16, seed=0, augment=augment)
    clf = ImageClassifier.from_pretrained(classes=train.class_names, input_shape=(SIZE, SIZE, 3))
    clf.fine_tune(train, None, epochs=0, verbose=0)
    assert shapes == [(views, len(train.files), 3, 3, 1280)]


def test_view_batches_shuffle_per_epoch_by_seed() -> None:
    cache = features.FeatureSet(np.arange(2 * 10, dtype=np.float16).reshape(2, 10, 1), np.zeros((2, 10)))
    first, again = features.ViewBatches(cache, 4, seed=1), features.ViewBatches(cache, 4, seed=1)
    rows = [first[i][0].ravel().tolist() for i in range(len(first))]
    assert rows == [again[i][0].ravel().tolist() for i in range(len(again))]
    assert sorted(sum(rows, [])) == list(range(10))  # view 0, every row once
    first.on_epoch_end()
    assert sorted(sum((first[i][0].ravel().tolist() for i in range(3)), [])) == list(range(10, 20))  # view 1
