"""Small real labelled photo folders, built offline from photos that packages ship.

``texture_folders``: four surface textures -- brick, grass, gravel and the moon's surface -- each from its own
real photograph. Training patches come from the top 60% of each photo and validation patches from the bottom
40%, so no validation pixel was seen in training. Patches vary in scale, position, flips and quarter turns,
and are saved as JPEGs like a camera folder. Used by ``make demo`` and the tests; needs ``transferkit[demo]``.

``texture_table``: a multi-label table: each image is a 2x2 grid holding patches of one to three of the four
textures (or none) on a plain colour, labelled by the textures it shows (``labels.csv``: ``path,label`` with
``;`` between labels).

``photo_folders``: seven kinds of picture (person, document, space ...), each several photos, cropped at
widely varying scale and resolution: a harder folder that no test is tuned to, for the benchmarks.
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


def texture_table(root: str | os.PathLike[str], count: int = 120, size: int = 96, seed: int = 0) -> Path:
    """Write ``root/images/*.jpg`` and ``root/labels.csv`` (see the module doc); return the CSV's path."""
    rng = np.random.default_rng(seed)
    root = Path(root)
    (root / "images").mkdir(parents=True, exist_ok=True)
    photos = {label: _photo(label) for label in CLASSES}
    half = size // 2
    rows = ["path,label"]
    for index in range(count):
        shown = sorted(rng.choice(len(CLASSES), size=int(rng.choice(4, p=[0.05, 0.35, 0.4, 0.2])), replace=False))
        canvas = Image.new("RGB", (size, size), tuple(int(v) for v in rng.integers(100, 160, 3)))
        for slot, k in zip(rng.permutation(4), shown):
            patch = _patch(photos[CLASSES[k]], rng, half)
            canvas.paste(patch, (int(slot % 2) * half, int(slot // 2) * half))
        name = f"images/grid_{index:04d}.jpg"
        canvas.save(root / name, quality=92)
        rows.append(f"{name},{';'.join(CLASSES[k] for k in shown)}")
    (root / "labels.csv").write_text("\n".join(rows) + "\n")
    return root / "labels.csv"


# photo_folders: seven kinds of picture, each made of two or three different photos that packages ship offline
# (scikit-image, scikit-learn's sample images, matplotlib's sample data), colour and grayscale mixed.
SCENES: dict[str, tuple[str, ...]] = {
    "document": ("page", "text"),
    "ground": ("brick", "grass", "gravel"),
    "medical": ("cell", "immunohistochemistry", "retina"),
    "object": ("clock", "coffee", "coins"),
    "outdoor": ("china", "flower", "rocket"),
    "person": ("astronaut", "camera", "grace_hopper"),
    "space": ("hubble_deep_field", "moon"),
}
SOURCES_FILE = "sources.csv"
_MIN_SCALE = 1 / 8  # the smallest crop's side, as a fraction of the region's shorter side
_SAVED_SIDE = (32, 288)  # a crop is saved with its longer side drawn log-uniformly in this range (never enlarged)
_GRAY, _PNG = 1 / 3, 1 / 3  # fractions of crops saved in grayscale, and as PNG rather than JPEG


def _scene_photo(name: str) -> np.ndarray:
    """One shipped photo as uint8 (H, W) or (H, W, 3), by the name SCENES uses."""
    if name in ("china", "flower"):
        from sklearn.datasets import load_sample_image

        return np.asarray(load_sample_image(f"{name}.jpg"))
    if name == "grace_hopper":
        from matplotlib.cbook import get_sample_data

        with Image.open(get_sample_data("grace_hopper.jpg", asfileobj=False)) as image:
            return np.asarray(image.convert("RGB"))
    return _photo(name)


def photo_folders(
    root: str | os.PathLike[str], train_per_class: int = 60, val_per_class: int = 30, seed: int = 0
) -> tuple[Path, Path]:
    """A harder real folder than :func:`texture_folders`, for benchmarks: ``root/train/<kind>/*`` and
    ``root/val/<kind>/*``, seven kinds of picture (``SCENES``), 420 / 210 images by default.

    Each kind is two or three different photos shipped with scikit-image, scikit-learn and matplotlib, so a
    class is a kind of picture, not one photo (``person``: an astronaut, a cameraman and Grace Hopper). Each
    image is a crop of one of them at a random scale (1/8 of the region's shorter side to all of it, aspect
    3:4 to 4:3), flipped at random, saved with its longer side between 32 and 288 px (small crops stay
    small: low resolution, as many real folders have), a third of them in grayscale so colour alone does
    not tell the kinds apart, a third as PNG and the rest as JPEG. Small crops are often ambiguous (a patch
    of a portrait's background, of sky, of a page's margin), so a linear probe on pretrained features does
    well but not perfectly: the point is to leave room between methods. Training crops come from the top
    60% of each photo and validation crops from the bottom 40%, so no validation pixel was seen in
    training; ``root/sources.csv`` lists every file with its photo and crop box (rows and columns in the
    photo). Photos alternate within a class. Needs ``transferkit[demo]`` (scikit-image).
    """
    rng = np.random.default_rng(seed)
    root = Path(root)
    photos = {name: _scene_photo(name) for names in SCENES.values() for name in names}
    rows = ["file,photo,top,left,height,width"]
    for split, count in (("train", train_per_class), ("val", val_per_class)):
        for label, names in SCENES.items():
            folder = root / split / label
            folder.mkdir(parents=True, exist_ok=True)
            for index in range(count):
                name = names[index % len(names)]
                photo = photos[name]
                cut = int(photo.shape[0] * _TRAIN_FRACTION)
                offset = 0 if split == "train" else cut
                region = photo[:cut] if split == "train" else photo[cut:]
                image, (top, left, height, width) = _scene_crop(region, rng)
                path = folder / f"{label}_{index:03d}.{'png' if rng.random() < _PNG else 'jpg'}"
                image.save(path, quality=90)  # PNG ignores it
                rows.append(f"{path.relative_to(root).as_posix()},{name},{top + offset},{left},{height},{width}")
    (root / SOURCES_FILE).write_text("\n".join(rows) + "\n")
    return root / "train", root / "val"


def _scene_crop(region: np.ndarray, rng: np.random.Generator) -> tuple[Image.Image, tuple[int, int, int, int]]:
    """A random crop of ``region`` as a PIL image, and its box (top, left, height, width) in the region."""
    region_h, region_w = region.shape[:2]
    side = min(region_h, region_w) * np.exp(rng.uniform(np.log(_MIN_SCALE), 0))
    aspect = np.exp(rng.uniform(np.log(3 / 4), np.log(4 / 3)))
    height = int(np.clip(round(side * np.sqrt(aspect)), 8, region_h))
    width = int(np.clip(round(side / np.sqrt(aspect)), 8, region_w))
    top, left = int(rng.integers(0, region_h - height + 1)), int(rng.integers(0, region_w - width + 1))
    crop = region[top : top + height, left : left + width]
    if rng.random() < 0.5:
        crop = crop[:, ::-1]
    image = Image.fromarray(np.ascontiguousarray(crop))
    image = image.convert("L") if rng.random() < _GRAY else image
    longest = np.exp(rng.uniform(*np.log(_SAVED_SIDE)))
    if max(height, width) > longest:
        scale = longest / max(height, width)
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        image = image.resize(size, Image.Resampling.BILINEAR, reducing_gap=3.0)
    return image, (top, left, height, width)
