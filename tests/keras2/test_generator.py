"""The ImageDataGenerator drop-in, checked against Keras's own legacy implementation on real photos."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from keras.src.legacy.preprocessing.image import ImageDataGenerator as KerasGenerator  # noqa: E402  (the reference)
from PIL import Image

from transferkit.errors import DatasetError, SkippedFileWarning
from transferkit.keras2 import ImageDataGenerator

ARTICLE = dict(rescale=1.0 / 255, shear_range=0.2, zoom_range=0.2, horizontal_flip=True)


def _photos() -> dict[str, np.ndarray]:
    from skimage import data
    from sklearn.datasets import load_sample_images

    china, flower = load_sample_images().images
    return {"cat": data.chelsea(), "coffee": data.coffee(), "rocket": data.rocket(), "china": china, "flower": flower}


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three classes of real photo crops, JPEG and PNG, of different sizes (13 images)."""
    root = tmp_path_factory.mktemp("legacy")
    photos = _photos()
    plan = {"animals": ["cat"] * 5, "drinks": ["coffee"] * 4, "places": ["china", "flower", "rocket", "china"]}
    for label, names in plan.items():
        (root / label).mkdir()
        for i, name in enumerate(names):
            crop = photos[name][i * 17 :, i * 23 :]
            Image.fromarray(crop).save(root / label / f"{name}_{i}.{'jpg' if i % 2 == 0 else 'png'}")
    return root


def _both(folder: Path, gen_args: dict, **flow_args):  # type: ignore[no-untyped-def]
    ours = ImageDataGenerator(**gen_args).flow_from_directory(folder, **flow_args)
    theirs = KerasGenerator(**gen_args).flow_from_directory(str(folder), **flow_args)
    return ours, theirs


@pytest.mark.parametrize(
    ("class_mode", "shuffle", "seed"),
    [
        ("categorical", False, None),
        ("binary", True, 7),
        ("sparse", True, 3),
        ("input", False, None),
        (None, False, None),
    ],
)
def test_flow_from_directory_matches_keras(
    folder: Path, class_mode: str | None, shuffle: bool, seed: int | None
) -> None:
    ours, theirs = _both(
        folder,
        {"rescale": 1 / 255},
        target_size=(24, 32),
        batch_size=5,
        class_mode=class_mode,
        shuffle=shuffle,
        seed=seed,
    )
    assert ours.class_indices == theirs.class_indices == {"animals": 0, "drinks": 1, "places": 2}
    assert ours.filenames == theirs.filenames
    assert np.array_equal(ours.classes, theirs.classes) and ours.classes.dtype == theirs.classes.dtype
    assert (ours.samples, ours.n, ours.batch_size, len(ours)) == (
        theirs.samples,
        theirs.n,
        theirs.batch_size,
        len(theirs),
    )
    assert ours.filepaths == theirs.filepaths and ours.image_shape == theirs.image_shape
    for i in range(len(ours)):
        a, b = ours[i], theirs[i]
        if class_mode is None:
            a, b = (a,), (b,)
        for part_a, part_b in zip(a, b):
            assert part_a.shape == part_b.shape and part_a.dtype == part_b.dtype
        if class_mode not in (None, "input"):
            np.testing.assert_array_equal(a[1], b[1])  # same order (the seeded shuffle too) and encoding


@pytest.mark.parametrize("subset", ["training", "validation"])
def test_validation_split_sizes_and_files_match_keras(folder: Path, subset: str) -> None:
    ours, theirs = _both(folder, {"validation_split": 0.3}, target_size=(16, 16), subset=subset, shuffle=False)
    assert ours.filenames == theirs.filenames
    assert ours.samples == theirs.samples and len(ours) == len(theirs)


def test_grayscale_and_classes_argument_match_keras(folder: Path) -> None:
    ours, theirs = _both(folder, {}, target_size=(20, 20), color_mode="grayscale", classes=["places", "animals"])
    assert ours.class_indices == theirs.class_indices == {"places": 0, "animals": 1}
    assert ours.filenames == theirs.filenames
    assert ours[0][0].shape == theirs[0][0].shape == (len(ours.filenames), 20, 20, 1)


@pytest.mark.parametrize("interpolation", ["bilinear", "bicubic", "nearest"])
def test_pixels_without_augmentation_match_keras(folder: Path, interpolation: str) -> None:
    """PNGs decode identically. JPEGs are decoded at reduced size (libjpeg DCT scaling) where Keras decodes
    them whole: with a smoothing filter the per-image mean difference measured at most 3.7 (bilinear) and
    4.3 (bicubic) levels of 255 on these photos, hence 5. With ``nearest`` Keras picks single pixels of the
    full image, so the two differ by up to 14 levels; ours is the one closer to an area-averaged resize.
    Our bilinear resize is torch's uint8 kernel, which rounds a few pixels one level off Pillow's."""
    ours, theirs = _both(folder, {}, target_size=(96, 96), batch_size=13, shuffle=False, interpolation=interpolation)
    for name, path, x, y in zip(ours.filenames, ours.filepaths, ours[0][0], theirs[0][0]):
        diff = np.abs(x - y).mean()
        if name.endswith(".png") and interpolation == "bilinear":
            assert np.abs(x - y).max() <= 1.0 and diff < 0.01, (name, diff)
        elif name.endswith(".png"):
            assert diff == 0.0, name
        elif interpolation != "nearest":
            assert diff < 5.0, (name, diff)
        else:
            area = np.asarray(Image.open(path).convert("RGB").resize((96, 96), Image.Resampling.BOX), np.float32)
            assert np.abs(x - area).mean() < np.abs(y - area).mean(), name


def test_article_augmentation_changes_pixels_and_keeps_labels(folder: Path) -> None:
    plain = ImageDataGenerator(rescale=1 / 255).flow_from_directory(folder, (64, 64), batch_size=13, shuffle=False)
    augmented = ImageDataGenerator(**ARTICLE).flow_from_directory(
        folder, (64, 64), batch_size=13, shuffle=False, seed=1
    )
    (x0, y0), (x1, y1) = plain[0], augmented[0]
    np.testing.assert_array_equal(y0, y1)
    assert x1.dtype == np.float32 and 0 <= x1.min() and x1.max() <= 1.0 + 1e-5
    per_image = np.abs(x1 - x0).mean(axis=(1, 2, 3))
    assert (per_image > 0.01).sum() >= 10, per_image  # zoom alone moves nearly every image
    again = ImageDataGenerator(**ARTICLE).flow_from_directory(folder, (64, 64), batch_size=13, shuffle=False, seed=1)
    np.testing.assert_array_equal(again[0][0], x1)  # seeded: the same batch twice


PARAMS = [
    dict(theta=20.0, tx=5.0, ty=-3.0, shear=12.0, zx=0.9, zy=1.15),
    dict(theta=-7.0, zx=1.2, zy=1.2, flip_horizontal=True, channel_shift_intensity=30.0),
    dict(shear=25.0, flip_vertical=True, brightness=1.4),
    dict(brightness=0.6, tx=-12.0),
    dict(zx=0.8, zy=1.1, flip_horizontal=True, flip_vertical=True),  # flips folded into the warp
    dict(flip_horizontal=True, flip_vertical=True),  # no warp: flipped by indexing
]


@pytest.mark.parametrize("fill_mode", ["nearest", "constant", "reflect", "wrap"])
@pytest.mark.parametrize("params", PARAMS)
def test_apply_transform_matches_keras(fill_mode: str, params: dict) -> None:
    """The batched warp reproduces Keras 2's SciPy transform (geometry, fill modes, flips, shifts, brightness)."""
    from skimage import data

    image = np.asarray(Image.fromarray(data.astronaut()).resize((60, 44)), np.float32)  # not square
    ours = ImageDataGenerator(fill_mode=fill_mode, cval=40.0).apply_transform(image, params)
    theirs = KerasGenerator(fill_mode=fill_mode, cval=40.0).apply_transform(image, params)
    assert ours.shape == theirs.shape
    # brightness truncates to 8 bits as Keras 2 does, so float noise in the warp can move a pixel by one level
    tolerance = np.ceil(params.get("brightness", 0.0)) or 0.05
    np.testing.assert_allclose(ours, theirs, atol=tolerance)
    assert np.abs(ours - theirs).mean() < 0.05


def test_random_transform_draws_what_keras_draws() -> None:
    args = dict(rotation_range=30, width_shift_range=0.2, height_shift_range=[-4, 4], shear_range=10, zoom_range=0.3)
    args.update(horizontal_flip=True, channel_shift_range=20.0, brightness_range=(0.5, 1.5))
    ours = ImageDataGenerator(**args).get_random_transform((40, 50, 3), seed=123)
    theirs = KerasGenerator(**args).get_random_transform((40, 50, 3), seed=123)
    assert ours.keys() == theirs.keys()
    for key in ours:
        assert np.isclose(float(ours[key]), float(theirs[key])), key


def test_flow_from_dataframe_matches_keras(folder: Path) -> None:
    import pandas as pd

    rows = [
        (f"{p.parent.name}/{p.name}", p.parent.name, float(i + 1)) for i, p in enumerate(sorted(folder.glob("*/*")))
    ]
    df = pd.DataFrame(rows, columns=["file", "label", "weight"])
    args = dict(directory=str(folder), x_col="file", y_col="label", weight_col="weight", target_size=(16, 16))
    args.update(batch_size=4, shuffle=False)
    for mode in ("categorical", "sparse", "raw"):
        ours = ImageDataGenerator().flow_from_dataframe(df, class_mode=mode, **args)
        theirs = KerasGenerator().flow_from_dataframe(df, class_mode=mode, **args)
        assert ours.filenames == theirs.filenames and ours.samples == theirs.samples
        assert getattr(ours, "class_indices", None) == getattr(theirs, "class_indices", None)
        for i in range(len(ours)):
            for part_a, part_b in zip(ours[i][1:], theirs[i][1:]):
                np.testing.assert_array_equal(part_a, part_b)
                assert part_a.dtype == part_b.dtype


def test_flow_and_featurewise_fit_match_keras() -> None:
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 255, (20, 8, 8, 3)).astype(np.float32)
    y = np.tile([0, 1], 10)
    args = dict(featurewise_center=True, featurewise_std_normalization=True, validation_split=0.25)
    ours, theirs = ImageDataGenerator(**args), KerasGenerator(**args)
    ours.fit(x)
    theirs.fit(x)
    np.testing.assert_allclose(ours.mean, theirs.mean, rtol=1e-5)
    np.testing.assert_allclose(ours.std, theirs.std, rtol=1e-5)
    a = ours.flow(x, y, batch_size=6, shuffle=False, subset="training")
    b = theirs.flow(x, y, batch_size=6, shuffle=False, subset="training")
    assert len(a) == len(b) == 3
    for i in range(len(a)):
        for part_a, part_b in zip(a[i], b[i]):
            np.testing.assert_allclose(part_a, part_b, rtol=1e-5, atol=1e-5)
    # sample weights are split with the images (Keras 2 left them unsplit, so they no longer lined up)
    weighted = ours.flow(x, y, batch_size=5, shuffle=False, sample_weight=np.arange(20.0), subset="validation")
    np.testing.assert_array_equal(weighted[0][2], np.arange(5.0))
    np.testing.assert_array_equal(
        ours.flow(x, y, shuffle=False, sample_weight=np.arange(20.0), subset="training")[0][2], np.arange(5.0, 20.0)
    )


def test_keras2_style_iteration_with_next(folder: Path) -> None:
    it = ImageDataGenerator(**ARTICLE).flow_from_directory(folder, (16, 16), batch_size=8, seed=0)
    sizes = [len(next(it)[0]) for _ in range(4)]
    assert sizes == [8, 5, 8, 5]  # loops over the 13 images forever, as Keras 2's iterators did


def test_preprocessing_function_sees_one_image_and_save_to_dir_writes(folder: Path, tmp_path: Path) -> None:
    shapes = []

    def invert(image: np.ndarray) -> np.ndarray:
        shapes.append(image.shape)
        return 255.0 - image

    gen = ImageDataGenerator(preprocessing_function=invert, rescale=1 / 255, horizontal_flip=True)
    it = gen.flow_from_directory(folder, (16, 16), batch_size=4, shuffle=False, save_to_dir=str(tmp_path))
    x, _ = it[0]
    assert shapes == [(16, 16, 3)] * 4
    plain = ImageDataGenerator(rescale=1 / 255).flow_from_directory(folder, (16, 16), batch_size=4, shuffle=False)[0][0]
    np.testing.assert_allclose(np.sort(x.ravel()), np.sort((1.0 - plain).ravel()), atol=1e-5)
    assert len(list(tmp_path.glob("*.png"))) == 4


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(data_format="channels_middle"), "data_format"),
        (dict(interpolation_order=3), "interpolation_order"),
        (dict(fill_mode="smear"), "fill_mode"),
        (dict(validation_split=1.5), "validation_split"),
    ],
)
def test_unsupported_arguments_are_refused_by_name(kwargs: dict, message: str) -> None:
    with pytest.raises(DatasetError, match=message):
        ImageDataGenerator(**kwargs)


@pytest.mark.filterwarnings("ignore:This ImageDataGenerator specifies")
def test_zca_whitening_matches_keras_and_refuses_images_too_large_to_whiten() -> None:
    x = np.random.default_rng(0).uniform(0, 255, (16, 8, 8, 3))
    ours, theirs = ImageDataGenerator(zca_whitening=True), KerasGenerator(zca_whitening=True)
    ours.fit(x), theirs.fit(x)
    assert np.allclose(ours.standardize(x[:4].copy()), theirs.standardize(x[:4].copy()), atol=1e-3)
    with pytest.raises(DatasetError, match="zca_whitening.*Resize"):
        ours.fit(np.zeros((2, 65, 64, 3)))


def test_channels_first_batches_match_keras() -> None:
    x = np.random.default_rng(0).uniform(0, 255, (6, 3, 8, 10)).astype("float32")
    args = dict(featurewise_center=True, data_format="channels_first")
    ours, theirs = ImageDataGenerator(**args), KerasGenerator(**args)
    ours.fit(x), theirs.fit(x)
    a, b = ours.flow(x, batch_size=6, shuffle=False)[0], theirs.flow(x, batch_size=6, shuffle=False)[0]
    assert a.shape == b.shape == (6, 3, 8, 10) and np.allclose(a, b, atol=1e-3)


def test_unknown_and_unsupported_flow_arguments_are_refused(folder: Path, tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="fancy_option"):
        ImageDataGenerator(fancy_option=1)  # type: ignore[call-arg]
    with pytest.raises(DatasetError, match="rgba"):
        ImageDataGenerator().flow_from_directory(folder, color_mode="rgba")
    with pytest.raises(DatasetError, match="class_mode"):
        ImageDataGenerator().flow_from_directory(folder, class_mode="categorial")
    with pytest.raises(DatasetError, match="validation_split"):
        ImageDataGenerator().flow_from_directory(folder, subset="training")
    (tmp_path / "empty" / "a class").mkdir(parents=True)
    with pytest.raises(DatasetError, match="No images"):
        ImageDataGenerator().flow_from_directory(tmp_path / "empty")


def test_broken_file_is_skipped_with_a_warning_not_a_crash(folder: Path, tmp_path: Path) -> None:
    import shutil

    root = tmp_path / "photos"
    shutil.copytree(folder, root)
    data = (root / "animals" / "cat_0.jpg").read_bytes()
    (root / "animals" / "cat_00_truncated.jpg").write_bytes(data[: len(data) // 3])
    it = ImageDataGenerator(**ARTICLE).flow_from_directory(root, (32, 32), batch_size=14, shuffle=False)
    assert it.samples == 14  # the header looks fine: the damage shows only when decoded
    with pytest.warns(SkippedFileWarning, match="cat_00_truncated.jpg"):
        x, y = it[0]
    assert len(x) == len(y) == 13
    assert [p for p, _ in it.skipped] == [str(root / "animals" / "cat_00_truncated.jpg")]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # known bad files are not decoded (nor warned about) again
        assert len(it[0][0]) == 13


def test_model_fit_with_the_articles_generator(folder: Path) -> None:
    import keras

    train = ImageDataGenerator(**ARTICLE, validation_split=0.25)
    it = train.flow_from_directory(folder, target_size=(32, 32), batch_size=4, subset="training", seed=0)
    val = train.flow_from_directory(folder, target_size=(32, 32), batch_size=4, subset="validation", seed=0)
    model = keras.Sequential(
        [
            keras.Input((32, 32, 3)),
            keras.layers.Conv2D(4, 3),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(3),
        ]
    )
    model.compile("adam", keras.losses.CategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    history = model.fit(it, validation_data=val, epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2 and np.isfinite(history.history["val_loss"]).all()


@pytest.mark.parametrize("fill_mode", ["nearest", "constant", "reflect"])
def test_files_warped_while_decoding_match_keras(folder: Path, fill_mode: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Image files are warped in the pass that resizes them (OpenCV, from the reduced-size decode: what makes
    the drop-in fast inside ``fit``); Keras 2 resizes (nearest) and then warps. With the same drawn parameters
    the geometry, flips and fill are the same: what is left is the resize, a few levels of 255 on average."""
    from keras.utils import img_to_array, load_img

    args = dict(rotation_range=25, shear_range=15, zoom_range=0.3, horizontal_flip=True, vertical_flip=True)
    ours = ImageDataGenerator(**args, fill_mode=fill_mode, cval=90, brightness_range=(0.7, 1.3))
    assert ours.warps_files
    drawn = []

    def recording(*a: object) -> tuple:
        matrices, params = type(ours).draw_warps(ours, *a)
        drawn.append(params)
        return matrices, params

    monkeypatch.setattr(ours, "draw_warps", recording)
    it = ours.flow_from_directory(folder, (72, 96), batch_size=13, shuffle=False, seed=5)
    x = it[0][0]
    theirs = KerasGenerator(fill_mode=fill_mode, cval=90)
    diffs = []
    for i, path in enumerate(it.filepaths):
        params = {k: v[i] for k, v in drawn[0].items() if v is not None}
        image = img_to_array(load_img(path, target_size=(72, 96), interpolation="bilinear"))
        diffs.append(np.abs(x[i] - theirs.apply_transform(image, params)).mean())
    # measured 1.6 to 6.2 levels; a flip the wrong way, or a wrong angle, gives 20 to 90
    assert max(diffs) < 8 and np.median(diffs) < 4, diffs
