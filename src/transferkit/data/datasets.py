"""Training data from a folder of class subfolders or a table of (path, label), as Keras datasets that survive
messy photo folders.

:func:`image_folder` and :func:`image_table` return :class:`ImageDataset`, a ``keras.utils.PyDataset``
(``model.fit`` / ``evaluate`` / ``predict`` on the torch and JAX backends) of float32 0-255 RGB batches --
what every transferkit model takes -- with one-hot labels by default. Files are decoded in parallel
threads at reduced size; the geometric augmentations are done there too, in the same pass as
the resize, and the rest of augmentation (:mod:`transferkit.augment`) runs on whole batches.

The validation split is stratified (each class split in the same proportion) and seeded by hashing
each file's path relative to the folder, so the same seed picks the same files on every machine, and
adding images does not reshuffle the others; ``group_duplicates=True`` keeps near-duplicates together.
Broken and stray files are skipped with a warning (:mod:`transferkit.data.scan`) and listed in
``dataset.skipped``. An empty folder, a single class, a class without images, or a split that leaves a
class without validation (or training) images raises one :class:`DatasetError` before any training starts.

Not here: decoding (:mod:`transferkit.data.images`), Keras 2's generator (:mod:`transferkit.keras2`).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any, Union

import keras
import numpy as np

from .._compat.backend import import_keras
from .._util.checks import check_choice
from ..errors import DatasetError
from . import augment as augment_mod, scan, tables
from .decode import Decoder, load_batch, prefetch_workers
from .groups import near_duplicate_groups
from .skips import SkipLog
from .splits import epoch_order, iterative_split, sharded_batches, stratified_split

import_keras()  # the backend check and the Keras backports, before any Keras class is used

LABEL_MODES = ("categorical", "int", "sparse", "binary", "multi_hot", None)
Split = Union["ImageDataset", tuple["ImageDataset", "ImageDataset"]]
_SAME: Any = object()


class ImageDataset(keras.utils.PyDataset):
    """Batches ``(images, labels)`` of float32 0-255 RGB images (or ``images`` alone with ``label_mode=None``).

    ``files``, ``labels`` (class indices), ``class_names``, ``image_size`` and ``skipped`` (``(path, reason)``
    for every file left out, at the scan or when it failed to decode) describe it; ``groups``, where the
    split grouped near-duplicates, is a group id per file (:mod:`transferkit.data.groups`). ``dataset[i]`` is batch
    ``i``, augmented if the dataset augments; :meth:`batch` gives either kind, and
    :meth:`without_augmentation` the same files in file order, unaugmented, for prediction and feature caches.
    """

    def __init__(
        self,
        files: Sequence[str],
        labels: Sequence[int] | np.ndarray,
        class_names: Sequence[str],
        image_size: int | tuple[int, int],
        batch_size: int = 32,
        label_mode: str | None = "categorical",
        shuffle: bool = False,
        seed: int | None = None,
        augment: Any = None,
        preprocessing: Any = None,
        interpolation: str = "bilinear",
        max_pixels: int | None = None,
        skips: SkipLog | None = None,
        workers: int | None = None,
        groups: Sequence[int] | np.ndarray | None = None,
    ) -> None:
        super().__init__(workers=workers or prefetch_workers(), use_multiprocessing=False, max_queue_size=4)
        check_choice("label_mode", label_mode, LABEL_MODES)
        if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise DatasetError(f"`batch_size` is a positive integer; received {batch_size!r}.")
        self.files = list(files)
        self.labels = np.asarray(labels, dtype=np.int32)
        self.groups = None if groups is None else np.asarray(groups, dtype=np.int64)
        self.class_names = list(class_names)
        self.image_size = _size(image_size)
        self.batch_size = int(batch_size)
        self.label_mode = "int" if label_mode == "sparse" else label_mode
        self.shuffle = shuffle
        self.seed = int(seed) if seed is not None else int(np.random.SeedSequence().entropy % 2**32)  # type: ignore[operator]
        self.augment = augment_mod.build(augment, seed)
        mixable = ("categorical", "binary", "multi_hot")
        if self.augment is not None and self.augment.mixes_labels and self.label_mode not in mixable:
            raise DatasetError(f"mixup and cutmix mix labels: use label_mode='categorical', not {label_mode!r}.")
        if self.label_mode == "binary" and len(self.class_names) != 2:
            raise DatasetError(f"label_mode='binary' needs exactly 2 classes; found {len(self.class_names)}.")
        self.preprocessing = preprocessing
        self._options = dict(interpolation=interpolation, max_pixels=max_pixels, workers=workers)
        self._decoder = Decoder(self.image_size, interpolation, max_pixels=max_pixels)
        self._skips = skips if skips is not None else SkipLog()
        self._bad: set[int] = set()
        self.epoch = 0
        self.shard = (0, 1)  # (rank, processes): this process's part of every epoch (:meth:`sharded`)

    @property
    def skipped(self) -> list[tuple[str, str]]:
        return list(self._skips.entries)

    def note_skipped(self, entries: Sequence[tuple[str, str]]) -> None:
        """Record skips found elsewhere (by another process of a distributed run), without warning again."""
        for path, reason in entries:
            self._skips.add(path, reason, quiet=True)

    @property
    def usable_files(self) -> list[str]:
        """``files`` less those found broken so far: after a pass, the rows of ``model.predict`` on
        :meth:`without_augmentation` line up with these (and :attr:`usable_labels`), not with ``files``."""
        return [f for f in self.files if f not in self._skips]

    @property
    def usable_labels(self) -> np.ndarray:
        """``labels`` of :attr:`usable_files`."""
        return self.labels[[f not in self._skips for f in self.files]]

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def multi_label(self) -> bool:
        """Whether each image has a row of 0/1 labels (``image_table(..., multi_label=True)``)."""
        return self.labels.ndim == 2

    @property
    def class_counts(self) -> np.ndarray:
        """Images per class (per label, for multi-label data), in class index order."""
        if self.multi_label:
            return self.labels.sum(axis=0)
        return np.bincount(self.labels, minlength=self.num_classes)

    def __len__(self) -> int:
        return sharded_batches(len(self.files), self.batch_size, self.shard[1])

    def __getitem__(self, index: int) -> Any:
        return self.batch(index, augment=True)

    def __repr__(self) -> str:
        aug = f", augment={self.augment.names}" if self.augment else ""
        return (
            f"ImageDataset({len(self.files)} images, {self.num_classes} classes, {len(self)} batches of "
            f"{self.batch_size}, image_size={self.image_size}{aug}, {len(self._skips.entries)} skipped)"
        )

    def order(self) -> np.ndarray:
        """The file indices in this epoch's order (a seeded shuffle per epoch, or file order)."""
        rank, processes = self.shard
        return epoch_order(len(self.files), shuffle=self.shuffle, seed=self.seed, epoch=self.epoch,
                           batch_size=self.batch_size, rank=rank, processes=processes)  # fmt: skip

    def batch(self, index: int, augment: bool = True, view: int | None = None) -> Any:
        """Batch ``index`` of this epoch; ``augment=False`` skips augmentation. ``view=k`` gives batch ``index``
        in file order with its k-th augmentation, the same each time: view k of every batch lines up with
        :meth:`without_augmentation`, which is what a cache of features per augmented view needs."""
        length = len(self)
        if index < 0:
            index += length
        if not 0 <= index < length:
            raise IndexError(f"Batch {index} asked of a dataset with {length} batches.")
        key = (self.seed, self.epoch, index) if view is None else (self.seed, 1 << 31, view, index)
        rng = np.random.default_rng(key)
        order = self.order() if view is None else np.arange(len(self.files))
        wanted = order[index * self.batch_size : (index + 1) * self.batch_size]
        wanted = wanted[[self.files[i] not in self._skips for i in wanted]]  # known broken, maybe by another view
        augmenter = self.augment if augment else None
        geometry = augmenter.geometry if augmenter is not None else None  # done by the loader, while decoding
        height, width = self.image_size
        warps = None if geometry is None else (lambda n: geometry.matrices(n, height, width, rng))
        x, kept = load_batch(
            self._decoder, self.files, wanted, bad=self._bad, skips=self._skips, rng=rng, warps=warps, dtype=np.float32
        )
        y = self._encode(self.labels[kept])
        if augmenter is not None:  # x is this call's own array
            x, y = augmenter(x, y, rng, copy=False, geometry=geometry is None)
        if self.preprocessing is not None:
            x = self.preprocessing(x)  # a numpy result stays as it is (convert_to_numpy would copy it)
            x = x if isinstance(x, np.ndarray) else np.asarray(keras.ops.convert_to_numpy(x))
        return x if y is None else (x, y)

    def _encode(self, labels: np.ndarray) -> Any:
        if self.multi_label:
            return None if self.label_mode is None else labels.astype(np.float32)
        if self.label_mode == "categorical":
            return np.eye(self.num_classes, dtype=np.float32)[labels]
        if self.label_mode == "binary":
            return labels.astype(np.float32)[:, None]
        return labels if self.label_mode == "int" else None

    def on_epoch_end(self) -> None:
        self.epoch += 1

    def without_augmentation(self) -> ImageDataset:
        """The same images and labels in file order, never augmented (itself when it neither shuffles nor augments)."""
        if self.augment is None and not self.shuffle and self.shard[1] == 1:
            return self
        return self.subset(np.arange(len(self.files)), shuffle=False, augment=None)

    def sharded(self, rank: int, processes: int) -> ImageDataset:
        """The same dataset for one of ``processes`` training together: its batches are this rank's parts of
        the epoch's global batches (:func:`shard_order`); ``files`` and ``labels`` stay the whole dataset's."""
        copy = self.subset(np.arange(len(self.files)))
        copy.shard = (int(rank), int(processes))
        return copy

    def subset(
        self, indices: Sequence[int] | np.ndarray, shuffle: bool | None = None, augment: Any = _SAME
    ) -> ImageDataset:
        """A dataset of some of these files (same options unless given), sharing the skip list, so a run
        report sees every skip."""
        idx = np.asarray(indices, dtype=np.int64)
        return ImageDataset(
            [self.files[i] for i in idx], self.labels[idx], self.class_names, self.image_size,
            batch_size=self.batch_size, label_mode=self.label_mode,
            shuffle=self.shuffle if shuffle is None else shuffle, seed=self.seed,
            augment=self.augment if augment is _SAME else augment, preprocessing=self.preprocessing,
            skips=self._skips, groups=None if self.groups is None else self.groups[idx],
            **self._options,  # type: ignore[arg-type]
        )  # fmt: skip


def _size(image_size: Any) -> tuple[int, int]:
    size = (image_size, image_size) if isinstance(image_size, (int, np.integer)) else tuple(image_size)
    if len(size) != 2 or not all(isinstance(s, (int, np.integer)) and s > 0 for s in size):
        raise DatasetError(f"`image_size` is an int or (height, width) in pixels; received {image_size!r}.")
    return int(size[0]), int(size[1])


def image_folder(
    directory: str | os.PathLike[str],
    image_size: int | tuple[int, int],
    batch_size: int = 32,
    validation_split: float | None = None,
    subset: str | None = None,
    seed: int | None = None,
    class_names: Sequence[str] | None = None,
    label_mode: str | None = "categorical",
    shuffle: bool = True,
    augment: Any = None,
    preprocessing: Any = None,
    *,
    follow_links: bool = False,
    max_pixels: int | None = None,
    interpolation: str = "bilinear",
    group_duplicates: bool = False,
) -> Split:
    """A dataset of ``directory/<class>/**`` images, one class per subfolder (sorted by name).

    ``validation_split`` with ``subset="training"`` / ``"validation"`` gives that part, ``"both"`` a
    ``(train, validation)`` pair; the training part shuffles and augments, the validation part does
    neither. ``augment``: names or Keras layers (:mod:`transferkit.augment`); ``preprocessing``: a
    function on each float32 batch (e.g. ``x / 255``) when a model needs other input than 0-255.
    ``max_pixels`` (default ``TRANSFERKIT_MAX_PIXELS`` or Pillow's limit) rejects decompression bombs.
    ``interpolation`` resizes (antialiased bilinear by default, as prediction does); augmented batches are
    resized and warped in one pass with it (bilinear for ``box`` and ``hamming``), from a photo first
    reduced to under twice the target, so they are sharper than two passes and do not alias.
    ``group_duplicates=True`` keeps copies and near-copies (burst shots, resized or re-encoded saves:
    :func:`~transferkit.data.groups.near_duplicate_groups`) on one side of the split, so validation does
    not score images the model trained on; ``dataset.groups`` then holds the group of each file.
    Raises :class:`DatasetError` for a missing or empty folder, one class, a class without images, or a
    split that leaves a class without validation or training images.
    """
    root = scan.check_folder(directory)
    found = scan.scan_folder(root, classes=class_names, follow_links=follow_links, max_pixels=max_pixels)
    relative = [os.path.relpath(p, root) for p in found.files]
    options = dict(
        image_size=image_size, batch_size=batch_size, label_mode=label_mode, seed=seed, shuffle=shuffle,
        augment=augment, preprocessing=preprocessing, interpolation=interpolation, max_pixels=max_pixels,
    )  # fmt: skip
    return _make(
        tables.Table(found.files, relative, found.labels, found.class_names, found.skips, f"'{root}'"),
        split=validation_split, subset=subset, options=options, group=group_duplicates,
    )  # fmt: skip


def image_table(
    table: Any,
    image_size: int | tuple[int, int],
    batch_size: int = 32,
    validation_split: float | None = None,
    subset: str | None = None,
    seed: int | None = None,
    class_names: Sequence[str] | None = None,
    label_mode: str | None = "categorical",
    shuffle: bool = True,
    augment: Any = None,
    preprocessing: Any = None,
    *,
    path_column: str = "path",
    label_column: str = "label",
    directory: str | os.PathLike[str] | None = None,
    max_pixels: int | None = None,
    interpolation: str = "bilinear",
    group_duplicates: bool = False,
    multi_label: bool = False,
    label_separator: str = ";",
    label_columns: Sequence[str] | None = None,
) -> Split:
    """:func:`image_folder` from a table of (path, label): a CSV file with a header, a pandas DataFrame, or
    a sequence of pairs. Relative paths are taken from ``directory`` (default: the CSV's folder, else the
    working directory). Rows with a missing label, a label outside ``class_names``, or a file that is not
    a usable image are skipped with a warning; classes are the sorted labels unless ``class_names`` says.
    ``group_duplicates`` as in :func:`image_folder`.

    ``multi_label=True``: each image has any number of labels (none: all negative) -- in ``label_column``
    separated by ``label_separator`` (``"beach;dog"``), as a list in a DataFrame, or as one 0/1 column per
    label (``label_columns=[...]``, which implies it). Labels come as multi-hot rows (``label_mode``
    ``"multi_hot"``), and the validation split is iteratively stratified (:func:`~.splits.iterative_split`).
    """
    found = tables.read(
        table, path_column=path_column, label_column=label_column, directory=directory, class_names=class_names,
        max_pixels=max_pixels, multi_label=multi_label, separator=label_separator, label_columns=label_columns,
    )  # fmt: skip
    if found.multi_label and label_mode is not None:
        label_mode = "multi_hot"
    options = dict(
        image_size=image_size, batch_size=batch_size, label_mode=label_mode, seed=seed, shuffle=shuffle,
        augment=augment, preprocessing=preprocessing, interpolation=interpolation, max_pixels=max_pixels,
    )  # fmt: skip
    return _make(found, split=validation_split, subset=subset, options=options, group=group_duplicates)


def _make(
    found: tables.Table, *, split: float | None, subset: str | None, options: dict[str, Any], group: bool = False
) -> Split:
    """Check what was found, split it, and build the dataset(s) image_folder and image_table return."""
    files, relative, labels, names, skips, where = found
    check_choice("subset", subset, [None, "training", "validation", "both"])
    if split is not None and not 0 < split < 1:
        raise DatasetError(f"`validation_split` is a fraction between 0 and 1; received {split!r}.")
    if (split is None) != (subset is None):
        raise DatasetError(
            "Pass validation_split and subset together: e.g. validation_split=0.2, subset='both' for a "
            f"(train, validation) pair; received validation_split={split!r}, subset={subset!r}."
        )
    if not files:
        raise DatasetError(f"No usable images in {where}: it needs one subfolder of images per class.")
    multi = np.ndim(labels) == 2
    counts = np.asarray(labels).sum(axis=0) if multi else np.bincount(labels, minlength=len(names))
    if options["label_mode"] is not None:
        if len(names) < (1 if multi else 2):
            raise DatasetError(
                f"Only one class ({', '.join(map(repr, names))}) in {where}: a classifier needs two or more."
            )
        empty = [n for n, c in zip(names, counts) if c == 0]
        if empty:
            raise DatasetError(
                f"Class(es) {', '.join(map(repr, empty))} in {where} have no usable images; add some or remove them."
            )
    groups = near_duplicate_groups(files) if group and split is not None else None
    full = ImageDataset(files, labels, names, skips=skips, groups=groups, **options)
    if split is None:
        return full
    seed = 0 if options["seed"] is None else options["seed"]
    if multi:
        train_idx, val_idx = iterative_split(relative, np.asarray(labels), names, split, seed, groups)
    else:
        train_idx, val_idx = stratified_split(relative, labels, names, split, seed, groups)
    train, val = full.subset(train_idx), full.subset(val_idx, shuffle=False, augment=None)
    return (train, val) if subset == "both" else train if subset == "training" else val


def label_weights(dataset: Any) -> np.ndarray:
    """Per label of a multi-label dataset, the weight of its positive images in binary cross-entropy: negatives
    over positives (PyTorch's ``pos_weight``), between 0.01 and 100, so a rare label's few images count as much as
    the many without it; 1 for a label with no images."""
    labels = np.asarray(getattr(dataset, "labels", dataset))
    if labels.ndim != 2 or not len(labels):
        raise DatasetError("label_weights takes a multi-label dataset (image_table(..., multi_label=True)).")
    positives = (labels > 0).sum(axis=0).astype(np.float64)
    ratio = np.divide(len(labels) - positives, positives, out=np.ones_like(positives), where=positives > 0)
    return np.clip(ratio, 0.01, 100.0).astype(np.float32)


def class_weights(dataset: Any) -> dict[int, float]:
    """``{class index: weight}`` for ``model.fit(class_weight=...)``: ``n / (classes * n_class)`` ("balanced"),
    so a rare class counts as much as a common one. Takes an :class:`ImageDataset`, a legacy iterator, or labels.
    """
    labels = getattr(dataset, "labels", getattr(dataset, "classes", dataset))
    labels = np.asarray(labels)
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer) or not len(labels):
        raise DatasetError("class_weights takes an image dataset or a non-empty sequence of int class indices.")
    num = max(int(labels.max()) + 1, len(getattr(dataset, "class_names", getattr(dataset, "class_indices", ()))))
    counts = np.bincount(labels, minlength=num)
    return {c: float(len(labels) / (num * n)) if n else 0.0 for c, n in enumerate(counts)}
