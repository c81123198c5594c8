"""Multi-label tables: labels from a separated column, lists in a DataFrame or 0/1 columns, as multi-hot rows;
images without labels; an iteratively stratified split that puts rare labels on both sides."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from transferkit import DatasetError, data
from transferkit.data.samples import CLASSES, texture_table
from transferkit.data.splits import iterative_split


@pytest.fixture(scope="module")
def table(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return texture_table(tmp_path_factory.mktemp("multi"), count=60, size=64)


def _rows(csv: Path) -> list[tuple[str, list[str]]]:
    lines = csv.read_text().splitlines()[1:]
    return [(line.split(",")[0], [x for x in line.split(",")[1].split(";") if x]) for line in lines]


def test_a_separated_label_column_becomes_multi_hot_rows(table: Path) -> None:
    dataset = data.image_table(table, 64, batch_size=8, multi_label=True, shuffle=False)
    rows = _rows(table)
    assert dataset.class_names == sorted(CLASSES) and dataset.multi_label and dataset.label_mode == "multi_hot"
    expected = np.array([[name in labels for name in dataset.class_names] for _, labels in rows], np.int32)
    assert (dataset.labels == expected).all() and (dataset.labels.sum(axis=1) == 0).any()  # unlabelled images kept
    x, y = dataset[0]
    assert x.shape == (8, 64, 64, 3) and y.dtype == np.float32 and (y == expected[:8]).all()
    assert (dataset.class_counts == expected.sum(axis=0)).all()


def test_lists_in_a_dataframe_and_one_column_per_label_give_the_same_rows(table: Path) -> None:
    import pandas as pd

    rows = _rows(table)
    from_csv = data.image_table(table, 64, multi_label=True, shuffle=False)
    listed = pd.DataFrame({"file": [p for p, _ in rows], "tags": [labels for _, labels in rows]})
    from_lists = data.image_table(
        listed, 64, multi_label=True, path_column="file", label_column="tags", directory=table.parent, shuffle=False
    )
    columns = pd.DataFrame({"path": [p for p, _ in rows], **{c: [int(c in tags) for _, tags in rows] for c in CLASSES}})
    csv = table.parent / "columns.csv"
    columns.to_csv(csv, index=False)
    from_columns = data.image_table(csv, 64, label_columns=list(CLASSES), shuffle=False)
    for other in (from_lists, from_columns):
        assert other.class_names == from_csv.class_names and (other.labels == from_csv.labels).all()
    with pytest.raises(DatasetError, match="0 or 1"):
        bad = columns.assign(brick=["yes please"] * len(columns))
        data.image_table(bad, 64, label_columns=list(CLASSES), directory=table.parent)
    with pytest.raises(DatasetError, match="'tags'.*not in"):
        data.image_table(table, 64, multi_label=True, label_column="tags")


def test_the_split_puts_every_label_on_both_sides_in_proportion(table: Path) -> None:
    train, val = data.image_table(table, 64, multi_label=True, validation_split=0.25, subset="both", seed=3)
    total = train.class_counts + val.class_counts
    assert len(val.files) == pytest.approx(0.25 * (len(train.files) + len(val.files)), abs=2)
    assert (val.class_counts >= 1).all() and (np.abs(val.class_counts - 0.25 * total) <= 2).all()
    again = data.image_table(table, 64, multi_label=True, validation_split=0.25, subset="validation", seed=3)
    assert again.files == val.files  # seeded by each file's path


def test_rare_labels_land_on_both_sides_where_a_random_split_often_misses_them() -> None:
    rng = np.random.default_rng(0)
    labels = (rng.random((400, 12)) < 0.3).astype(np.int32)
    labels[:, 10:] = 0
    labels[rng.choice(400, 5, replace=False), 10] = 1  # 5 images: one belongs in validation
    labels[rng.choice(400, 4, replace=False), 11] = 1
    keys = [f"img_{i}.jpg" for i in range(400)]
    train, val = iterative_split(keys, labels, [f"l{k}" for k in range(12)], 0.2, seed=0)
    assert len(set(train) | set(val)) == 400 and not set(train) & set(val) and len(val) == 80
    assert labels[val].sum(axis=0)[10:].tolist() == [1, 1]
    off = np.abs(labels[val].sum(axis=0) - 0.2 * labels.sum(axis=0)).max()
    chance = [
        np.abs(labels[v[:80]].sum(axis=0) - 0.2 * labels.sum(axis=0)).max() for v in map(rng.permutation, [400] * 20)
    ]
    assert off < 2 and off < min(chance)  # measured 1.4; 20 random splits: 3.6 at best, 6.7 median
    with pytest.warns(UserWarning, match="'lonely'"):
        iterative_split(keys[:10], np.eye(10, 2, dtype=np.int32), ["lonely", "also"], 0.2, seed=0)


def test_a_multi_label_table_read_as_single_label_is_one_clear_error(table: Path) -> None:
    with pytest.raises(DatasetError, match="several labels per image.*--multi-label"):
        data.image_table(table, 64)
