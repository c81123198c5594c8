"""Decoding every common format and mode into upright 8-bit RGB, and clear errors for broken files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from transferkit.data import images
from transferkit.errors import ImageError


@pytest.fixture(scope="module")
def coffee_rgb() -> np.ndarray:
    from skimage import data

    return np.asarray(Image.fromarray(data.coffee()).resize((160, 120)))


@pytest.mark.parametrize("ext", ["jpg", "png", "bmp", "gif", "webp", "tiff", "JPG"])
def test_formats_decode_to_rgb(tmp_path: Path, coffee_rgb: np.ndarray, ext: str) -> None:
    path = tmp_path / f"coffee.{ext}"
    Image.fromarray(coffee_rgb).save(path, format={"jpg": "JPEG", "JPG": "JPEG", "tiff": "TIFF"}.get(ext))
    img = images.open_rgb(path)
    assert img.mode == "RGB" and img.size == (160, 120)
    # lossy formats and GIF's 256-colour palette stay close to the original
    tolerance = {"jpg": 12, "JPG": 12, "webp": 12, "gif": 20}.get(ext, 0)
    assert np.abs(np.asarray(img, np.float32) - coffee_rgb).mean() <= tolerance


def test_grayscale_is_repeated(tmp_path: Path) -> None:
    from skimage import data

    Image.fromarray(data.camera()).save(tmp_path / "camera.png")
    rgb = np.asarray(images.open_rgb(tmp_path / "camera.png"))
    assert rgb.shape == (*data.camera().shape, 3)
    assert (rgb[..., 0] == data.camera()).all() and (rgb[..., 0] == rgb[..., 2]).all()


def test_rgba_composited_on_white(tmp_path: Path, coffee_rgb: np.ndarray) -> None:
    rgba = np.dstack([coffee_rgb, np.full(coffee_rgb.shape[:2], 255, np.uint8)])
    rgba[:, :80, 3] = 0  # left half fully transparent
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    rgb = np.asarray(images.open_rgb(tmp_path / "a.png"))
    assert (rgb[:, :80] == 255).all()
    assert (rgb[:, 80:] == coffee_rgb[:, 80:]).all()


def test_palette_with_transparency(tmp_path: Path, coffee_rgb: np.ndarray) -> None:
    pal = Image.fromarray(coffee_rgb).convert("P", palette=Image.Palette.ADAPTIVE, colors=64)
    pal.info["transparency"] = 0
    pal.save(tmp_path / "p.gif", transparency=0)
    rgb = images.open_rgb(tmp_path / "p.gif")
    assert rgb.mode == "RGB" and rgb.size == (160, 120)
    transparent = np.asarray(pal) == 0  # palette entry 0 is the transparent one
    assert 0 < transparent.sum() < transparent.size
    pixels = np.asarray(rgb)
    assert (pixels[transparent] == 255).all()  # composited on white, whatever colour entry 0 holds
    assert not (pixels[~transparent] == 255).all()


def test_cmyk_jpeg(tmp_path: Path, coffee_rgb: np.ndarray) -> None:
    Image.fromarray(coffee_rgb).convert("CMYK").save(tmp_path / "cmyk.jpg", quality=95)
    with Image.open(tmp_path / "cmyk.jpg") as raw:
        assert raw.mode == "CMYK"
    rgb = np.asarray(images.open_rgb(tmp_path / "cmyk.jpg"), np.float32)
    assert np.abs(rgb - coffee_rgb).mean() < 12


def test_16_bit_png_is_scaled_not_clipped(tmp_path: Path) -> None:
    from skimage import data

    sixteen = data.camera().astype(np.uint16) * 257  # full 16-bit range
    Image.fromarray(sixteen).save(tmp_path / "deep.png")
    with Image.open(tmp_path / "deep.png") as raw:
        assert raw.mode.startswith("I")
    rgb = np.asarray(images.open_rgb(tmp_path / "deep.png"))
    assert np.abs(rgb[..., 0].astype(int) - data.camera()).max() <= 1


def test_exif_orientation_applied(tmp_path: Path, coffee_rgb: np.ndarray) -> None:
    img = Image.fromarray(coffee_rgb)  # 160 wide, 120 high
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    img.save(tmp_path / "rotated.jpg", exif=exif)
    upright = images.open_rgb(tmp_path / "rotated.jpg")
    assert upright.size == (120, 160)
    expected = np.asarray(img.transpose(Image.Transpose.ROTATE_270), np.float32)
    assert np.abs(np.asarray(upright, np.float32) - expected).mean() < 12


def test_jpeg_draft_decodes_smaller_but_enough(tmp_path: Path) -> None:
    from skimage import data

    Image.fromarray(data.astronaut()).save(tmp_path / "big.jpg")  # 512x512
    img = images.open_rgb(tmp_path / "big.jpg", draft_size=(100, 100))
    assert 100 <= img.size[0] < 512 and 100 <= img.size[1] < 512


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (None, "no such file"),
        (b"", "empty"),
        (b"this is a text file, not a photo\n", "not an image"),
    ],
)
def test_unreadable_files_name_the_file(tmp_path: Path, content: bytes | None, reason: str) -> None:
    path = tmp_path / "broken.jpg"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ImageError, match=reason) as info:
        images.open_rgb(path)
    assert str(path) in str(info.value)


def test_truncated_jpeg(tmp_path: Path, coffee: Path) -> None:
    data = coffee.read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[: len(data) // 3])
    with pytest.raises(ImageError, match="truncated or corrupt"):
        images.open_rgb(tmp_path / "cut.jpg")


def test_folder_is_not_an_image(tmp_path: Path) -> None:
    with pytest.raises(ImageError, match="folder"):
        images.open_rgb(tmp_path)


def test_pixel_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    Image.new("RGB", (300, 200)).save(tmp_path / "wide.png")
    monkeypatch.setenv("TRANSFERKIT_MAX_PIXELS", "50000")
    with pytest.raises(ImageError, match="TRANSFERKIT_MAX_PIXELS"):
        images.open_rgb(tmp_path / "wide.png")
    monkeypatch.setenv("TRANSFERKIT_MAX_PIXELS", "60000")
    assert images.open_rgb(tmp_path / "wide.png").size == (300, 200)


@pytest.mark.parametrize(
    ("array", "expected_max"),
    [
        (np.full((8, 8), 200, np.uint8), 200),
        (np.full((8, 8, 1), 200, np.uint8), 200),
        (np.dstack([np.full((8, 8, 3), 200, np.uint8), np.full((8, 8), 255, np.uint8)]), 200),  # opaque RGBA
        (np.full((8, 8, 4), 200, np.uint8), 212),  # alpha 200/255 over white: 200 * 0.784 + 255 * 0.216
        (np.full((8, 8, 3), 0.5, np.float32), 128),  # float 0-1
        (np.full((8, 8, 3), 100.0, np.float32), 100),  # float 0-255
        (np.full((8, 8, 3), 65535, np.uint16), 255),
    ],
)
def test_arrays(array: np.ndarray, expected_max: int) -> None:
    rgb = np.asarray(images.open_rgb(array))
    assert rgb.shape == (8, 8, 3) and rgb.dtype == np.uint8 and int(rgb.max()) == expected_max


def test_bad_array_shape() -> None:
    with pytest.raises(ImageError, match="HxW"):
        images.open_rgb(np.zeros((4, 4, 7), np.uint8))


def test_fit_squash_and_centre_crop() -> None:
    img = Image.new("RGB", (400, 200))
    assert images.fit(img, (100, 100)).size == (100, 100)
    cropped = images.fit(img, (224, 224), crop_pct=0.875)
    assert cropped.size == (224, 224)


def test_centre_crop_keeps_the_centre() -> None:
    array = np.zeros((100, 300, 3), np.uint8)
    array[:, 140:160] = 255  # a white bar in the middle
    out = np.asarray(images.fit(Image.fromarray(array), (50, 50), crop_pct=1.0))
    assert out[:, 25].mean() > 200 and out[:, 0].mean() < 10


def test_load_many_keeps_going(tmp_path: Path, chelsea: Path) -> None:
    batch, kept, errors = images.load_many([chelsea, tmp_path / "missing.png", chelsea], (64, 64))
    assert batch.shape == (2, 64, 64, 3) and batch.dtype == np.float32
    assert kept == [0, 2]
    assert len(errors) == 1 and errors[0].path.endswith("missing.png")
    assert 0 <= batch.min() and batch.max() <= 255 and batch.max() > 1


@pytest.mark.parametrize("size", [(96, 128), (700, 300)])
def test_fast_bilinear_resize_matches_pillow(size: tuple[int, int]) -> None:
    """The torch resize gives Pillow's antialiased bilinear pixels (what this module used before), down and up,
    colour and grayscale, to within one level."""
    from skimage import data as photos

    for array in (photos.chelsea(), photos.camera()):
        expected = np.asarray(Image.fromarray(array).resize(size[::-1], Image.Resampling.BILINEAR), np.int16)
        got = images.resize_bilinear(array, size).astype(np.int16)
        assert got.shape == expected.shape
        assert np.abs(got - expected).max() <= 1
