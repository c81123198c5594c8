"""Named augmentations: each changes real photos, keeps labels (or mixes them, for mixup/cutmix), is seeded."""

from __future__ import annotations

import numpy as np
import pytest

from transferkit.data import affine, augment, images
from transferkit.errors import DatasetError


def _matrices(n: int, angle: float = 0.0, zoom: float = 1.0) -> np.ndarray:
    zero = np.zeros(n)
    return affine.matrices(
        64,
        64,
        angle=np.full(n, angle),
        shear=zero,
        zoom=np.full(n, zoom),
        shift_y=zero,
        shift_x=zero,
        flip=zero.astype(bool),
    )


@pytest.fixture(scope="module")
def batch(photo_dir):  # type: ignore[no-untyped-def]
    """Four real photos at 64x64, float32 0-255, with one-hot labels of three classes."""
    files = sorted(photo_dir.iterdir()) + [photo_dir / "chelsea.png"]
    x = np.stack([images.load(f, (64, 64)) for f in files])
    y = np.eye(3, dtype=np.float32)[[0, 1, 2, 1]]
    return x, y


@pytest.mark.parametrize(
    "name", ["flip", "rotate", "zoom", "shear", "shift", "brightness", "contrast", "randaugment", "flip=both"]
)
def test_each_named_augmentation_changes_pixels_and_keeps_labels(batch, name: str) -> None:
    x, y = batch
    before = x.copy()
    out, labels = augment.build([name], seed=1)(x, y, np.random.default_rng(3))
    assert out.shape == x.shape and out.dtype == np.float32
    assert out.min() >= 0 and out.max() <= 255.001
    assert np.array_equal(labels, y)
    assert np.array_equal(x, before), "the caller's batch must not be written to"
    changed = np.abs(out - x).mean(axis=(1, 2, 3)) > 1.0
    assert changed.any(), f"{name} left every image as it was"


@pytest.mark.parametrize("name", ["mixup", "cutmix"])
def test_mixup_and_cutmix_mix_labels_as_well_as_pixels(batch, name: str) -> None:
    x, y = batch
    aug = augment.build(name, seed=2)
    assert aug is not None and aug.mixes_labels
    out, labels = aug(x, y, np.random.default_rng(0))
    assert labels.shape == y.shape
    np.testing.assert_allclose(labels.sum(axis=1), 1.0, atol=1e-5)
    assert not np.array_equal(labels, y)
    assert np.abs(out - x).mean() > 1.0


def test_mixing_needs_labels(batch) -> None:  # type: ignore[no-untyped-def]
    x, _ = batch
    with pytest.raises(DatasetError, match="label_mode='categorical'"):
        augment.build(["mixup"])(x, None, np.random.default_rng(0))


def test_flip_alone_mirrors_exactly_some_images(batch) -> None:  # type: ignore[no-untyped-def]
    x, y = batch
    out, _ = augment.build("flip")(x, y, np.random.default_rng(7))
    mirrored = [np.array_equal(o, i[:, ::-1]) for o, i in zip(out, x)]
    kept = [np.array_equal(o, i) for o, i in zip(out, x)]
    assert all(m or k for m, k in zip(mirrored, kept))
    assert any(mirrored) and any(kept)


def test_geometric_names_share_one_warp(batch, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    aug = augment.build(["flip", "brightness", "zoom=0.3", "shear", "rotate"])
    assert aug is not None and aug.names == ["geometry", "brightness"]
    warps = []
    warp = affine.warp

    def counting(images, *args, **kwargs):  # type: ignore[no-untyped-def]
        warps.append(len(images))
        return warp(images, *args, **kwargs)

    monkeypatch.setattr(affine, "warp", counting)
    x, y = batch
    out, _ = aug(x, y, np.random.default_rng(0))
    assert out.shape == x.shape
    assert warps == [len(x)]  # one call, the whole batch: flip, zoom, shear and rotate in one matrix


def test_geometry_comes_first_and_only_an_interpolating_one_is_left_to_the_loader() -> None:
    aug = augment.build(["brightness", "zoom", "contrast", "flip"])
    assert aug is not None and aug.names == ["geometry", "brightness", "contrast"]
    assert aug.geometry is aug.steps[0][1]
    assert augment.build("flip").geometry is None  # a mirror is a copy, after the usual resize
    assert augment.build("brightness").geometry is None


def test_geometry_matrices_mirror_both_ways(batch) -> None:  # type: ignore[no-untyped-def]
    x, _ = batch
    geometry = augment.build(["flip=both", "zoom=0"]).geometry  # zoom 1 +- 0: only the mirrors move pixels
    m = geometry.matrices(len(x), 64, 64, np.random.default_rng(5))
    out = affine.warp(x, m)
    seen = set()
    for o, i, mi in zip(out, x, m):
        rows, cols = mi[0, 0] < 0, mi[1, 1] < 0
        expect = i[::-1] if rows else i
        np.testing.assert_allclose(o, expect[:, ::-1] if cols else expect, atol=1e-3)
        seen.add((bool(rows), bool(cols)))
    assert len(seen) > 1


def test_rotation_by_90_degrees_is_an_exact_quarter_turn(batch) -> None:  # type: ignore[no-untyped-def]
    x, _ = batch
    out = affine.warp(x, _matrices(len(x), angle=90.0))
    np.testing.assert_allclose(out, np.rot90(x, k=1, axes=(1, 2)), atol=1e-3)


def test_zoom_in_magnifies_the_centre(batch) -> None:  # type: ignore[no-untyped-def]
    x, _ = batch
    out = affine.warp(x[:1], _matrices(1, zoom=2.0))
    # the output's centre pixel is the input's centre; its corner is the input's point a quarter in
    np.testing.assert_allclose(out[0, 0, 0], x[0, 15:17, 15:17].mean(axis=(0, 1)), atol=12)
    assert np.abs(out[0] - x[0]).mean() > 5


def test_same_generator_state_gives_the_same_augmentation(batch) -> None:  # type: ignore[no-untyped-def]
    x, y = batch
    aug = augment.build(["flip", "rotate", "zoom", "randaugment"])
    a, _ = aug(x, y, np.random.default_rng(11))
    b, _ = aug(x, y, np.random.default_rng(11))
    c, _ = aug(x, y, np.random.default_rng(12))
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_keras_layers_and_comma_strings_are_accepted(batch) -> None:  # type: ignore[no-untyped-def]
    import keras

    x, y = batch
    aug = augment.build(["flip", keras.layers.RandomGrayscale(factor=1.0)])
    out, labels = aug(x, y, np.random.default_rng(0))
    np.testing.assert_allclose(out[..., 0], out[..., 1], atol=1e-3)  # all grey now
    assert np.array_equal(labels, y)
    assert augment.build("flip, zoom=0.1").names == ["geometry"]
    assert augment.build(None) is None and augment.build([]) is None


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("rotaet", "Did you mean 'rotate'"),
        ("zoom=big", "must be a number"),
        ("flip=diagonal", "flip=horizontal"),
        ("randaugment=3", "between 0 and 1"),
        (42, "a name"),
    ],
)
def test_bad_augmentations_are_refused_by_name(spec: object, message: str) -> None:
    with pytest.raises(DatasetError, match=message):
        augment.build([spec])
