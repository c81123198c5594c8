"""The iterators ``ImageDataGenerator`` returns (Keras 2's ``flow*``), with Keras 2's attributes and batches.

Each is a ``keras.utils.PyDataset`` (``len()``, indexing, ``model.fit`` on any backend) and also a Python
iterator that never ends, as Keras 2's were (``next(it)``, ``it.next()``, ``for x, y in it: ... break``). With a seed,
the first epoch's order is the one Keras 2 gives for that seed; augmentation draws depend only on
(seed, epoch, batch), so parallel workers cannot change them. Files that fail to decode are dropped
from their batch, warned about once and listed in ``skipped``.
"""

from __future__ import annotations

import dataclasses
import os
import threading
import uuid
from collections.abc import Sequence
from typing import Any

import keras
import numpy as np
from PIL import Image

from .._util.atomic import atomic_path
from .._util.checks import check_choice
from ..data.decode import Decoder, load_batch, prefetch_workers
from ..data.scan import scan_folder, validate
from ..data.skips import SkipLog
from ..errors import BatchIndexError, DatasetError, DatasetTypeError

#: What Keras 2 counted as an image, plus the formats transferkit also decodes.
WHITE_LIST_FORMATS = ("png", "jpg", "jpeg", "bmp", "ppm", "tif", "tiff", "gif", "webp", "jfif")


class Iterator(keras.utils.PyDataset):
    """Batches of indices over ``n`` samples, shuffled per epoch; subclasses turn them into arrays."""

    white_list_formats = WHITE_LIST_FORMATS

    def __init__(self, n: int, batch_size: int, shuffle: bool, seed: int | None, **kwargs: Any) -> None:
        kwargs.setdefault("workers", prefetch_workers())
        super().__init__(**kwargs)
        # batch_size=0 means nothing for samples, but an empty iterator accepts it, as Keras 2's did
        if not isinstance(batch_size, (int, np.integer)) or batch_size < (1 if n else 0):
            raise DatasetError(f"`batch_size` is a positive integer; received {batch_size!r}.")
        self.n, self.batch_size, self.shuffle, self.seed = n, int(batch_size), shuffle, seed
        self.batch_index = 0
        self.total_batches_seen = 0
        self.lock = threading.Lock()
        self.index_array: np.ndarray | None = None
        self.index_generator = self._flow_index()
        if not hasattr(self, "skips"):  # file iterators start theirs while scanning
            self.skips = SkipLog()
        self._bad: set[int] = set()
        self._epoch = 0

    @property
    def skipped(self) -> list[tuple[str, str]]:
        """``(path, reason)`` for every file skipped so far (at the scan, or when it failed to decode)."""
        return list(self.skips.entries)

    def _set_index_array(self) -> None:
        if not self.shuffle:
            self.index_array = np.arange(self.n)
        elif self.seed is None:
            self.index_array = np.random.permutation(self.n)
        else:  # Keras 2 seeds NumPy's global generator with seed + batches seen; this does not touch it
            self.index_array = np.random.RandomState((self.seed + self.total_batches_seen) % 2**32).permutation(self.n)

    def __len__(self) -> int:
        return (self.n + self.batch_size - 1) // self.batch_size if self.n else 0

    def __getitem__(self, idx: int) -> Any:
        length = len(self)
        if idx < 0:
            idx += length
        if not 0 <= idx < length:
            raise BatchIndexError(f"Batch {idx} asked of an iterator with {length} batches (0 to {length - 1}).")
        with self.lock:
            if self.index_array is None:
                self._set_index_array()
            self.total_batches_seen += 1
            indices = self.index_array[self.batch_size * idx : self.batch_size * (idx + 1)]  # type: ignore[index]
            rng = self._rng(self._epoch, idx)
        return self._get_batches_of_transformed_samples(indices, rng)

    def on_epoch_end(self) -> None:
        self._epoch += 1
        self._set_index_array()

    def reset(self) -> None:
        self.batch_index = 0

    def _flow_index(self) -> Any:
        self.reset()
        while True:
            if self.batch_index == 0:
                self._set_index_array()
            current = (self.batch_index * self.batch_size) % self.n if self.n else 0
            self.batch_index = self.batch_index + 1 if self.n > current + self.batch_size else 0
            self.total_batches_seen += 1
            yield self.index_array[current : current + self.batch_size]  # type: ignore[index]

    def __iter__(self) -> Iterator:
        return self

    def __next__(self) -> Any:
        with self.lock:
            indices = next(self.index_generator)
            rng = self._rng(1 << 31, self.total_batches_seen)
        return self._get_batches_of_transformed_samples(indices, rng)

    def next(self) -> Any:
        """The next batch: Keras 2's name for ``next(iterator)``."""
        return self.__next__()

    def _rng(self, *key: int) -> np.random.Generator:
        """Augmentation draws for one batch: fixed by (seed, key) when seeded, whatever thread asks."""
        return np.random.default_rng(None if self.seed is None else (self.seed % 2**32, *key))

    def _get_batches_of_transformed_samples(self, index_array: np.ndarray, rng: Any = None) -> Any:
        raise NotImplementedError

    def _augment(self, x: np.ndarray, rng: Any, warped: dict[str, Any] | None = None) -> np.ndarray:
        """A channels-last batch augmented, moved to the iterator's layout, then standardised. ``warped``: the
        parameters the images were already warped and flipped by (the per-pixel transforms are left)."""
        generator = self.image_data_generator
        if generator is not None:
            x = generator.augment_batch(x, rng) if warped is None else generator.augment_pixels(x, warped)
        if self.data_format == "channels_first":
            x = np.ascontiguousarray(np.moveaxis(x, 3, 1))
        if generator is not None:
            x = generator.standardize_batch(x)
        return x

    def _save(self, batch: np.ndarray, indices: np.ndarray) -> None:
        """Write the augmented images to ``save_to_dir`` (atomically), stretched to 0-255 as Keras 2 does."""
        save_to_dir = getattr(self, "save_to_dir", None)
        if not save_to_dir:
            return
        if self.data_format == "channels_first":
            batch = np.moveaxis(batch, 1, 3)
        for image, index in zip(batch, indices):
            span = float(image.max() - image.min()) or 1.0
            pixels = ((image - image.min()) / span * 255).astype(np.uint8)
            name = f"{self.save_prefix}_{index}_{uuid.uuid4().hex[:8]}.{self.save_format}"
            with atomic_path(os.path.join(save_to_dir, name)) as temp:
                Image.fromarray(pixels[..., 0] if pixels.shape[-1] == 1 else pixels).save(temp)


class BatchFromFiles(Iterator):
    """Loading, augmenting and labelling batches of image files."""

    class_mode: str | None
    classes: Any
    class_indices: dict[str, int]

    def _setup(
        self,
        generator: Any,
        *,
        target_size: Sequence[int],
        color_mode: str,
        subset: str | None,
        interpolation: str,
        keep_aspect_ratio: bool,
        dtype: str | None,
        save: tuple[Any, str, str],
        data_format: str | None,
    ) -> None:
        if color_mode == "rgba":
            raise DatasetError("color_mode='rgba' is not supported (transferkit models take RGB); use 'rgb'.")
        self.image_data_generator = generator
        self.target_size = tuple(int(s) for s in target_size)
        self.color_mode, self.interpolation, self.keep_aspect_ratio = color_mode, interpolation, keep_aspect_ratio
        self.decoder = Decoder(self.target_size, interpolation, color_mode, keep_aspect_ratio)  # type: ignore[arg-type]
        self.data_format = _data_format(generator, data_format)
        self.image_shape = self.decoder.shape if self.data_format == "channels_last" else self.decoder.shape[::-1]
        self.dtype = dtype or keras.backend.floatx()
        self.save_to_dir, self.save_prefix, self.save_format = save
        self.skips = SkipLog()
        check_choice("subset", subset, [None, "training", "validation"])
        split = generator._validation_split if generator is not None else 0.0
        if subset is not None and not split:
            raise DatasetError(f"subset={subset!r} needs ImageDataGenerator(validation_split=...) above 0.")
        self.subset = subset
        self.split = None if subset is None else ((0, split) if subset == "validation" else (split, 1))

    @property
    def filepaths(self) -> list[str]:
        return self._filepaths

    @property
    def labels(self) -> Any:
        return self.classes

    @property
    def sample_weight(self) -> Any:
        return None

    def _get_batches_of_transformed_samples(self, index_array: np.ndarray, rng: Any = None) -> Any:
        rng = rng if rng is not None else np.random.default_rng()
        generator, drawn = self.image_data_generator, {}
        decoder, warps = self.decoder, None
        if generator is not None and generator.warps_files:  # warped in the pass that resizes them

            def warps(n: int) -> np.ndarray:
                matrices, drawn["params"] = generator.draw_warps(n, *self.target_size, rng)
                return matrices

            order = "bilinear" if generator.interpolation_order == 1 else "nearest"
            decoder = dataclasses.replace(decoder, interpolation=order, fill_mode=generator.fill_mode,
                                          cval=float(generator.cval))  # fmt: skip
        images, index_array = load_batch(
            decoder, self._filepaths, index_array, bad=self._bad, skips=self.skips, rng=rng, warps=warps,
            dtype=np.float32,
        )  # fmt: skip
        warped = drawn.get("params")
        if warped is not None:  # the draws of files that failed to decode go to the next ones
            warped = {k: v[: len(images)] if isinstance(v, np.ndarray) else v for k, v in warped.items()}
        batch_x = self._augment(images, rng, warped).astype(self.dtype, copy=False)
        self._save(batch_x, index_array)
        mode = self.class_mode
        if mode == "input":
            batch_y: Any = batch_x.copy()
        elif mode in ("binary", "sparse"):
            batch_y = np.asarray([self.classes[i] for i in index_array], dtype=self.dtype)
        elif mode == "categorical":
            batch_y = np.zeros((len(batch_x), len(self.class_indices)), dtype=self.dtype)
            for row, i in enumerate(index_array):
                batch_y[row, self.classes[i]] = 1.0
        elif mode == "multi_output":
            batch_y = [output[index_array] for output in self.labels]
        elif mode == "raw":
            batch_y = self.labels[index_array]
        else:
            return batch_x
        weights = self.sample_weight
        return (batch_x, batch_y) if weights is None else (batch_x, batch_y, weights[index_array])


class DirectoryIterator(BatchFromFiles):
    """Images from ``directory/<class>/**``, labelled by class folder (Keras 2's ``flow_from_directory``)."""

    allowed_class_modes = {"categorical", "binary", "sparse", "input", None}

    def __init__(
        self,
        directory: str | os.PathLike[str],
        image_data_generator: Any,
        target_size: Sequence[int] = (256, 256),
        color_mode: str = "rgb",
        classes: Sequence[str] | None = None,
        class_mode: str | None = "categorical",
        batch_size: int = 32,
        shuffle: bool = True,
        seed: int | None = None,
        data_format: str | None = None,
        save_to_dir: str | None = None,
        save_prefix: str = "",
        save_format: str = "png",
        follow_links: bool = False,
        subset: str | None = None,
        interpolation: str = "nearest",
        keep_aspect_ratio: bool = False,
        dtype: str | None = None,
    ) -> None:
        check_choice("class_mode", class_mode, list(self.allowed_class_modes))
        self._setup(
            image_data_generator, target_size=target_size, color_mode=color_mode, subset=subset,
            interpolation=interpolation, keep_aspect_ratio=keep_aspect_ratio, dtype=dtype,
            save=(save_to_dir, save_prefix, save_format), data_format=data_format,
        )  # fmt: skip
        self.directory, self.class_mode = os.fspath(directory), class_mode
        extensions = tuple("." + ext for ext in self.white_list_formats)
        scan = scan_folder(self.directory, classes=classes, follow_links=follow_links, extensions=extensions)
        self.class_indices = {name: i for i, name in enumerate(scan.class_names)}
        self.num_classes = len(scan.class_names)
        by_class: list[list[str]] = [[] for _ in scan.class_names]
        for path, label in zip(scan.files, scan.labels):
            by_class[label].append(path)
        paths, labels = [], []
        for label, files in enumerate(by_class):
            if self.split:  # Keras 2 splits each class in file order: validation first
                files = files[int(self.split[0] * len(files)) : int(self.split[1] * len(files))]
            paths += files
            labels += [label] * len(files)
        self.filenames = [os.path.relpath(p, self.directory) for p in paths]
        self._filepaths = [os.path.join(self.directory, f) for f in self.filenames]
        self.classes = np.asarray(labels, dtype="int32")
        self.samples = len(paths)
        if not self.samples:
            raise DatasetError(
                f"No images found in '{self.directory}' (classes: {', '.join(scan.class_names) or 'none'}); "
                "it needs one subfolder of images per class."
            )
        skipped = f", skipped {len(scan.skips.entries)} file(s): see `.skipped`" if scan.skips.entries else ""
        print(f"Found {self.samples} images belonging to {self.num_classes} classes{skipped}.")
        self.skips = scan.skips
        super().__init__(self.samples, batch_size, shuffle, seed)


class DataFrameIterator(BatchFromFiles):
    """Images named in a DataFrame column, labels from another (Keras 2's ``flow_from_dataframe``)."""

    allowed_class_modes = {"binary", "categorical", "input", "multi_output", "raw", "sparse", None}

    def __init__(
        self,
        dataframe: Any,
        directory: str | os.PathLike[str] | None = None,
        image_data_generator: Any = None,
        x_col: str = "filename",
        y_col: Any = "class",
        weight_col: str | None = None,
        target_size: Sequence[int] = (256, 256),
        color_mode: str = "rgb",
        classes: Sequence[str] | None = None,
        class_mode: str | None = "categorical",
        batch_size: int = 32,
        shuffle: bool = True,
        seed: int | None = None,
        data_format: str | None = None,
        save_to_dir: str | None = None,
        save_prefix: str = "",
        save_format: str = "png",
        subset: str | None = None,
        interpolation: str = "nearest",
        keep_aspect_ratio: bool = False,
        dtype: str | None = "float32",
        validate_filenames: bool = True,
    ) -> None:
        check_choice("class_mode", class_mode, list(self.allowed_class_modes))
        self._setup(
            image_data_generator, target_size=target_size, color_mode=color_mode, subset=subset,
            interpolation=interpolation, keep_aspect_ratio=keep_aspect_ratio, dtype=dtype,
            save=(save_to_dir, save_prefix, save_format), data_format=data_format,
        )  # fmt: skip
        self.directory, self.class_mode = os.fspath(directory or ""), class_mode
        df = dataframe.copy()
        self._check_columns(df, x_col, y_col, weight_col)
        if validate_filenames:
            paths = [os.path.join(self.directory, f) for f in df[x_col]]
            extensions = tuple("." + ext for ext in self.white_list_formats)
            df = df[validate(paths, skips=self.skips, extensions=extensions)]
        labelled = class_mode not in ("input", "multi_output", "raw", None)
        if labelled:
            df, found = _filter_classes(df, y_col, classes)
            self.class_indices = {name: i for i, name in enumerate(found)}
            self.num_classes = len(found)
        if self.split:
            df = df.iloc[int(self.split[0] * len(df)) : int(self.split[1] * len(df))]
        if labelled:
            self.classes = [
                [self.class_indices[v] for v in y] if isinstance(y, (list, tuple)) else self.class_indices[y]
                for y in df[y_col]
            ]
        self.filenames = df[x_col].tolist()
        self._sample_weight = df[weight_col].values if weight_col else None
        if class_mode == "multi_output":
            self._targets: Any = [np.array(df[col].tolist()) for col in y_col]
        if class_mode == "raw":
            self._targets = df[y_col].values
        self.samples = len(self.filenames)
        belonging = f" belonging to {self.num_classes} classes" if labelled else ""
        print(f"Found {self.samples} {'' if validate_filenames else 'non-'}validated image filenames{belonging}.")
        self._filepaths = [os.path.join(self.directory, f) for f in self.filenames]
        super().__init__(self.samples, batch_size, shuffle, seed)

    def _check_columns(self, df: Any, x_col: str, y_col: Any, weight_col: str | None) -> None:
        mode = self.class_mode
        if mode == "multi_output" and not isinstance(y_col, list):
            raise DatasetTypeError(f"class_mode='multi_output' needs y_col as a list of columns; received {y_col!r}.")
        columns = list(y_col) if isinstance(y_col, (list, tuple)) else [y_col]
        if mode not in ("multi_output", "raw") and len(columns) > 1:
            raise DatasetTypeError(f"class_mode={mode!r} takes one y_col; received {y_col!r} (use 'raw').")
        wanted = [x_col] + ([] if mode in ("input", None) else columns)
        missing = [c for c in wanted + ([weight_col] if weight_col else []) if c not in df.columns]
        if missing:
            raise DatasetError(
                f"Column(s) {', '.join(map(repr, missing))} not in the DataFrame (it has "
                f"{', '.join(map(str, df.columns))}); set x_col / y_col / weight_col."
            )
        if not all(isinstance(v, str) for v in df[x_col]):
            raise DatasetError(f"Every value in x_col={x_col!r} must be a file name (str).")
        if mode in ("binary", "sparse") and not all(isinstance(v, str) for v in df[y_col]):
            raise DatasetError(f"class_mode={mode!r} needs str labels in y_col={y_col!r}; map them with .astype(str).")
        if mode == "categorical" and not all(isinstance(v, (str, list, tuple)) for v in df[y_col]):
            raise DatasetError(f"class_mode='categorical' needs str (or list) labels in y_col={y_col!r}.")
        if mode == "binary" and df[y_col].nunique() != 2:
            raise DatasetError(
                f"class_mode='binary' needs exactly 2 classes; y_col={y_col!r} has {df[y_col].nunique()}."
            )
        if weight_col and not np.issubdtype(df[weight_col].dtype, np.number):
            raise DatasetTypeError(
                f"weight_col={weight_col!r} must be numeric; received dtype {df[weight_col].dtype}. "
                "Convert it with .astype(float)."
            )

    @property
    def labels(self) -> Any:
        return self._targets if self.class_mode in ("multi_output", "raw") else self.classes

    @property
    def sample_weight(self) -> Any:
        return self._sample_weight


def _data_format(generator: Any, data_format: str | None) -> str:
    """The iterator's layout: its generator's (Keras 2 passed it on), which ``data_format`` may only repeat."""
    wanted = generator.data_format if generator is not None else data_format or keras.backend.image_data_format()
    if data_format not in (None, wanted):
        raise DatasetError(f"data_format={data_format!r} differs from the generator's {wanted!r}; leave it out.")
    check_choice("data_format", wanted, ["channels_last", "channels_first"])
    return wanted


def _filter_classes(df: Any, y_col: str, classes: Sequence[str] | None) -> tuple[Any, list[str]]:
    """Keep rows whose label is among ``classes`` (all labels, sorted, by default), as Keras 2 does."""
    if not classes:
        found: set[str] = set()
        for v in df[y_col]:
            found.update(v if isinstance(v, (list, tuple)) else [v])
        return df, sorted(found)
    wanted = list(dict.fromkeys(classes))

    def keep(labels: Any) -> Any:
        if isinstance(labels, (list, tuple)):
            return [c for c in labels if c in wanted] or None
        return labels if labels in wanted else None

    df = df.copy()
    df[y_col] = df[y_col].apply(keep)
    return df.dropna(subset=[y_col]), wanted


class NumpyArrayIterator(Iterator):
    """Batches from arrays in memory (Keras 2's ``flow``)."""

    def __init__(
        self,
        x: Any,
        y: Any,
        image_data_generator: Any,
        batch_size: int = 32,
        shuffle: bool = False,
        sample_weight: Any = None,
        seed: int | None = None,
        data_format: str | None = None,
        save_to_dir: str | None = None,
        save_prefix: str = "",
        save_format: str = "png",
        subset: str | None = None,
        ignore_class_split: bool = False,
        dtype: str | None = None,
    ) -> None:
        self.dtype = dtype or keras.backend.floatx()
        misc: list[np.ndarray] = []
        if isinstance(x, (tuple, list)):
            misc = [np.asarray(v) for v in (x[1] if isinstance(x[1], list) else [x[1]])]
            x = x[0]
        for m in misc:
            if len(m) != len(x):
                raise DatasetError(
                    f"All of the arrays in `x` should have the same length; received {len(x)} images and "
                    f"{len(m)} entries in an array of x[1]."
                )
        for name, other in [("`y` (labels)", y), ("`sample_weight`", sample_weight)]:
            if other is not None and len(other) != len(x):
                raise DatasetError(
                    f"`x` (images tensor) and {name} should have the same length; received {len(x)} images and "
                    f"{len(other)} entries."
                )
        check_choice("subset", subset, [None, "training", "validation"])
        if subset is not None:
            cut = int(len(x) * image_data_generator._validation_split)
            if y is not None and not ignore_class_split and not np.array_equal(np.unique(y[:cut]), np.unique(y[cut:])):
                raise DatasetError(
                    "Training and validation subsets have different number of classes after the split "
                    f"(validation: {np.unique(y[:cut]).tolist()}, training: {np.unique(y[cut:]).tolist()}); shuffle "
                    "the arrays first (they look sorted by label) or pass ignore_class_split=True."
                )
            part = slice(None, cut) if subset == "validation" else slice(cut, None)
            x, misc = x[part], [m[part] for m in misc]
            y = None if y is None else y[part]
            sample_weight = None if sample_weight is None else sample_weight[part]
        self.x = np.asarray(x, dtype=self.dtype)
        if self.x.ndim != 4:
            raise DatasetError(f"`flow` takes images as a 4-D array (N, H, W, C); received shape {self.x.shape}.")
        self.x_misc = misc
        self.y = None if y is None else np.asarray(y)
        self.sample_weight = None if sample_weight is None else np.asarray(sample_weight)
        self.image_data_generator = image_data_generator
        self.data_format = _data_format(image_data_generator, data_format)
        self.save_to_dir, self.save_prefix, self.save_format = save_to_dir, save_prefix, save_format
        super().__init__(len(self.x), batch_size, shuffle, seed)

    def _get_batches_of_transformed_samples(self, index_array: np.ndarray, rng: Any = None) -> Any:
        rng = rng if rng is not None else np.random.default_rng()
        work = np.float64 if np.dtype(self.dtype) == np.float64 else np.float32  # float64 asked: whiten in it
        batch = self.x[index_array].astype(work)
        if self.data_format == "channels_first":
            batch = np.moveaxis(batch, 1, 3)
        batch_x = self._augment(batch, rng).astype(self.dtype, copy=False)
        self._save(batch_x, index_array)
        inputs = batch_x if not self.x_misc else [batch_x] + [m[index_array] for m in self.x_misc]
        if self.y is None:
            return inputs
        if self.sample_weight is None:
            return inputs, self.y[index_array]
        return inputs, self.y[index_array], self.sample_weight[index_array]
