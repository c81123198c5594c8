"""Decoding batches of image files in parallel threads, at reduced size, without letting one bad file stop a batch.

Decoding goes through :mod:`transferkit.data.images` (``open_rgb`` with ``draft_size``, so libjpeg skips the
detail a small target discards). Pillow (decoding), torch (the default bilinear resize) and OpenCV (the
warp of an augmenting dataset, resize included) release the GIL, so a thread per core keeps every core
busy without the cost of processes. A file that fails is reported, not raised: the caller drops it from
the batch and records it.
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

from .._compat.backend import has_accelerator
from .._util.checks import check_choice
from ..errors import DatasetError, ImageError
from . import affine, images
from .skips import SkipLog

#: Resampling filters by the names Keras uses for ``interpolation``.
INTERPOLATIONS = {
    "nearest": Image.Resampling.NEAREST,
    "bilinear": Image.Resampling.BILINEAR,
    "bicubic": Image.Resampling.BICUBIC,
    "lanczos": Image.Resampling.LANCZOS,
    "box": Image.Resampling.BOX,
    "hamming": Image.Resampling.HAMMING,
}
COLOR_MODES = {"rgb": 3, "grayscale": 1}


_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


@functools.cache
def prefetch_workers() -> int:
    """Threads a dataset gets to prepare batches ahead of ``model.fit`` (a PyDataset's ``workers``).

    2 where the model runs on an accelerator, so that decoding overlaps its step; 1 on CPU, where Keras then
    loads each batch in the training loop itself. There the step and the decoding share the cores and each
    batch's decoding is already spread over them (:func:`pool`): a prefetching thread only oversubscribes them,
    its batch's decoding contending with the step's OpenMP threads. Measured on 2 cores: 1.35x images/s
    through ``fit`` for the article's augmentation with a tiny model (``python -m bench data``), the same
    (53 against 52 images/s) fine-tuning EfficientNet-Lite0.
    """
    return 2 if has_accelerator() else 1


def pool() -> ThreadPoolExecutor:
    """The process-wide decoding pool: one thread per core (decoding is CPU-bound and releases the GIL)."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2), thread_name_prefix="transferkit-io")
        return _pool


@dataclass(frozen=True)
class Decoder:
    """How files become arrays: target ``size`` (height, width), resampling filter, colour mode, crop policy,
    and what a warp puts outside the image (``fill_mode``, ``cval``: see :func:`affine.warp_image`)."""

    size: tuple[int, int]
    interpolation: str = "bilinear"
    color_mode: str = "rgb"
    keep_aspect_ratio: bool = False
    max_pixels: int | None = None
    fill_mode: str = "reflect"
    cval: float = 0.0

    def __post_init__(self) -> None:
        check_choice("interpolation", self.interpolation, list(INTERPOLATIONS))
        check_choice("color_mode", self.color_mode, list(COLOR_MODES))
        check_choice("fill_mode", self.fill_mode, list(affine.IMAGE_FILL_MODES))
        if len(self.size) != 2 or not all(isinstance(s, (int, np.integer)) and s > 0 for s in self.size):
            raise DatasetError(f"An image size is (height, width) in pixels, both positive; received {self.size!r}.")

    @property
    def shape(self) -> tuple[int, int, int]:
        return (int(self.size[0]), int(self.size[1]), COLOR_MODES[self.color_mode])

    def decode(self, path: str, matrix: np.ndarray | None = None) -> np.ndarray:
        """One file as a ``uint8`` array of :attr:`shape`; raises :class:`ImageError` naming it.

        ``matrix`` (``(2, 3)``, from output pixels to positions in the image at the target size, as in
        :mod:`transferkit.data.affine`) warps the image in the same pass that resizes it.
        """
        height, width = self.size
        img = images.open_rgb(path, draft_size=(width, height), limit=self.max_pixels)
        w, h = img.size
        box = (0, 0, w, h)
        if self.keep_aspect_ratio:  # centre crop to the target's aspect ratio, as Keras's load_img does
            crop_h, crop_w = min(h, (w * height) // width), min(w, (h * width) // height)
            top, left = (h - crop_h) // 2, (w - crop_w) // 2
            box = (left, top, left + crop_w, top + crop_h)
        array = self._resize(img, box) if matrix is None else self._warp(img, box, matrix)
        return array[..., None] if array.ndim == 2 else array

    def _resize(self, img: Image.Image, box: tuple[int, int, int, int]) -> np.ndarray:
        """The ``box`` of ``img`` at the target size, in the colour mode, by the interpolation asked for."""
        height, width = self.size
        if self.keep_aspect_ratio:
            img = img.resize((width, height), INTERPOLATIONS[self.interpolation], box=box)
        if self.color_mode == "grayscale":
            img = img.convert("L")
        if img.size == (width, height):
            return np.asarray(img, dtype=np.uint8)
        if self.interpolation == "bilinear":
            return images.resize_bilinear(np.asarray(img), (height, width))
        return np.asarray(img.resize((width, height), INTERPOLATIONS[self.interpolation]), dtype=np.uint8)

    def _warp(self, img: Image.Image, box: tuple[int, int, int, int], matrix: np.ndarray) -> np.ndarray:
        """Resize the ``box`` of ``img`` to the target size and warp it by ``matrix``, in one pass.

        A source at least twice the target is first box-filtered down by a whole factor (Pillow's
        ``reduce``, after JPEG's own reduced decoding), so that sampling it does not alias.
        """
        height, width = self.size
        if self.color_mode == "grayscale":
            img = img.convert("L")
        left, top, right, bottom = map(float, box)
        factor = (max(1, int((right - left) / width)), max(1, int((bottom - top) / height)))
        if factor != (1, 1):
            img = img.reduce(factor, box=box)
            left, top, right, bottom = 0.0, 0.0, (right - left) / factor[0], (bottom - top) / factor[1]
        sy, sx = (bottom - top) / height, (right - left) / width  # target pixel centres -> source positions
        to_source = np.array([[sy, 0.0, top + sy / 2 - 0.5], [0.0, sx, left + sx / 2 - 0.5], [0.0, 0.0, 1.0]])
        matrix = (to_source @ np.vstack([matrix, [0.0, 0.0, 1.0]]))[:2]
        return affine.warp_image(np.asarray(img), matrix, self.size, self.interpolation, self.fill_mode, self.cval)

    def load(
        self, paths: Sequence[str], matrices: np.ndarray | None = None, dtype: Any = np.uint8
    ) -> tuple[np.ndarray, list[int], list[tuple[str, str]]]:
        """Decode ``paths`` in parallel (each warped by its row of ``matrices``, if given) into a ``dtype``
        batch: the batch of those that worked, their indices, the failures."""
        batch = np.empty((len(paths), *self.shape), dtype)

        def one(i: int) -> str | None:
            try:
                batch[i] = self.decode(paths[i], None if matrices is None else matrices[i])
                return None
            except ImageError as exc:
                return exc.reason

        reasons = list(pool().map(one, range(len(paths)))) if len(paths) > 1 else [one(i) for i in range(len(paths))]
        kept = [i for i, reason in enumerate(reasons) if reason is None]
        failed = [(paths[i], reason) for i, reason in enumerate(reasons) if reason is not None]
        return (batch if len(kept) == len(paths) else batch[kept]), kept, failed


def load_batch(
    decoder: Decoder,
    paths: Sequence[str],
    indices: np.ndarray,
    *,
    bad: set[int],
    skips: SkipLog,
    rng: np.random.Generator,
    warps: Callable[[int], np.ndarray] | None = None,
    dtype: Any = np.uint8,
) -> tuple[np.ndarray, np.ndarray]:
    """Decode ``paths[indices]``, dropping files that fail (remembered in ``bad``, logged in ``skips``).

    ``warps(n)`` gives the matrices to warp ``n`` images by while decoding them. Returns the ``dtype``
    images and the indices they came from. A batch is never empty: if every file in
    it fails, files from the rest of the dataset stand in (an empty batch would break training).
    """
    indices = np.asarray([i for i in indices if i not in bad], dtype=np.int64)
    while True:
        matrices = warps(len(indices)) if warps is not None else None
        batch, kept, failed = decoder.load([paths[i] for i in indices], matrices, dtype)
        for path, reason in failed:
            skips.add(path, reason)
        bad.update(int(i) for i in np.delete(indices, kept))
        if kept:
            return batch, indices[kept]
        left = np.setdiff1d(np.arange(len(paths)), np.fromiter(bad, np.int64, len(bad)))
        if not len(left):
            raise DatasetError("None of the images could be decoded; see the warnings or the dataset's `skipped`.")
        indices = rng.choice(left, min(max(len(indices), 1), len(left)), replace=False)
