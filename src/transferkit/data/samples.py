"""A small real labelled photo folder, built offline from photos that scikit-image ships.

Four surface textures -- brick, grass, gravel and the moon's surface -- each from its own real photograph.
Training patches come from the top 60% of each photo and validation patches from the bottom 40%, so no
validation pixel was seen in training. Patches vary in scale, position, flips and quarter turns, and are
saved as JPEGs like a camera folder. Used by ``make demo`` and the tests; needs ``transferkit[demo]``.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image

CLASSES = ("brick", "grass", "gravel", "moon")
_TRAIN_FRACTION = 0.6


def _photo(name: str) -> np.ndarray:
    from skimage import data

    return np.asarray(getattr(data, name)())


def texture_folders(
    root: str | os.PathLike[str], train_per_class: int = 30, val_per_class: int = 15, size: int = 128, seed: int = 0
) -> tuple[Path, Path]:
    """Write ``root/train/<class>/*.jpg`` and ``root/val/<class>/*.jpg``; return the two folders."""
    rng = np.random.default_rng(seed)
    root = Path(root)
    for split, count in (("train", train_per_class), ("val", val_per_class)):
        for label in CLASSES:
            photo = _photo(label)
            cut = int(photo.shape[0] * _TRAIN_FRACTION)
            region = photo[:cut] if split == "train" else photo[cut:]
            folder = root / split / label
            folder.mkdir(parents=True, exist_ok=True)
            for index in range(count):
                _patch(region, rng, size).save(folder / f"{label}_{index:03d}.jpg", quality=92)
    return root / "train", root / "val"


def _patch(region: np.ndarray, rng: np.random.Generator, size: int) -> Image.Image:
    height, width = region.shape[:2]
    side = int(rng.integers(min(height, width) // 3, min(height, width) + 1))
    top, left = int(rng.integers(0, height - side + 1)), int(rng.integers(0, width - side + 1))
    patch = region[top : top + side, left : left + side]
    patch = np.rot90(patch, int(rng.integers(0, 4)))
    if rng.random() < 0.5:
        patch = patch[:, ::-1]
    return Image.fromarray(np.ascontiguousarray(patch)).convert("RGB").resize((size, size), Image.Resampling.BILINEAR)
