"""image_folder / image_table on real photos: messy folders (the scan, and files that fail while decoding),
seeded stratified splits, labels, class weights, both backends."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import sys
import textwrap
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from transferkit import data
from transferkit.data import images
from transferkit.errors import DatasetError

# Broken files planted in the messy folder, each skipped with one warning naming it.
BROKEN = {
    "cat/notes.txt": "not an image file",
    "cat/fake.jpg": "not an image format",
    "cat/empty.jpg": "empty",
    "cat/loop_a.jpg": "symlink loop",
    "cat/loop_b.jpg": "symlink loop",
    "cat/dangling.jpg": "broken link",
    "cat/pipe.jpg": "not a regular file",
    "coffee/bomb.png": "over the limit",
    "coffee/truncated.jpg": "truncated",  # found only when decoded, during the epoch
}
# OS litter and stray entries: skipped quietly, one summary warning.
LITTER = ["cat/.DS_Store", "cat/._cat_0.jpg", "coffee/Thumbs.db", "space/.hidden.jpg", "cat/up", "README.txt"]
# Unusual but valid images: used, never skipped.
ODD = ["gray.png", "rgba.png", "palette.gif", "cmyk.jpg", "sixteen.png", "china.webp", "flower.tiff"]
ODD += ["rotated.jpg", "UPPER.JPG", "café_ü_猫.jpg"]
MAX_PIXELS = 40_000_000


def _photos() -> dict[str, np.ndarray]:
    from skimage import data as sk
    from sklearn.datasets import load_sample_images

    china, flower = load_sample_images().images
    return {"cat": sk.chelsea(), "coffee": sk.coffee(), "space": sk.astronaut(), "rocket": sk.rocket(),
            "camera": sk.camera(), "china": china, "flower": flower}  # fmt: skip


def _png_bomb(path: Path, side: int) -> None:
    """A real ``side`` x ``side`` grayscale PNG of ~50 KB that would decode to ``side**2`` bytes."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    pixels = zlib.compress(b"\0" * ((side + 1) * side), 9)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b""))


def _write_classes(root: Path, photos: dict[str, np.ndarray], counts: dict[str, int]) -> None:
    for name, count in counts.items():
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(count):
            Image.fromarray(photos[name][i * 9 :, i * 13 :]).save(root / name / f"{name}_{i}.jpg", quality=90)


@pytest.fixture(scope="module")
def messy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three classes of real photos (cat, coffee, space) with every kind of mess planted among them."""
    root = tmp_path_factory.mktemp("messy")
    photos = _photos()
    _write_classes(root, photos, {"cat": 4, "coffee": 4, "space": 4})
    space, cat, coffee = root / "space", root / "cat", root / "coffee"
    Image.fromarray(photos["camera"]).save(space / "gray.png")
    alpha = np.full(photos["rocket"].shape[:2], 180, np.uint8)
    Image.fromarray(np.dstack([photos["rocket"], alpha])).save(space / "rgba.png")
    Image.fromarray(photos["flower"]).convert("P", palette=Image.Palette.ADAPTIVE).save(space / "palette.gif")
    Image.fromarray(photos["china"]).convert("CMYK").save(space / "cmyk.jpg")
    Image.fromarray(photos["camera"].astype(np.uint16) * 257).save(space / "sixteen.png")
    Image.fromarray(photos["china"]).save(space / "china.webp")
    Image.fromarray(photos["flower"]).save(space / "flower.tiff")
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    Image.fromarray(np.rot90(photos["rocket"], 1).copy()).save(space / "rotated.jpg", exif=exif)
    Image.fromarray(photos["coffee"]).save(space / "UPPER.JPG")
    Image.fromarray(photos["cat"]).save(cat / "café_ü_猫.jpg")

    (cat / "notes.txt").write_text("not a photo")
    (cat / "fake.jpg").write_text("<html>a web page saved as .jpg</html>")
    (cat / "empty.jpg").write_bytes(b"")
    whole = (coffee / "coffee_0.jpg").read_bytes()
    (coffee / "truncated.jpg").write_bytes(whole[: len(whole) // 2])
    _png_bomb(coffee / "bomb.png", 8000)  # 64 MP, over MAX_PIXELS
    os.symlink("loop_b.jpg", cat / "loop_a.jpg")
    os.symlink("loop_a.jpg", cat / "loop_b.jpg")
    os.symlink("missing.jpg", cat / "dangling.jpg")
    os.mkfifo(cat / "pipe.jpg")  # opening it to read would hang forever
    os.symlink("..", cat / "up")  # a folder link back up to the root
    (cat / ".DS_Store").write_bytes(b"\0\0\0\1Bud1" + bytes(100))
    (cat / "._cat_0.jpg").write_bytes(b"\0\5\26\7" + bytes(60))
    (coffee / "Thumbs.db").write_bytes(bytes(512))
    shutil.copy(cat / "cat_0.jpg", space / ".hidden.jpg")
    (root / "README.txt").write_text("photos for the test")
    locked = coffee / "locked.jpg"
    Image.fromarray(photos["coffee"]).save(locked)
    os.chmod(locked, 0)  # unreadable, except to root
    return root


def _warnings_of(call):  # type: ignore[no-untyped-def]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = call()
    return result, [str(w.message) for w in caught if issubclass(w.category, data.SkippedFileWarning)]


def test_messy_folder_trains_an_epoch_skipping_each_broken_file_once(messy: Path) -> None:
    import keras

    locked_readable = os.access(messy / "coffee" / "locked.jpg", os.R_OK)  # root reads it anyway
    ds, scan_warnings = _warnings_of(lambda: data.image_folder(messy, 32, batch_size=8, max_pixels=MAX_PIXELS))
    assert ds.class_names == ["cat", "coffee", "space"]
    skipped = {os.path.relpath(p, messy): reason for p, reason in ds.skipped}
    at_scan = {k: v for k, v in BROKEN.items() if k != "coffee/truncated.jpg"}
    if not locked_readable:
        at_scan["coffee/locked.jpg"] = "permission denied"
    assert set(skipped) == set(at_scan) | set(LITTER)
    for name, reason in at_scan.items():
        assert reason in skipped[name], (name, skipped[name])
        assert sum(name.split("/")[-1] in w for w in scan_warnings) == 1, name  # one warning per broken file
    assert len(scan_warnings) == len(at_scan) + 1  # plus one summary for the litter
    used = {os.path.basename(f) for f in ds.files}
    assert set(ODD) <= used
    assert ("locked.jpg" in used) == locked_readable

    model = keras.Sequential(
        [keras.Input((32, 32, 3)), keras.layers.Rescaling(1 / 255), keras.layers.Conv2D(4, 3),
         keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(3, activation="softmax")]
    )  # fmt: skip
    model.compile("adam", "categorical_crossentropy")
    weights = data.class_weights(ds)  # space holds most of the images, so it weighs least
    assert weights[2] < weights[0] and weights[2] < weights[1]
    history, fit_warnings = _warnings_of(lambda: model.fit(ds, epochs=1, verbose=0, class_weight=weights))
    assert np.isfinite(history.history["loss"][0])
    assert len(fit_warnings) == 1 and "truncated.jpg" in fit_warnings[0]
    assert len(ds.skipped) == len(at_scan) + len(LITTER) + 1
    assert "truncated" in dict(ds.skipped)[str(messy / "coffee" / "truncated.jpg")]
    _, again = _warnings_of(lambda: model.fit(ds, epochs=1, verbose=0))
    assert again == []  # a file already known to be broken is neither decoded nor warned about again
    plain = ds.without_augmentation()
    predictions = model.predict(plain, verbose=0)
    assert len(predictions) == len(plain.usable_files) == len(plain.usable_labels) == len(plain.files) - 1


@pytest.mark.filterwarnings("ignore::transferkit.data.SkippedFileWarning")  # counted in the test above
def test_unusual_images_decode_upright_and_in_colour(messy: Path) -> None:
    ds = data.image_folder(messy, (48, 64), batch_size=64, max_pixels=MAX_PIXELS, shuffle=False, label_mode=None)
    batch = ds.without_augmentation()[0]
    assert len(batch) == len(ds.files) - 1 == len(ds.usable_files)  # truncated.jpg is dropped as it fails
    by_name = {os.path.basename(f): i for i, f in enumerate(ds.usable_files)}
    assert batch.shape[1:] == (48, 64, 3) and batch.dtype == np.float32
    rocket = images.load(_photos()["rocket"], (48, 64))  # the photo rotated.jpg holds, upright
    rotated = batch[by_name["rotated.jpg"]]
    assert np.abs(rotated - rocket).mean() < 8 < np.abs(np.rot90(rotated, 2) - rocket).mean()
    gray = batch[by_name["gray.png"]]
    assert np.array_equal(gray[..., 0], gray[..., 1])
    for name in ODD:
        assert batch[by_name[name]].std() > 10, name  # real content, not a blank image


def test_symlink_loops_end_when_following_links(messy: Path) -> None:
    ds, _ = _warnings_of(lambda: data.image_folder(messy, 16, follow_links=True, max_pixels=MAX_PIXELS))
    reasons = dict(ds.skipped)
    assert "symlink loop" in reasons[str(messy / "cat" / "up")]
    assert len(ds.files) == len(set(map(os.path.realpath, ds.files)))  # nothing counted twice


@pytest.fixture(scope="module")
def photos_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A clean, imbalanced folder: 10 cat, 6 coffee and 4 space photos."""
    root = tmp_path_factory.mktemp("clean")
    _write_classes(root, _photos(), {"cat": 10, "coffee": 6, "space": 4})
    return root


def test_split_is_stratified_seeded_and_independent_of_location(photos_folder: Path, tmp_path: Path) -> None:
    train, val = data.image_folder(photos_folder, 16, validation_split=0.25, subset="both", seed=42)
    assert list(val.class_counts) == [3, 2, 1]  # 0.25 * (10, 6, 4), halves rounded up
    assert list(train.class_counts) == [7, 4, 3]
    assert not set(train.files) & set(val.files)
    moved = shutil.copytree(photos_folder, tmp_path / "elsewhere")
    val_again = data.image_folder(moved, 16, validation_split=0.25, subset="validation", seed=42)
    relative = [os.path.relpath(f, photos_folder) for f in val.files]
    assert [os.path.relpath(f, moved) for f in val_again.files] == relative
    other = data.image_folder(photos_folder, 16, validation_split=0.25, subset="validation", seed=7)
    assert other.files != val.files
    assert val.augment is None and not val.shuffle


def test_split_is_the_same_on_every_machine() -> None:
    """The split hashes paths with SHA-256: these indices are fixed forever for this seed and these names."""
    keys = [f"{c}/{c}_{i}.jpg" for c in ("cat", "dog") for i in range(6)]
    train, val = data.stratified_split(keys, [0] * 6 + [1] * 6, ["cat", "dog"], 0.34, seed=42)
    assert val.tolist() == [0, 1, 10, 11]
    assert sorted(train.tolist() + val.tolist()) == list(range(12))


def test_labels_shapes_and_dtypes(photos_folder: Path) -> None:
    expect = {
        "categorical": ((4, 3), np.float32),
        "int": ((4,), np.int32),
    }
    for mode, (shape, dtype) in expect.items():
        x, y = data.image_folder(photos_folder, (24, 32), batch_size=4, label_mode=mode)[0]
        assert x.shape == (4, 24, 32, 3) and x.dtype == np.float32 and 0 <= x.min() and x.max() <= 255
        assert y.shape == shape and y.dtype == dtype
    two = photos_folder.parent / "two"
    if not two.exists():
        shutil.copytree(photos_folder, two, ignore=shutil.ignore_patterns("space*"))
    _, y = data.image_folder(two, 8, batch_size=5, label_mode="binary")[0]
    assert y.shape == (5, 1) and y.dtype == np.float32
    alone = data.image_folder(photos_folder, 8, batch_size=5, label_mode=None)[0]
    assert isinstance(alone, np.ndarray) and alone.shape == (5, 8, 8, 3)
    one_class = photos_folder.parent / "one"
    if not one_class.exists():
        shutil.copytree(photos_folder / "cat", one_class / "cat")
    assert len(data.image_folder(one_class, 8, label_mode=None).files) == 10  # images to predict on


def test_augmented_and_plain_batches_and_reproducible_views(photos_folder: Path) -> None:
    ds = data.image_folder(photos_folder, 32, batch_size=6, seed=3, augment=["flip", "zoom", "rotate"])
    plain = ds.without_augmentation()
    assert plain.augment is None and not plain.shuffle and plain.files == ds.files
    x_aug, y_aug = ds.batch(0, view=1)
    x_aug2, _ = ds.batch(0, view=1)
    x_other, _ = ds.batch(0, view=2)
    x_plain, y_plain = plain[0]  # views are in file order, so they line up with the plain dataset
    np.testing.assert_array_equal(x_aug, x_aug2)
    np.testing.assert_array_equal(y_aug, y_plain)
    x_epoch, _ = ds.batch(0, augment=False)  # this epoch's (shuffled) batch 0, unaugmented
    assert x_epoch.shape == x_plain.shape and x_epoch.min() >= 0
    assert np.abs(x_aug - x_plain).mean() > 1 and np.abs(x_aug - x_other).mean() > 1
    first = ds[0][1]
    ds.on_epoch_end()
    assert ds.order().tolist() != list(range(len(ds.files))) and len(set(ds.order())) == len(ds.files)
    assert first.shape == ds[0][1].shape


def test_preprocessing_replaces_the_0_255_default(photos_folder: Path) -> None:
    import keras

    x, _ = data.image_folder(photos_folder, 16, preprocessing=lambda b: b / 127.5 - 1)[0]
    assert -1 <= x.min() < -0.5 and 0.5 < x.max() <= 1
    x, _ = data.image_folder(photos_folder, 16, preprocessing=keras.layers.Rescaling(1 / 255))[0]
    assert isinstance(x, np.ndarray) and 0 <= x.min() and 0.5 < x.max() <= 1


def test_class_order_is_sorted_and_class_names_choose(tmp_path: Path) -> None:
    photos = _photos()
    names = ["b", "B", "a", "Ä"]
    for name in names:
        (tmp_path / name).mkdir()
        for i in range(2):
            Image.fromarray(photos["cat"][i * 30 :]).save(tmp_path / name / f"{i}.png")
    assert data.image_folder(tmp_path, 8).class_names == ["B", "a", "b", "Ä"]  # code-point order, as Keras
    chosen = data.image_folder(tmp_path, 8, class_names=["b", "a"])
    assert chosen.class_names == ["b", "a"] and len(chosen.files) == 4
    with pytest.raises(DatasetError, match="'c'"):
        data.image_folder(tmp_path, 8, class_names=["a", "c"])


def test_class_weights_balance_an_imbalanced_folder(photos_folder: Path) -> None:
    ds = data.image_folder(photos_folder, 16)
    weights = data.class_weights(ds)
    assert weights == pytest.approx({0: 20 / 30, 1: 20 / 18, 2: 20 / 12})
    assert sum(weights[c] * n for c, n in enumerate(ds.class_counts)) == pytest.approx(len(ds.files))
    from transferkit.keras2 import ImageDataGenerator

    legacy = ImageDataGenerator().flow_from_directory(photos_folder, (16, 16))
    assert data.class_weights(legacy) == pytest.approx(weights)


@pytest.mark.filterwarnings("ignore::transferkit.data.SkippedFileWarning")
def test_image_table_from_csv_and_dataframe(photos_folder: Path, tmp_path: Path) -> None:
    import pandas as pd

    rows = [(f"{p.parent.name}/{p.name}", p.parent.name) for p in sorted(photos_folder.glob("*/*.jpg"))]
    rows.append(("cat/not-there.jpg", "cat"))
    rows.append(("cat/cat_0.jpg", ""))
    csv = photos_folder / "labels.csv"
    pd.DataFrame(rows, columns=["path", "label"]).to_csv(csv, index=False)
    table, found = _warnings_of(lambda: data.image_table(csv, 16, validation_split=0.25, subset="validation", seed=42))
    folder_val = data.image_folder(photos_folder, 16, validation_split=0.25, subset="validation", seed=42)
    assert table.files == folder_val.files and table.class_names == folder_val.class_names
    assert any("not-there.jpg" in w for w in found)
    assert {r for _, r in table.skipped} >= {"no label"}
    frame = pd.DataFrame(rows, columns=["file", "kind"])
    ds = data.image_table(frame, 16, path_column="file", label_column="kind", directory=photos_folder)
    assert len(ds.files) == 20 and ds.class_names == ["cat", "coffee", "space"]
    with pytest.raises(DatasetError, match="'label'.*has file, kind"):
        data.image_table(frame, 16)
    csv.unlink()


@pytest.mark.parametrize(
    ("layout", "kwargs", "message"),
    [
        ({}, {}, "No usable images"),
        ({"cat": 3}, {}, "Only one class"),
        (
            {"cat": 3, "space": 1},
            dict(validation_split=0.2, subset="training"),
            "'space' \\(1 images\\) without validation",
        ),
        ({"cat": 3, "space": 2}, dict(validation_split=0.2), "Pass validation_split and subset together"),
        ({"cat": 2, "space": 2}, dict(batch_size=0), "batch_size"),
        ({"cat": 2, "space": 2}, dict(label_mode="onehot"), "label_mode"),
        ({"cat": 2, "space": 2}, dict(augment=["flipp"]), "Did you mean 'flip'"),
        ({"cat": 2, "space": 2, "coffee": 0}, {}, "'coffee'.*no usable images"),
    ],
)
def test_unusable_folders_fail_before_training_with_one_clear_error(
    tmp_path: Path, layout: dict, kwargs: dict, message: str
) -> None:
    _write_classes(tmp_path, _photos(), layout)
    with pytest.raises(DatasetError, match=message):
        data.image_folder(tmp_path, 16, **kwargs)


def test_missing_folder_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="does not exist"):
        data.image_folder(tmp_path / "nope", 16)


@pytest.mark.slow
def test_both_paths_train_on_the_jax_backend(photos_folder: Path) -> None:
    """fit / evaluate / predict with image_folder and the drop-in, in a fresh process on JAX."""
    script = textwrap.dedent(
        f"""
        import keras, numpy as np
        from transferkit import data
        from transferkit.keras2 import ImageDataGenerator
        assert keras.backend.backend() == "jax"
        train, val = data.image_folder({str(photos_folder)!r}, 32, batch_size=8, validation_split=0.25,
                                       subset="both", seed=0, augment=["flip", "zoom", "mixup"])
        model = keras.Sequential([keras.Input((32, 32, 3)), keras.layers.Rescaling(1 / 255),
                                  keras.layers.Conv2D(4, 3), keras.layers.GlobalAveragePooling2D(),
                                  keras.layers.Dense(3, activation="softmax")])
        model.compile("adam", "categorical_crossentropy")
        model.fit(train, validation_data=val, epochs=1, verbose=0, class_weight=data.class_weights(train))
        model.evaluate(val, verbose=0)
        assert model.predict(val.without_augmentation(), verbose=0).shape == (len(val.files), 3)
        gen = ImageDataGenerator(rescale=1 / 255, shear_range=0.2, zoom_range=0.2, horizontal_flip=True)
        it = gen.flow_from_directory({str(photos_folder)!r}, target_size=(32, 32), batch_size=8)
        model.fit(it, epochs=1, verbose=0)
        print("ok")
        """
    )
    env = dict(os.environ, KERAS_BACKEND="jax", JAX_PLATFORMS="cpu")
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0 and done.stdout.strip().endswith("ok"), done.stderr[-3000:]


@pytest.mark.parametrize(("count", "batch", "processes"), [(100, 8, 2), (101, 8, 2), (5, 8, 2), (33, 4, 3), (7, 4, 1)])
def test_each_process_gets_its_part_of_every_global_batch(count: int, batch: int, processes: int) -> None:
    """A distributed epoch: every rank takes as many steps of equal size, step k's parts together are step k of
    one process with the global batch, and every image is seen (a few twice, where ``count`` is not a multiple
    of the processes)."""
    from transferkit.data.splits import shard_order, sharded_batches

    order = np.random.default_rng(0).permutation(count)
    parts = [shard_order(order, batch, rank, processes) for rank in range(processes)]
    steps = sharded_batches(count, batch, processes)
    assert all(-(-len(p) // batch) == steps for p in parts) and len({len(p) for p in parts}) == 1
    padded = np.resize(order, len(parts[0]) * processes)
    for step in range(steps):
        together = np.concatenate([p[step * batch : (step + 1) * batch] for p in parts])
        assert np.array_equal(together, padded[step * batch * processes : (step + 1) * batch * processes])
    assert set(np.concatenate(parts)) == set(order)
    if processes == 1:
        assert parts[0] is order
