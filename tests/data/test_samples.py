"""The sample folders: photo_folders' structure, its train/validation disjointness, and that its files decode."""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path

from PIL import Image

from transferkit.data import samples


def test_photo_folders_has_every_kind_with_the_counts_asked(tmp_path: Path) -> None:
    train_dir, val_dir = samples.photo_folders(tmp_path, train_per_class=4, val_per_class=3)

    assert (train_dir, val_dir) == (tmp_path / "train", tmp_path / "val")
    for folder, count in ((train_dir, 4), (val_dir, 3)):
        assert sorted(p.name for p in folder.iterdir()) == sorted(samples.SCENES)
        for kind in samples.SCENES:
            assert len(list((folder / kind).iterdir())) == count


def test_photo_folders_validation_crops_lie_below_every_training_crop_of_their_photo(tmp_path: Path) -> None:
    samples.photo_folders(tmp_path, train_per_class=6, val_per_class=3)
    with open(tmp_path / samples.SOURCES_FILE, newline="") as file:
        rows = list(csv.DictReader(file))

    assert sorted(r["file"] for r in rows) == sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.glob("*/*/*"))
    train_bottom: dict[str, int] = defaultdict(int)
    val_top: dict[str, int] = defaultdict(lambda: 1 << 30)
    for row in rows:
        top, bottom = int(row["top"]), int(row["top"]) + int(row["height"])
        if row["file"].startswith("train/"):
            train_bottom[row["photo"]] = max(train_bottom[row["photo"]], bottom)
        else:
            val_top[row["photo"]] = min(val_top[row["photo"]], top)
    photos = {name for names in samples.SCENES.values() for name in names}
    assert set(train_bottom) == photos  # every photo is used in both splits (photos alternate in a class)
    assert set(val_top) == photos
    for name in photos:
        assert train_bottom[name] <= val_top[name], name


def test_photo_folders_images_decode_in_varied_sizes_modes_and_formats(tmp_path: Path) -> None:
    samples.photo_folders(tmp_path, train_per_class=6, val_per_class=2, seed=1)
    sizes, modes, suffixes = set(), set(), set()
    for path in tmp_path.glob("*/*/*"):
        with Image.open(path) as image:
            image.load()
            sizes.add(image.size)
            modes.add(image.mode)
        suffixes.add(path.suffix)

    assert len(sizes) > 20 and all(8 <= min(s) and max(s) <= 288 for s in sizes)
    assert modes == {"L", "RGB"}
    assert suffixes == {".jpg", ".png"}
