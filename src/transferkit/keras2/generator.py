"""``ImageDataGenerator``: Keras 2's augmenting image generator, back on Keras 3 (any backend) and faster.

Keras 3 removed ``keras.preprocessing.image.ImageDataGenerator``, so a great deal of Keras 2 code stopped
running. This is a drop-in: the same arguments and methods (``flow_from_directory``,
``flow_from_dataframe``, ``flow``, ``fit``, ``standardize``, ``random_transform`` ...) and iterators
(:mod:`transferkit.keras2.iterators`) with the same attributes, batch
shapes, dtypes, class order and label encoding as ``keras.src.legacy.preprocessing.image``. The
transforms keep Keras 2's meaning (angles in degrees, zoom drawn from ``[1 - z, 1 + z]``, shifts as
fractions or pixels, the same affine matrices, fill modes as SciPy's); ``get_random_transform(seed=)``
draws Keras 2's values and a seeded shuffle gives Keras 2's first-epoch order.

What differs, on purpose:

- Speed: files are decoded in parallel threads, JPEGs at reduced size (libjpeg DCT scaling), and warped in
  the same pass that resizes them (OpenCV, bilinear from the decoded photo, where Keras 2 resized by nearest
  and then warped: a few levels of 255 apart on average); arrays (``flow``) are warped as one batch (torch's
  ``grid_sample``, to within 0.05 of a level of Keras 2's SciPy transform), not one SciPy call per image
  and channel. SciPy's ``wrap`` fill, which OpenCV has not, warps files that way too.
- A broken file is skipped with one warning (see the iterator's ``skipped``), never a crash mid-epoch.
- EXIF orientation is applied and transparency composited on white (:mod:`transferkit.images`); with a
  reduced-size decode, pixel values after resizing differ slightly from Keras 2's. GIF, WebP and JFIF
  files count as images too.
- Seeded augmentation depends on (seed, epoch, batch) only, so it is reproducible with parallel workers,
  but it is not Keras 2's random stream. ``flow(subset=...)`` splits ``sample_weight`` with the images
  (Keras 2 did not, so its weights no longer matched their images).
- ``zca_whitening`` only up to :data:`ZCA_MAX_VALUES` values an image (its matrix is that number squared:
  180 GB at 224x224 RGB); ``fit`` refuses larger images by name. Refused outright: ``color_mode="rgba"``,
  ``interpolation_order`` above 1.
- ``data_format="channels_first"`` batches are channels-last arrays moved once, after augmentation.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Callable
from typing import Any

import keras
import numpy as np

from ..data import affine
from ..errors import DatasetError
from . import transforms
from .iterators import DataFrameIterator, DirectoryIterator, NumpyArrayIterator

#: The most values an image may hold for ``zca_whitening`` (64x64 RGB): its matrix is this squared (600 MB).
ZCA_MAX_VALUES = 64 * 64 * 3


def _refuse(argument: str, value: Any, why: str) -> DatasetError:
    return DatasetError(f"ImageDataGenerator does not support {argument}={value!r}: {why}.")


def _range(name: str, value: Any) -> list[float]:
    if isinstance(value, (int, float)):
        return [1 - value, 1 + value]
    if isinstance(value, (list, tuple)) and len(value) == 2 and all(isinstance(v, (int, float)) for v in value):
        return [float(value[0]), float(value[1])]
    raise DatasetError(f"`{name}` is a float or a pair of floats; received {value!r}.")


class ImageDataGenerator:
    """Keras 2's ``ImageDataGenerator`` arguments and methods; see the module doc for what differs."""

    def __init__(
        self,
        featurewise_center: bool = False,
        samplewise_center: bool = False,
        featurewise_std_normalization: bool = False,
        samplewise_std_normalization: bool = False,
        zca_whitening: bool = False,
        zca_epsilon: float = 1e-6,
        rotation_range: float = 0,
        width_shift_range: Any = 0.0,
        height_shift_range: Any = 0.0,
        brightness_range: Any = None,
        shear_range: float = 0.0,
        zoom_range: Any = 0.0,
        channel_shift_range: float = 0.0,
        fill_mode: str = "nearest",
        cval: float = 0.0,
        horizontal_flip: bool = False,
        vertical_flip: bool = False,
        rescale: float | None = None,
        preprocessing_function: Callable[[np.ndarray], np.ndarray] | None = None,
        data_format: str | None = None,
        validation_split: float = 0.0,
        interpolation_order: int = 1,
        dtype: str | None = None,
    ) -> None:
        data_format = data_format or keras.backend.image_data_format()
        if data_format not in ("channels_last", "channels_first"):
            raise DatasetError(f"Unknown data_format={data_format!r}; use 'channels_last' or 'channels_first'.")
        if interpolation_order not in (0, 1):
            raise _refuse("interpolation_order", interpolation_order, "use 0 (nearest) or 1 (bilinear)")
        if fill_mode not in affine.FILL_MODES:
            raise DatasetError(f"Unknown fill_mode={fill_mode!r}; use one of {', '.join(affine.FILL_MODES)}.")
        if validation_split and not 0 < validation_split < 1:
            raise DatasetError(f"`validation_split` must be strictly between 0 and 1; received {validation_split}.")
        if brightness_range is not None and (
            not isinstance(brightness_range, (tuple, list)) or len(brightness_range) != 2
        ):
            raise DatasetError(f"`brightness_range` is a pair of floats; received {brightness_range!r}.")
        if zca_whitening and featurewise_std_normalization:
            warnings.warn("`zca_whitening` replaces `featurewise_std_normalization` (as in Keras 2).", stacklevel=2)
            featurewise_std_normalization = False
        self.featurewise_center = featurewise_center or featurewise_std_normalization or zca_whitening
        self.samplewise_center = samplewise_center or samplewise_std_normalization
        self.featurewise_std_normalization = featurewise_std_normalization
        self.samplewise_std_normalization = samplewise_std_normalization
        self.zca_whitening, self.zca_epsilon = zca_whitening, zca_epsilon
        self.zca_whitening_matrix: np.ndarray | None = None
        self.rotation_range = rotation_range
        self.width_shift_range = width_shift_range
        self.height_shift_range = height_shift_range
        self.brightness_range = brightness_range
        self.shear_range = shear_range
        self.zoom_range = _range("zoom_range", zoom_range)
        self.channel_shift_range = channel_shift_range
        self.fill_mode = fill_mode
        self.cval = cval
        self.horizontal_flip = horizontal_flip
        self.vertical_flip = vertical_flip
        self.rescale = rescale
        self.preprocessing_function = preprocessing_function
        self.data_format = data_format
        self.channel_axis, self.row_axis, self.col_axis = (3, 1, 2) if data_format == "channels_last" else (1, 2, 3)
        self._validation_split = validation_split
        self.interpolation_order = interpolation_order
        self.dtype = dtype or keras.backend.floatx()
        self.mean: np.ndarray | None = None
        self.std: np.ndarray | None = None

    # -- the three ways to make an iterator ---------------------------------------------------------
    def flow(
        self,
        x: Any,
        y: Any = None,
        batch_size: int = 32,
        shuffle: bool = True,
        sample_weight: Any = None,
        seed: int | None = None,
        save_to_dir: str | None = None,
        save_prefix: str = "",
        save_format: str = "png",
        ignore_class_split: bool = False,
        subset: str | None = None,
    ) -> NumpyArrayIterator:
        """Batches from arrays in memory, as Keras 2's ``flow``."""
        return NumpyArrayIterator(
            x, y, self, batch_size=batch_size, shuffle=shuffle, sample_weight=sample_weight, seed=seed,
            save_to_dir=save_to_dir, save_prefix=save_prefix, save_format=save_format, subset=subset,
            ignore_class_split=ignore_class_split, dtype=self.dtype,
        )  # fmt: skip

    def flow_from_directory(
        self,
        directory: str | os.PathLike[str],
        target_size: tuple[int, int] = (256, 256),
        color_mode: str = "rgb",
        classes: list[str] | None = None,
        class_mode: str | None = "categorical",
        batch_size: int = 32,
        shuffle: bool = True,
        seed: int | None = None,
        save_to_dir: str | None = None,
        save_prefix: str = "",
        save_format: str = "png",
        follow_links: bool = False,
        subset: str | None = None,
        interpolation: str = "nearest",
        keep_aspect_ratio: bool = False,
    ) -> DirectoryIterator:
        """Batches from ``directory/<class>/**``, labelled by class folder, as Keras 2's ``flow_from_directory``."""
        return DirectoryIterator(
            directory, self, target_size=target_size, color_mode=color_mode, classes=classes, class_mode=class_mode,
            batch_size=batch_size, shuffle=shuffle, seed=seed, save_to_dir=save_to_dir, save_prefix=save_prefix,
            save_format=save_format, follow_links=follow_links, subset=subset, interpolation=interpolation,
            keep_aspect_ratio=keep_aspect_ratio, dtype=self.dtype,
        )  # fmt: skip

    def flow_from_dataframe(
        self,
        dataframe: Any,
        directory: str | os.PathLike[str] | None = None,
        x_col: str = "filename",
        y_col: Any = "class",
        weight_col: str | None = None,
        target_size: tuple[int, int] = (256, 256),
        color_mode: str = "rgb",
        classes: list[str] | None = None,
        class_mode: str | None = "categorical",
        batch_size: int = 32,
        shuffle: bool = True,
        seed: int | None = None,
        save_to_dir: str | None = None,
        save_prefix: str = "",
        save_format: str = "png",
        subset: str | None = None,
        interpolation: str = "nearest",
        validate_filenames: bool = True,
        **deprecated: Any,
    ) -> DataFrameIterator:
        """Batches from a DataFrame of file names (``x_col``) and labels (``y_col``), as Keras 2's."""
        for old in deprecated:
            if old not in ("has_ext", "sort", "drop_duplicates"):
                raise TypeError(f"flow_from_dataframe() got an unexpected keyword argument '{old}'")
            warnings.warn(f"`{old}` is deprecated and ignored (as in Keras 2).", DeprecationWarning, stacklevel=2)
        if class_mode == "other":
            class_mode = "raw"
        return DataFrameIterator(
            dataframe, directory, self, x_col=x_col, y_col=y_col, weight_col=weight_col, target_size=target_size,
            color_mode=color_mode, classes=classes, class_mode=class_mode, batch_size=batch_size, shuffle=shuffle,
            seed=seed, save_to_dir=save_to_dir, save_prefix=save_prefix, save_format=save_format, subset=subset,
            interpolation=interpolation, dtype=self.dtype, validate_filenames=validate_filenames,
        )  # fmt: skip

    # -- Keras 2's per-image API ----------------------------------------------------------------------
    def get_random_transform(self, img_shape: tuple[int, ...], seed: int | None = None) -> dict[str, Any]:
        """Random parameters for one image, drawn as Keras 2 draws them (the same values for the same seed)."""
        rs: Any = np.random.RandomState(seed) if seed is not None else np.random
        height, width = img_shape[self.row_axis - 1], img_shape[self.col_axis - 1]
        return {k: None if v is None else v[0] for k, v in self._draw(1, height, width, rs).items()}

    def apply_transform(self, x: np.ndarray, transform_parameters: dict[str, Any]) -> np.ndarray:
        """Apply Keras 2's transform parameters (``theta``, ``tx``, ``zx``, ``flip_horizontal`` ...) to one image."""
        defaults = dict(theta=0, tx=0, ty=0, shear=0, zx=1, zy=1, flip_horizontal=False, flip_vertical=False)
        params = {k: np.asarray([transform_parameters.get(k, v)]) for k, v in defaults.items()}
        for key in ("channel_shift_intensity", "brightness"):
            value = transform_parameters.get(key)
            params[key] = None if value is None else np.asarray([value], np.float64)  # type: ignore[assignment]
        batch = self.to_channels_last(np.array(x, np.float32)[None])
        return self.from_channels_last(self._apply(batch, params))[0].astype(x.dtype, copy=False)

    def random_transform(self, x: np.ndarray, seed: int | None = None) -> np.ndarray:
        """One image, randomly transformed."""
        return self.apply_transform(x, self.get_random_transform(x.shape, seed))

    def standardize(self, x: np.ndarray) -> np.ndarray:
        """Keras 2's normalisation, in place where it can be: preprocessing function, rescale, centring, scaling."""
        if self.preprocessing_function:
            x = self.preprocessing_function(x)
        return self._normalise(x, None)

    def fit(self, x: Any, augment: bool = False, rounds: int = 1, seed: int | None = None) -> None:
        """Compute the featurewise mean, std and ZCA matrix from sample images, as Keras 2 does.

        Raises :class:`DatasetError` for an array that is not a batch of images, or images too large to whiten.
        """
        x = np.array(x, dtype=self.dtype)
        if x.ndim != 4:
            raise DatasetError(f"`fit` takes a batch of images (N, H, W, C); received an array of shape {x.shape}.")
        if x.shape[self.channel_axis] not in (1, 3, 4):
            warnings.warn(
                f"`fit` expects 1, 3 or 4 channels on axis {self.channel_axis} ({self.data_format}); received an "
                f"array of shape {x.shape}. Pass data_format= to match your images.",
                stacklevel=2,
            )
        values = math.prod(x.shape[1:])
        if self.zca_whitening and values > ZCA_MAX_VALUES:
            raise DatasetError(
                f"zca_whitening needs a matrix of (values per image)² = {values}² "
                f"({values**2 * x.itemsize / 1e9:.1f} GB) for images of shape {x.shape[1:]}; transferkit whitens "
                f"images of up to {ZCA_MAX_VALUES} values (64x64 RGB). Resize the images smaller, or use "
                "featurewise_std_normalization instead."
            )
        if self.rescale:
            x *= self.rescale
        if augment:
            rng = np.random.default_rng(seed)
            last = self.to_channels_last(x)
            x = np.concatenate([self.augment_batch(last.copy(), rng) for _ in range(rounds)]).astype(self.dtype)
            x = self.from_channels_last(x)
        shape = [1, 1, 1]
        shape[self.channel_axis - 1] = x.shape[self.channel_axis]
        axes = (0, self.row_axis, self.col_axis)
        if self.featurewise_center:
            self.mean = np.mean(x, axis=axes).reshape(shape)
            x -= self.mean
        if self.featurewise_std_normalization:
            self.std = np.std(x, axis=axes).reshape(shape)
            x /= self.std + 1e-6
        if self.zca_whitening:
            u, s, _ = np.linalg.svd(x.reshape(len(x), -1).T, full_matrices=False)
            self.zca_whitening_matrix = (u * (np.sqrt(len(x)) / (s + self.zca_epsilon))) @ u.T

    def to_channels_last(self, x: np.ndarray) -> np.ndarray:
        """A batch in this generator's layout, as the channels-last batch the transforms work on (a view)."""
        return np.moveaxis(x, 1, 3) if self.data_format == "channels_first" else x

    def from_channels_last(self, x: np.ndarray) -> np.ndarray:
        """A channels-last batch in this generator's layout (a view)."""
        return np.moveaxis(x, 3, 1) if self.data_format == "channels_first" else x

    # -- the batched path the iterators use ------------------------------------------------------------
    @property
    def augments(self) -> bool:
        """Whether any random transform is configured."""
        return self.warps or bool(
            self.horizontal_flip or self.vertical_flip or self.channel_shift_range or self.brightness_range is not None
        )

    @property
    def warps(self) -> bool:
        """Whether a random affine warp (rotation, shift, shear, zoom) is configured."""
        return bool(
            self.rotation_range
            or self.width_shift_range
            or self.height_shift_range
            or self.shear_range
            or self.zoom_range != [1, 1]
        )

    @property
    def warps_files(self) -> bool:
        """Whether image files are best warped as they are decoded (:meth:`draw_warps`): there is a warp, and
        OpenCV's ``uint8`` warp has its fill (SciPy's ``wrap`` it has not; ``cval`` must be a ``uint8`` value)."""
        constant_ok = self.fill_mode != "constant" or (float(self.cval).is_integer() and 0 <= self.cval <= 255)
        return self.warps and self.fill_mode in affine.IMAGE_FILL_MODES and constant_ok

    def augment_batch(self, x: np.ndarray, rng: Any) -> np.ndarray:
        """Randomly transform a float channels-last batch ``(N, H, W, C)``: each image its own parameters, one warp
        for all."""
        if not self.augments or len(x) == 0:
            return x
        return self._apply(x, self._draw(len(x), x.shape[1], x.shape[2], rng))

    def draw_warps(self, n: int, height: int, width: int, rng: Any) -> tuple[np.ndarray, dict[str, Any]]:
        """Parameters for ``n`` images and the ``(n, 2, 3)`` matrices that warp and flip each, for a decoder
        to apply while it resizes (:meth:`augment_pixels` does the rest)."""
        p = self._draw(n, height, width, rng)
        matrices = self._matrices(p, height, width)
        return transforms.fold_flips(matrices, p["flip_horizontal"], p["flip_vertical"], height, width), p

    def augment_pixels(self, x: np.ndarray, p: dict[str, Any]) -> np.ndarray:
        """The per-pixel transforms of parameters ``p`` (channel shift, brightness), for images already warped."""
        if p["channel_shift_intensity"] is not None:
            low, high = x.min(axis=(1, 2, 3), keepdims=True), x.max(axis=(1, 2, 3), keepdims=True)
            x = np.clip(x + p["channel_shift_intensity"].reshape(-1, 1, 1, 1).astype(x.dtype), low, high)
        if p["brightness"] is not None:
            x = transforms.brightness(x, p["brightness"])
        return x

    def standardize_batch(self, x: np.ndarray) -> np.ndarray:
        """:meth:`standardize` for a batch in this generator's layout: the preprocessing function still sees one
        image at a time."""
        if self.preprocessing_function:
            x = np.stack([self.preprocessing_function(image) for image in x]).astype(x.dtype, copy=False)
        return self._normalise(x, (1, 2, 3))

    def _normalise(self, x: np.ndarray, sample_axes: tuple[int, ...] | None) -> np.ndarray:
        if self.rescale:
            x *= self.rescale
        if self.samplewise_center:
            x -= np.mean(x, axis=sample_axes, keepdims=True)
        if self.samplewise_std_normalization:
            x /= np.std(x, axis=sample_axes, keepdims=True) + 1e-6
        for wanted, stat, name in (
            (self.featurewise_center, self.mean, "featurewise_center"),
            (self.featurewise_std_normalization, self.std, "featurewise_std_normalization"),
            (self.zca_whitening, self.zca_whitening_matrix, "zca_whitening"),
        ):
            if wanted and stat is None:
                warnings.warn(
                    f"This ImageDataGenerator specifies `{name}` but has not been fit on any training data; "
                    "call `.fit(numpy_data)` first.",
                    stacklevel=3,
                )
        if self.featurewise_center and self.mean is not None:
            x -= self.mean
        if self.featurewise_std_normalization and self.std is not None:
            x /= self.std + 1e-6
        if self.zca_whitening and self.zca_whitening_matrix is not None:
            flat = x.reshape(-1, math.prod(x.shape[-3:]))
            x = (flat @ self.zca_whitening_matrix).reshape(x.shape).astype(x.dtype, copy=False)
        return x

    def _draw(self, n: int, height: int, width: int, rs: Any) -> dict[str, Any]:
        """Parameters for ``n`` images, from Keras 2's distributions (for one image, in its order of draws)."""
        p: dict[str, Any] = {}
        p["theta"] = rs.uniform(-self.rotation_range, self.rotation_range, n) if self.rotation_range else np.zeros(n)
        p["tx"] = transforms.shift_draw(self.height_shift_range, height, n, rs)
        p["ty"] = transforms.shift_draw(self.width_shift_range, width, n, rs)
        p["shear"] = rs.uniform(-self.shear_range, self.shear_range, n) if self.shear_range else np.zeros(n)
        if self.zoom_range[0] == 1 and self.zoom_range[1] == 1:
            p["zx"], p["zy"] = np.ones(n), np.ones(n)
        else:
            zoom = rs.uniform(self.zoom_range[0], self.zoom_range[1], (n, 2))
            p["zx"], p["zy"] = zoom[:, 0], zoom[:, 1]
        p["flip_horizontal"] = (rs.random(n) < 0.5) & bool(self.horizontal_flip)
        p["flip_vertical"] = (rs.random(n) < 0.5) & bool(self.vertical_flip)
        shift = self.channel_shift_range
        p["channel_shift_intensity"] = rs.uniform(-shift, shift, n) if shift else None
        bright = self.brightness_range
        p["brightness"] = rs.uniform(bright[0], bright[1], n) if bright is not None else None
        return p

    def _matrices(self, p: dict[str, Any], height: int, width: int) -> np.ndarray:
        keys = ("theta", "tx", "ty", "shear", "zx", "zy")
        return transforms.legacy_matrices(**{k: p[k] for k in keys}, height=height, width=width)

    def _apply(self, x: np.ndarray, p: dict[str, Any]) -> np.ndarray:
        """Keras 2's order: affine warp, channel shift, flips, brightness (the flips of warped images done by
        the warp itself; the channel shift is per pixel with per-image extremes, so it does not mind a flip)."""
        height, width = x.shape[1:3]
        matrices = self._matrices(p, height, width)
        moved = ~affine.is_identity(matrices)
        flip_h, flip_v = np.asarray(p["flip_horizontal"], bool), np.asarray(p["flip_vertical"], bool)
        matrices = transforms.fold_flips(matrices, flip_h & moved, flip_v & moved, height, width)
        flip_h, flip_v = flip_h & ~moved, flip_v & ~moved  # the images left to flip: those not warped
        mode = "bilinear" if self.interpolation_order == 1 else "nearest"
        if moved.all():
            x = affine.warp(x, matrices, mode, self.fill_mode, self.cval)  # float32, no copy back into x
        elif moved.any():
            x[moved] = affine.warp(x[moved], matrices[moved], mode, self.fill_mode, self.cval)
        if flip_h.any():
            x[flip_h] = x[flip_h, :, ::-1]
        if flip_v.any():
            x[flip_v] = x[flip_v, ::-1]
        return self.augment_pixels(x, p)
