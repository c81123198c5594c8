"""Near-duplicate groups and the grouped validation split: copies of a photo (resized, re-encoded, brightened)
share a group, different photos do not, and ``group_duplicates=True`` never puts a group on both sides."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageEnhance

from transferkit import DatasetError, data
from transferkit.data.groups import Groups, close_hashes, near_duplicate_groups
from transferkit.data.splits import stratified_split

PHOTOS = ("chelsea", "coffee", "astronaut", "rocket", "camera", "coins", "hubble_deep_field", "immunohistochemistry")


def _variants(image: Image.Image, stem: Path) -> list[Path]:
    """A photo saved as the copies a real folder holds: the original, a 70% re-encoded one, a brighter one."""
    image = image.convert("RGB")
    paths = [
        stem.with_name(stem.name + "_a.png"),
        stem.with_name(stem.name + "_b.jpg"),
        stem.with_name(stem.name + "_c.jpg"),
    ]
    image.save(paths[0])
    image.resize((int(image.width * 0.7), int(image.height * 0.7))).save(paths[1], quality=70)
    ImageEnhance.Brightness(image).enhance(1.15).save(paths[2], quality=90)
    return paths


def test_copies_of_a_photo_share_a_group_and_different_photos_do_not(tmp_path: Path) -> None:
    from skimage import data as photos

    files, truth = [], []
    for k, name in enumerate(PHOTOS):
        made = _variants(Image.fromarray(getattr(photos, name)()), tmp_path / name)
        files += [str(p) for p in made]
        truth += [k] * len(made)
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a JPEG")
    (tmp_path / "broken2.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a JPEG either")
    files += [str(tmp_path / "broken.jpg"), str(tmp_path / "broken2.jpg")]
    truth += [len(PHOTOS), len(PHOTOS) + 1]  # files that cannot be decoded are groups of their own
    found = near_duplicate_groups(files)
    same_found = found[:, None] == found[None, :]
    same_truth = np.asarray(truth)[:, None] == np.asarray(truth)[None, :]
    assert (same_found == same_truth).all()


def test_close_hashes_are_the_pairs_a_brute_force_finds_across_blocks() -> None:
    rng = np.random.default_rng(0)
    base = rng.random((300, 63)) < 0.5
    bits = base[rng.integers(0, 300, 20_000)] ^ (rng.random((20_000, 63)) < 0.03)  # 20,000 rows: several blocks
    bits[:2000] = rng.random((2000, 63)) < 0.5
    ok = rng.random(20_000) > 0.01
    pairs = close_hashes(bits[:2500], 8, ok[:2500])
    sub = bits[:2500].astype(np.int8)
    apart = (sub[:, None, :] != sub[None, :, :]).sum(axis=2)
    brute = {(i, j) for i, j in zip(*np.nonzero(apart <= 8)) if i < j and ok[i] and ok[j]}
    assert {(i, j) for i, j, _ in pairs} == brute and len(brute) > 100
    assert all(apart[i, j] == d for i, j, d in pairs) and [d for *_, d in pairs] == sorted(d for *_, d in pairs)
    assert len(close_hashes(bits, 8, ok)) > 0  # 20,000 rows in blocks of under 1,024


def test_a_group_stops_growing_at_its_limit() -> None:
    groups = Groups(5)
    assert groups.join(0, 1, limit=3) and groups.join(1, 2, limit=3)
    assert not groups.join(2, 3, limit=3) and groups.join(3, 4, limit=3)
    assert groups.labels().tolist() == [0, 0, 0, 3, 3]


@pytest.fixture(scope="module")
def grouped_folder(
    textures: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, list[set[str]]]:
    """The texture training folder with three copies (re-encoded, resized, brightened) of 2 photos per class."""
    root = tmp_path_factory.mktemp("grouped") / "train"
    shutil.copytree(textures[0], root)
    planted = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        for original in sorted(folder.iterdir())[:2]:
            with Image.open(original) as img:
                made = _variants(img, folder / f"copy_{original.stem}")
            planted.append({str(p.relative_to(root)) for p in [original, *made]})
    return root, planted


def _sides(dataset: data.ImageDataset, root: Path) -> set[str]:
    return {str(Path(f).relative_to(root)) for f in dataset.files}


def test_the_grouped_split_never_separates_a_planted_group(grouped_folder: tuple[Path, list[set[str]]]) -> None:
    root, planted = grouped_folder
    separated = {True: 0, False: 0}
    for grouped in (True, False):
        for seed in range(12):
            train, val = data.image_folder(
                root, 32, validation_split=0.25, subset="both", seed=seed, group_duplicates=grouped
            )
            train_files, val_files = _sides(train, root), _sides(val, root)
            separated[grouped] += sum(bool(g & train_files) and bool(g & val_files) for g in planted)
            assert set(np.unique(val.labels)) == set(range(4))  # every class on both sides, still stratified
            if grouped:  # each class within one planted group (4 files) of its quota
                total = np.bincount(train.labels) + np.bincount(val.labels)
                assert (np.abs(np.bincount(val.labels) - np.floor(total * 0.25 + 0.5)) < 4).all()
                assert val.groups is not None and len(val.groups) == len(val.files)
    assert separated[True] == 0
    assert separated[False] > 0  # split file by file, copies land on both sides


def test_singleton_groups_split_exactly_as_without_groups() -> None:
    keys = [f"c{k % 3}/img_{k:03d}.jpg" for k in range(90)]
    labels = [k % 3 for k in range(90)]
    plain = stratified_split(keys, labels, ["a", "b", "c"], 0.2, seed=7)
    grouped = stratified_split(keys, labels, ["a", "b", "c"], 0.2, seed=7, groups=np.arange(90) * 5)
    assert all((p == g).all() for p, g in zip(plain, grouped))
    assert np.bincount(np.asarray(labels)[plain[1]]).tolist() == [6, 6, 6]


def test_a_class_that_is_one_group_is_one_clear_error() -> None:
    keys = [f"img_{k}.jpg" for k in range(12)]
    labels = [0] * 6 + [1] * 6
    groups = [0] * 6 + list(range(6, 12))  # every image of class 'a' is a copy of one photo
    with pytest.raises(DatasetError, match="'a'.*near-duplicates.*--no-group-duplicates"):
        stratified_split(keys, labels, ["a", "b"], 0.3, seed=0, groups=groups)


def test_the_multi_label_split_keeps_groups_together_too(tmp_path: Path) -> None:
    from transferkit.data.samples import texture_table

    table = texture_table(tmp_path, count=60, size=64)
    rows = table.read_text().splitlines()
    copies = []
    for line in rows[1:9]:  # eight images get a re-encoded, resized and a brightened copy, same labels
        name, labels = line.split(",")
        with Image.open(tmp_path / name) as img:
            made = _variants(img, tmp_path / "images" / f"copy_{Path(name).stem}")
        rows += [f"{p.relative_to(tmp_path)},{labels}" for p in made]
        copies.append({name, *(str(p.relative_to(tmp_path)) for p in made)})
    table.write_text("\n".join(rows) + "\n")
    separated = {True: 0, False: 0}
    for grouped in (True, False):
        for seed in range(6):
            train, val = data.image_table(
                table, 32, multi_label=True, validation_split=0.25, subset="both", seed=seed, group_duplicates=grouped
            )
            sides = [{str(Path(f).relative_to(tmp_path)) for f in part.files} for part in (train, val)]
            separated[grouped] += sum(bool(group & sides[0] and group & sides[1]) for group in copies)
            assert abs(len(val.files) - 0.25 * 84) <= 4 and (val.class_counts > 0).all()
    assert separated[True] == 0 and separated[False] > 0
