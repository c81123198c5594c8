"""Reading any photo into RGB, and fitting it to a model's input size: the one place that does either.

Decoding (Pillow): JPEG, PNG, BMP, GIF (first frame), WebP, TIFF and anything else Pillow reads. Every
mode becomes 8-bit RGB: grayscale is repeated, alpha is composited on white (transparent pixels are
often black underneath), palette and CMYK are converted, 16-bit is scaled by 1/257, and the EXIF
orientation is applied so a phone photo stands the way it was taken. JPEGs are decoded at reduced size
(libjpeg's DCT scaling, ``Image.draft``) when the target is much smaller than the file.

Fitting (:func:`fit`), two policies:

- ``crop_pct=None`` (training, fine-tuned classifiers): the whole image is resized to the target size,
  aspect ratio not kept, so nothing at the border is lost.
- ``crop_pct=0.875`` (ImageNet classifiers): the shorter side is resized to ``size / crop_pct`` and the
  centre is cropped -- the protocol the published ImageNet accuracies are measured with.

Both resize with antialiased bilinear filtering (:func:`resize_bilinear`), for prediction and training
alike. Pixel values stay 0-255; each model normalises
inside itself (its first layer, saved with it), so no caller ever normalises by hand.

Arrays passed in are taken as RGB (or grayscale/RGBA) with values 0-255, except float arrays whose
maximum is at most 1.0, which are taken as 0-1.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import IO, Any, Union

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .. import config
from ..errors import ImageError

#: A path, an open binary file (an upload's bytes), a PIL image or an array.
ImageSource = Union[str, "os.PathLike[str]", IO[bytes], Image.Image, np.ndarray]

#: File endings treated as images when scanning folders (compared case-insensitively).
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".jfif")
_BIGGER = "set TRANSFERKIT_MAX_PIXELS to allow larger images"


def describe(source: ImageSource) -> str:
    """A short name for an image source, used in messages and results."""
    if isinstance(source, (str, os.PathLike)):
        return os.fspath(source)
    if isinstance(source, Image.Image):
        return getattr(source, "filename", "") or f"<PIL image {source.size[0]}x{source.size[1]}>"
    if not isinstance(source, np.ndarray):
        return str(getattr(source, "name", "image"))  # an open file
    return f"<array {'x'.join(map(str, np.shape(source)))}>"


@contextmanager
def _opened(source: str | IO[bytes], limit: int | None) -> Iterator[Image.Image]:
    """The file (a path, or an open binary file such as an upload's bytes) opened by Pillow (header read, no
    pixels), or :class:`ImageError` saying why it cannot be: the one mapping of every way a file fails to the
    reason a user reads (and its ``kind``)."""
    limit = limit or config.max_pixels()
    if limit > (Image.MAX_IMAGE_PIXELS or 0):
        Image.MAX_IMAGE_PIXELS = limit  # Pillow's own check would refuse before ours
    path = source if isinstance(source, str) else str(getattr(source, "name", "image"))
    try:
        if isinstance(source, str):
            info = os.stat(source)
            if stat.S_ISDIR(info.st_mode):
                raise ImageError(path, "it is a folder, not an image file")
            if not stat.S_ISREG(info.st_mode):
                raise ImageError(path, "not a regular file")  # a FIFO would block the reader forever
            empty = info.st_size == 0
        else:
            empty = source.seek(0, os.SEEK_END) == 0
            source.seek(0)
        if empty:
            raise ImageError(path, "the file is empty (0 bytes)", "empty")
        with Image.open(source) as img:
            width, height = img.size
            if width * height > limit:
                raise ImageError(
                    path, f"{width}x{height} is {width * height:,} pixels, over the limit of {limit:,} "
                    f"(a decompression bomb?); {_BIGGER}", "pixels",
                )  # fmt: skip
            yield img
    except ImageError:
        raise
    except FileNotFoundError:
        raise ImageError(path, "broken link" if os.path.islink(path) else "no such file", "missing") from None
    except PermissionError:
        raise ImageError(path, "permission denied") from None
    except UnidentifiedImageError:
        raise ImageError(path, "not an image format Pillow can read", "format") from None
    except Image.DecompressionBombError as exc:
        raise ImageError(path, f"{exc} (a decompression bomb?); {_BIGGER}", "pixels") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        if getattr(exc, "errno", None) == errno.ELOOP:
            raise ImageError(path, "symlink loop") from None
        raise ImageError(path, f"the file is truncated or corrupt ({exc})", "corrupt") from None


def check(source: str | IO[bytes], limit: int | None = None) -> None:
    """:class:`ImageError` unless ``source`` can be an image, from its header alone (fast: no pixel decoded)."""
    with _opened(source, limit):
        return


def probe(path: str, limit: int | None = None) -> str | None:
    """Why ``path`` cannot be an image, from its header alone (fast: no pixel is decoded), or None.

    Catches what a scan can see cheaply: not a regular file, empty, unreadable, not an image, too many
    pixels. A truncated file is only found when it is decoded.
    """
    try:
        check(path, limit)
    except ImageError as exc:
        return exc.reason
    return None


def open_rgb(source: ImageSource, draft_size: tuple[int, int] | None = None, limit: int | None = None) -> Image.Image:
    """Decode ``source`` into an upright 8-bit RGB PIL image, or raise :class:`ImageError` naming it.

    ``draft_size`` lets JPEG decoding skip detail the caller will discard: the result is then at least
    that large in both dimensions, but may be smaller than the file. ``limit`` (pixels) defaults to
    ``TRANSFERKIT_MAX_PIXELS``.
    """
    if isinstance(source, np.ndarray):
        return _array_to_rgb(source)
    if isinstance(source, Image.Image):
        return _to_rgb(ImageOps.exif_transpose(source) or source)
    with _opened(source if hasattr(source, "read") else os.fspath(source), limit) as img:  # type: ignore[arg-type]
        if draft_size is not None and img.format == "JPEG":
            img.draft("RGB", draft_size)
        img.load()
        return _to_rgb(ImageOps.exif_transpose(img) or img)


def _to_rgb(img: Image.Image) -> Image.Image:
    if img.mode == "RGB":
        return img
    if img.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        array = np.asarray(img, dtype=np.float64)
        if img.mode != "I" or array.max(initial=0) > 255:
            array = array / 257.0
        return _array_to_rgb(np.clip(np.rint(array), 0, 255).astype(np.uint8))
    if img.mode == "F":
        return _array_to_rgb(np.asarray(img, dtype=np.float32))
    if img.mode == "P" and "transparency" in img.info:
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA", "PA", "La", "RGBa"):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return img.convert("RGB")


def _array_to_rgb(array: np.ndarray) -> Image.Image:
    array = np.asarray(array)
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[-1] not in (3, 4)):
        raise ImageError(describe(array), "an image array must be HxW, HxWx1, HxWx3 or HxWx4")
    if array.dtype == np.uint16:
        array = array / 257.0
    elif array.dtype.kind == "f" and array.size and float(np.nanmax(array)) <= 1.0:
        array = array * 255.0
    array = np.clip(np.nan_to_num(np.rint(array) if array.dtype.kind == "f" else array), 0, 255).astype(np.uint8)
    img = Image.fromarray(array)
    return _to_rgb(img)


def fit(img: Image.Image, size: tuple[int, int], crop_pct: float | None = None) -> Image.Image:
    """Resize (and with ``crop_pct``, centre-crop) to ``size`` = (height, width); see the module doc."""
    height, width = size
    if crop_pct is None:
        return img if img.size == (width, height) else _resized(img, (height, width))
    scale = max(height, width) / crop_pct / min(img.size)
    new_w, new_h = max(width, round(img.size[0] * scale)), max(height, round(img.size[1] * scale))
    img = _resized(img, (new_h, new_w))
    left, top = (new_w - width) // 2, (new_h - height) // 2
    return img.crop((left, top, left + width, top + height))


def _resized(img: Image.Image, size: tuple[int, int]) -> Image.Image:
    if img.mode not in ("RGB", "L"):
        return img.resize(size[::-1], Image.Resampling.BILINEAR)
    return Image.fromarray(resize_bilinear(np.asarray(img), size))


def resize_bilinear(array: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Antialiased bilinear resize of a ``uint8`` (H, W[, C]) image to ``size`` = (height, width).

    Pillow's ``BILINEAR`` pixels (at most one level apart, rarely) at about 2.5x its speed: torch's uint8
    kernel. After decoding, resizing is most of the cost of loading a training batch.
    """
    import torch
    import torch.nn.functional as F

    planes = torch.from_numpy(np.array(array if array.ndim == 3 else array[..., None], np.uint8))
    out = F.interpolate(planes.permute(2, 0, 1)[None], size=size, mode="bilinear", antialias=True, align_corners=False)
    result = out[0].permute(1, 2, 0).numpy()
    return result if array.ndim == 3 else result[..., 0]


def load(source: ImageSource, size: tuple[int, int], crop_pct: float | None = None) -> np.ndarray:
    """One image as a float32 ``(height, width, 3)`` array of 0-255 RGB, ready for a transferkit model."""
    draft = (size[1], size[0]) if crop_pct is None else tuple(int(s / crop_pct) for s in (size[1], size[0]))
    img = fit(open_rgb(source, draft_size=draft), size, crop_pct)  # type: ignore[arg-type]
    return np.asarray(img, dtype=np.float32)


def load_many(
    sources: Sequence[ImageSource], size: tuple[int, int], crop_pct: float | None = None
) -> tuple[np.ndarray, list[int], list[ImageError]]:
    """Load what can be loaded: the batch, the indices it holds, and one error per image that failed."""
    arrays, kept, errors = [], [], []
    for index, source in enumerate(sources):
        try:
            arrays.append(load(source, size, crop_pct))
            kept.append(index)
        except ImageError as exc:
            errors.append(exc)
    batch = np.stack(arrays) if arrays else np.zeros((0, *size, 3), np.float32)
    return batch, kept, errors


def as_sources(images: Any) -> list[ImageSource]:
    """Accept one image or a sequence of them (a 4-D array is a batch)."""
    if isinstance(images, (str, os.PathLike, Image.Image)):
        return [images]
    if isinstance(images, np.ndarray):
        return list(images) if images.ndim == 4 else [images]
    return list(images)
