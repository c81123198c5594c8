"""Named augmentations for :func:`transferkit.data.image_folder`, applied to a whole batch at once.

``augment=["flip", "zoom", "shear"]`` (or ``"flip,zoom=0.3"``, or Keras preprocessing layers) becomes an
:class:`Augmenter`: a function of a float32 0-255 batch (and its one-hot labels) that returns new ones.

========== =============================================== ===========================================
name       what (default strength)                          done by
========== =============================================== ===========================================
flip       mirror left-right, half the images (``horizontal``; ``vertical``, ``both``)   one warp
rotate     rotate up to +-15 degrees                           one warp, shared by all five
zoom       magnify by 1 +- 0.2, aspect kept                    geometric names
shear      shear up to +-10 degrees                            (``affine.warp``)
shift      move up to +-10 % of height and width
brightness ``keras.layers.RandomBrightness(0.2)``              Keras layer
contrast   ``keras.layers.RandomContrast(0.2)``                Keras layer
randaugment two random ops per image at magnitude 0.5          batched ops here (see below)
mixup      ``keras.layers.MixUp(alpha=0.2)``                   Keras layer (mixes labels)
cutmix     ``keras.layers.CutMix(factor=1.0)``                 Keras layer (mixes labels)
========== =============================================== ===========================================

Keras 3's own layers are used where they fit. The geometric ones are not: RandomRotation, RandomZoom,
RandomShear and RandomTranslation each measured 0.3-0.4 s per 32x224x224 batch on the torch backend
(one interpolation pass each), and ``keras.layers.RandAugment`` computes all eleven of its ops for every
batch and took 15 s. So the geometric names are composed into one matrix per image and warped once,
first whatever their place in the list (``image_folder`` does it while decoding, in the same pass as
the resize; see :attr:`Augmenter.geometry`), and ``randaugment`` draws two of twelve ops
(identity, rotate, shear x/y, translate x/y, brightness, contrast, colour, solarize, posterize,
autocontrast) per image and applies each to the images that drew it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import keras
import numpy as np

from .._compat.backend import import_keras
from .._util.suggest import did_you_mean
from ..errors import DatasetError
from . import affine

import_keras()  # the backend check and the Keras backports, before any Keras class is used

GEOMETRIC = {"flip": "horizontal", "rotate": 15.0, "zoom": 0.2, "shear": 10.0, "shift": 0.1}
NAMES = (*GEOMETRIC, "brightness", "contrast", "randaugment", "mixup", "cutmix")
Batch = tuple[np.ndarray, Any]
Step = Callable[[np.ndarray, Any, np.random.Generator], Batch]


@dataclass
class Augmenter:
    """A pipeline of batch steps; ``mixes_labels`` says whether a step needs (and changes) one-hot labels."""

    steps: list[tuple[str, Step]] = field(default_factory=list)
    mixes_labels: bool = False

    def __call__(
        self, images: np.ndarray, labels: Any, rng: np.random.Generator, copy: bool = True, geometry: bool = True
    ) -> Batch:
        """Augment a float 0-255 batch; ``copy=False`` lets the steps write into ``images`` (float32);
        ``geometry=False`` leaves out the warp of :attr:`geometry` (the loader did it)."""
        images = np.array(images, np.float32) if copy else images
        for _, step in self.steps if geometry or self.geometry is None else self.steps[1:]:
            images, labels = step(images, labels, rng)
        return images, labels

    @property
    def geometry(self) -> _Geometry | None:
        """The warp a loader can fuse with its resize (one pass from the decoded photo, in its threads):
        the geometric names, always the first step, when they interpolate (not a flip alone)."""
        step = self.steps[0][1] if self.steps else None
        return step if isinstance(step, _Geometry) and step.interpolates else None

    @property
    def names(self) -> list[str]:
        return [name for name, _ in self.steps]

    def __repr__(self) -> str:
        return f"Augmenter({', '.join(self.names)})"


def build(augment: Any, seed: int | None = None) -> Augmenter | None:
    """Turn ``augment`` (names, ``"name=strength"``, Keras layers, or a comma-separated string) into an Augmenter."""
    if augment is None or isinstance(augment, Augmenter):
        return augment
    items = augment.split(",") if isinstance(augment, str) else list(augment)
    geometric: dict[str, Any] = {}
    out = Augmenter()
    for item in items:
        if isinstance(item, str):
            name, _, value = item.strip().lower().partition("=")
            if name not in NAMES:
                hint = did_you_mean(name, NAMES, n=1)
                raise DatasetError(f"Unknown augmentation '{name}'.{hint} Known: {', '.join(NAMES)}.")
            if name in GEOMETRIC:
                geometric[name] = _strength(name, value, GEOMETRIC[name])
                if len(geometric) == 1:  # all geometric names share one warp, done first (see Augmenter.geometry)
                    out.steps.insert(0, ("geometry", _Geometry(geometric)))
            else:
                out.steps.append((name, _named(name, value, seed)))
                out.mixes_labels |= name in ("mixup", "cutmix")
        elif isinstance(item, keras.layers.Layer) or callable(item):
            mixes = isinstance(item, (keras.layers.MixUp, keras.layers.CutMix))
            out.steps.append((type(item).__name__, _layer(item, mixes)))
            out.mixes_labels |= mixes
        else:
            raise DatasetError(f"An augmentation is a name ({', '.join(NAMES)}) or a Keras layer; received {item!r}.")
    return out if out.steps else None


def _strength(name: str, value: str, default: Any) -> Any:
    if not value:
        return default
    if name == "flip":
        if value not in ("horizontal", "vertical", "both"):
            raise DatasetError(f"flip={value!r}: use flip=horizontal, flip=vertical or flip=both.")
        return value
    try:
        return float(value)
    except ValueError:
        raise DatasetError(f"{name}={value!r}: the strength must be a number, e.g. '{name}={default}'.") from None


def _named(name: str, value: str, seed: int | None) -> Step:
    layers = keras.layers
    if name == "brightness":
        return _layer(layers.RandomBrightness(_strength(name, value, 0.2), value_range=(0, 255), seed=seed), False)
    if name == "contrast":
        return _layer(layers.RandomContrast(_strength(name, value, 0.2), value_range=(0, 255), seed=seed), False)
    if name == "mixup":
        return _layer(layers.MixUp(alpha=_strength(name, value, 0.2), seed=seed), True)
    if name == "cutmix":
        return _layer(layers.CutMix(factor=_strength(name, value, 1.0), seed=seed), True)
    return _RandAugment(_strength(name, value, 0.5))


def _layer(layer: Any, mixes: bool) -> Step:
    """A Keras layer (or any callable on a batch) as a step; mixing layers get and return the labels too."""
    convert = keras.ops.convert_to_numpy

    def step(images: np.ndarray, labels: Any, rng: np.random.Generator) -> Batch:
        if mixes:
            if labels is None:
                raise DatasetError("mixup and cutmix mix labels: use label_mode='categorical' (or 'binary').")
            out = layer({"images": images, "labels": labels}, training=True)
            return np.asarray(convert(out["images"]), np.float32), np.asarray(convert(out["labels"]), np.float32)
        out = layer(images, training=True) if isinstance(layer, keras.layers.Layer) else layer(images)
        return np.asarray(convert(out), np.float32), labels

    return step


class _Geometry:
    """flip, rotate, zoom, shear and shift drawn per image and composed into one warp."""

    def __init__(self, strengths: dict[str, Any]) -> None:
        self.strengths = strengths  # filled in as names are parsed

    @property
    def interpolates(self) -> bool:
        return set(self.strengths) != {"flip"}

    def _draw(self, n: int, height: int, width: int, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
        s = self.strengths
        flip = s.get("flip")
        flip_h = np.logical_and(rng.random(n) < 0.5, flip in ("horizontal", "both"))
        flip_v = np.logical_and(rng.random(n) < 0.5, flip in ("vertical", "both"))
        angle = rng.uniform(-1, 1, n) * s.get("rotate", 0.0)
        shear = rng.uniform(-1, 1, n) * s.get("shear", 0.0)
        zoom = 1 + rng.uniform(-1, 1, n) * s.get("zoom", 0.0)
        shift = rng.uniform(-1, 1, (2, n)) * s.get("shift", 0.0) * np.array([[height], [width]])
        return flip_h, flip_v, angle, shear, zoom, shift

    def matrices(self, n: int, height: int, width: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` sampling matrices (``(n, 2, 3)``, see :mod:`transferkit.data.affine`) for ``height x width`` images."""
        flip_h, flip_v, angle, shear, zoom, shift = self._draw(n, height, width, rng)
        m = affine.matrices(
            height, width, angle=angle, shear=shear, zoom=zoom, shift_y=shift[0], shift_x=shift[1], flip=flip_h
        )
        m[flip_v, 0] *= -1  # mirror the source rows: row -> height - 1 - row
        m[flip_v, 0, 2] += height - 1
        return m

    def __call__(self, images: np.ndarray, labels: Any, rng: np.random.Generator) -> Batch:
        n, height, width = images.shape[:3]
        if not self.interpolates:  # nothing to interpolate: a mirror is a copy
            flip_h, flip_v = self._draw(n, height, width, rng)[:2]
            images[flip_v] = images[flip_v, ::-1]
            images[flip_h] = images[flip_h, :, ::-1]
            return images, labels
        return affine.warp(images, self.matrices(n, height, width, rng), "bilinear", "reflect"), labels


class _RandAugment:
    """RandAugment (Cubuk et al. 2019): each image gets two random ops at one magnitude, batched by op."""

    OPS = ("identity", "rotate", "shear_x", "shear_y", "translate_x", "translate_y",
           "brightness", "contrast", "color", "solarize", "posterize", "autocontrast")  # fmt: skip

    def __init__(self, magnitude: float, num_ops: int = 2) -> None:
        if not 0 <= magnitude <= 1:
            raise DatasetError(f"randaugment={magnitude}: the magnitude is between 0 and 1.")
        self.magnitude, self.num_ops = magnitude, num_ops

    def __call__(self, images: np.ndarray, labels: Any, rng: np.random.Generator) -> Batch:
        n, height, width = images.shape[:3]
        mag = self.magnitude
        chosen = rng.integers(0, len(self.OPS), (self.num_ops, n))
        sign = np.where(rng.random((self.num_ops, n)) < 0.5, -1.0, 1.0) * mag
        has = {op: (chosen == i) for i, op in enumerate(self.OPS)}
        amount = {op: (has[op] * sign).sum(axis=0) for op in self.OPS}  # two draws of one op add up
        used = {op: has[op].any(axis=0) for op in self.OPS}
        geometric = ("rotate", "shear_x", "shear_y", "translate_x", "translate_y")
        if any(used[op].any() for op in geometric):
            zero = np.zeros(n)
            m = affine.matrices(
                height, width, angle=amount["rotate"] * 30, shear=amount["shear_x"] * 17, zoom=np.ones(n),
                shift_y=amount["translate_y"] * 0.3 * height, shift_x=amount["translate_x"] * 0.3 * width,
                flip=zero.astype(bool), shear_y=amount["shear_y"] * 17,
            )  # fmt: skip
            moved = ~affine.is_identity(m)
            images[moved] = affine.warp(images[moved], m[moved], "bilinear", "constant", 128.0)
        x = images
        for op in ("brightness", "contrast", "color"):
            sel = used[op]
            if sel.any():
                f = (1 + 0.9 * amount[op][sel]).reshape(-1, 1, 1, 1)
                if op == "brightness":
                    base = np.zeros_like(x[sel])
                elif op == "contrast":
                    base = np.broadcast_to(_gray(x[sel]).mean(axis=(1, 2), keepdims=True), x[sel].shape)
                else:
                    base = np.broadcast_to(_gray(x[sel]), x[sel].shape)
                x[sel] = base + f * (x[sel] - base)
        sel = used["solarize"]
        if sel.any():
            threshold = (256 - np.abs(amount["solarize"][sel]) * 256).reshape(-1, 1, 1, 1)
            x[sel] = np.where(x[sel] >= threshold, 255 - x[sel], x[sel])
        sel = used["posterize"]
        if sel.any():
            step = 2.0 ** np.round(np.abs(amount["posterize"][sel]) * 4).reshape(-1, 1, 1, 1)
            x[sel] = np.floor(x[sel] / step) * step
        sel = used["autocontrast"]
        if sel.any():
            low, high = x[sel].min(axis=(1, 2), keepdims=True), x[sel].max(axis=(1, 2), keepdims=True)
            x[sel] = (x[sel] - low) * (255 / np.maximum(high - low, 1))
        return np.clip(x, 0, 255, out=x), labels


def _gray(x: np.ndarray) -> np.ndarray:
    return (x[..., :1] * 0.299 + x[..., 1:2] * 0.587 + x[..., 2:3] * 0.114) if x.shape[-1] == 3 else x
