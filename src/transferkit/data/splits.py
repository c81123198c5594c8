"""Validation splits that every machine draws the same: each file's place is decided by a seeded hash of its
key (its path relative to the folder or table), so the same seed picks the same files, and adding images does
not reshuffle the others.

:func:`stratified_split` splits each class in the same proportion, keeping groups of near-duplicates on one
side when asked (:mod:`transferkit.data.groups`); :func:`iterative_split` does the same for multi-label data,
where an image counts for several labels, by iterative stratification (Sechidis, Tsoumakas and Vlahavas,
2011): the rarest label's images are placed first, each where its labels are most wanted, so rare labels
land on both sides. (scikit-multilearn implements it too, unmaintained since 2018 and not seeded by key.)
:func:`shard_order` splits each epoch among the processes of a distributed run.
"""

from __future__ import annotations

import hashlib
import math
import os
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import DatasetError


def _order(keys: Sequence[str], seed: int) -> list[str]:
    return [hashlib.sha256(f"{seed}:{key.replace(os.sep, '/')}".encode()).hexdigest() for key in keys]


def stratified_split(
    keys: Sequence[str],
    labels: Sequence[int] | np.ndarray,
    class_names: Sequence[str],
    fraction: float,
    seed: int,
    groups: Sequence[int] | np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the training and validation files: ``round(fraction * n)`` of each class to validation,
    chosen by a seeded hash of each file's key (its relative path), so the split is the same everywhere.

    ``groups`` (a group id per file, e.g. :func:`~transferkit.data.groups.near_duplicate_groups`) keeps each
    group on one side: groups are taken in the order of their first file's hash, each to validation while it
    fits every class's quota; a class left short then takes the groups that bring it closest to its quota.
    Without groups (or with groups of one) the split is the same file for file."""
    labels_arr = np.asarray(labels)
    n_classes = len(class_names)
    counts = np.bincount(labels_arr, minlength=n_classes)
    quota = np.floor(counts * fraction + 0.5).astype(np.int64)
    for c, name in enumerate(class_names):
        if quota[c] == 0 or quota[c] == counts[c]:
            part = "validation" if quota[c] == 0 else "training"
            fix = (
                f"choose a validation_split between {1 / (2 * counts[c]):.2f} and {1 - 1 / (2 * counts[c]):.2f}"
                if counts[c] > 1
                else "a class needs two images to be in both"
            )
            raise DatasetError(
                f"validation_split={fraction} leaves class '{name}' ({counts[c]} images) without {part} "
                f"images; add images to it or {fix}."
            )
    digest = _order(keys, seed)
    group_ids = np.arange(len(labels_arr)) if groups is None else np.asarray(groups)
    members: dict[Any, list[int]] = {}
    for i in sorted(range(len(labels_arr)), key=lambda i: (digest[i], i)):
        members.setdefault(group_ids[i].item(), []).append(i)
    units = [(m, np.bincount(labels_arr[m], minlength=n_classes)) for m in members.values()]  # by first hash
    taken = np.zeros(len(units), bool)
    in_val = np.zeros(n_classes, np.int64)
    for u, (_, unit) in enumerate(units):
        if np.all(in_val + unit <= quota):
            taken[u], in_val = True, in_val + unit
    for short_class in np.flatnonzero(in_val < quota):  # groups too big for the quota in the first pass
        k = int(short_class)
        for u, (_, unit) in enumerate(units):
            after = in_val + unit
            if not taken[u] and unit[k] and abs(after[k] - quota[k]) < abs(in_val[k] - quota[k]):
                if np.all(after < counts):  # every class keeps training images
                    taken[u], in_val = True, after
    short = [name for name, n in zip(class_names, in_val) if n == 0]
    if short:
        raise DatasetError(
            f"Class(es) {', '.join(map(repr, short))} cannot have validation images without splitting a group of "
            "near-duplicates; add images, or pass group_duplicates=False (--no-group-duplicates) to split them."
        )
    val_idx = np.sort(np.asarray([i for u, (m, _) in enumerate(units) if taken[u] for i in m], dtype=np.int64))
    return np.setdiff1d(np.arange(len(labels_arr)), val_idx), val_idx


def iterative_split(
    keys: Sequence[str],
    labels: np.ndarray,
    class_names: Sequence[str],
    fraction: float,
    seed: int,
    groups: Sequence[int] | np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the training and validation images for multi-hot ``labels`` ``(n, labels)``: iterative
    stratification, images in the order of their key's seeded hash. Images without labels fill the side
    that is short of images. ``groups`` (a group id per image) keeps each group on one side: a group is placed
    as one unit holding all its members' labels. Warns (one line) about labels that end up on one side only
    (fewer than two images, or too few for ``fraction``)."""
    y = np.asarray(labels) > 0
    n = len(y)
    order = np.argsort(_order(keys, seed), kind="stable")
    group_ids = np.arange(n) if groups is None else np.asarray(groups)
    members: dict[Any, list[int]] = {}
    for i in order:
        members.setdefault(group_ids[i].item(), []).append(int(i))
    units = list(members.values())  # in the order of their first image's hash
    counts = np.stack([y[m].sum(axis=0) for m in units]).astype(np.float64)  # label counts per unit
    sizes = np.array([len(m) for m in units], np.float64)
    wanted = np.array([(1 - fraction) * n, fraction * n])  # images still wanted: training, validation
    per_label = np.outer([1 - fraction, fraction], y.sum(axis=0)).astype(np.float64)
    side = np.full(len(units), -1)
    while True:
        left = counts * (side < 0)[:, None]
        remaining = (left > 0).sum(axis=0)
        if not remaining.any():
            break
        label = int(np.argmin(np.where(remaining > 0, remaining, np.iinfo(np.int64).max)))  # the rarest left
        for u in np.flatnonzero(left[:, label] > 0):
            most = per_label[:, label]
            choice = np.flatnonzero(most == most.max())
            if len(choice) > 1:
                choice = choice[wanted[choice] == wanted[choice].max()]
            j = int(choice[-1])  # a tie still: validation
            side[u] = j
            per_label[j] -= counts[u]
            wanted[j] -= sizes[u]
    for u in np.flatnonzero(side < 0):  # no label at all
        j = int(np.argmax(wanted))
        side[u] = j
        wanted[j] -= sizes[u]
    _balance(side, counts, sizes, fraction)
    image_side = np.empty(n, np.int64)
    for unit, m in enumerate(units):
        image_side[m] = side[unit]
    train_idx, val_idx = np.flatnonzero(image_side == 0), np.flatnonzero(image_side == 1)
    one_side = [name for k, name in enumerate(class_names) if not (y[train_idx, k].any() and y[val_idx, k].any())]
    if one_side:
        warnings.warn(
            f"Label(s) {', '.join(map(repr, one_side))} have too few images to be in both the training and the "
            "validation images; add images with them, or expect no validation figures for them.",
            stacklevel=3,
        )
    return train_idx, val_idx


def _balance(side: np.ndarray, counts: np.ndarray, sizes: np.ndarray, fraction: float) -> None:
    """Move units (images, or groups of them) across until validation holds ``round(fraction * n)`` images,
    or as near as whole groups allow: iterative stratification serves the labels first and can overshoot the
    image count by several percent. Each move takes the unit whose labels its side holds most in excess, in
    hash order on ties, never one that would take a label off a side it is on only once."""
    target = int(np.floor(fraction * sizes.sum() + 0.5))
    desired = np.outer([1 - fraction, fraction], counts.sum(axis=0))
    while (surplus := int(sizes[side == 1].sum()) - target) != 0:
        source = 1 if surplus > 0 else 0
        held = counts[side == source].sum(axis=0)
        last = (counts > 0) & (counts >= held)  # the unit holds every image of a label on its side
        fits = sizes <= 2 * abs(surplus) - 1  # a move that brings the count nearer
        candidates = np.flatnonzero((side == source) & fits & ~last.any(axis=1))
        if not len(candidates):
            return
        gain = (counts[candidates] * (held - desired[source])).sum(axis=1)
        side[candidates[np.lexsort((candidates, -gain))[0]]] = 1 - source


def epoch_order(
    count: int, *, shuffle: bool, seed: int, epoch: int, batch_size: int, rank: int = 0, processes: int = 1
) -> np.ndarray:
    """The item indices of one epoch, for this rank: a permutation seeded by ``(seed, epoch)`` (or item
    order), cut by :func:`shard_order`. The same on every machine and every resume."""
    order = np.random.default_rng((seed, epoch)).permutation(count) if shuffle else np.arange(count)
    return shard_order(order, batch_size, rank, processes)


def shard_order(order: np.ndarray, batch_size: int, rank: int = 0, processes: int = 1) -> np.ndarray:
    """Rank ``rank``'s part of an epoch's ``order`` when ``processes`` train together with ``batch_size`` each:
    every global batch (``batch_size * processes`` of ``order``) cut into one contiguous part per rank, so a
    step sees the images one process would see with the global batch. ``order`` is first padded by wrapping
    around to a multiple of ``processes`` (as torch's ``DistributedSampler`` pads): every rank takes as many
    steps, of equal size. One process: ``order`` itself."""
    if processes == 1:
        return order
    padded = np.resize(order, -(-len(order) // processes) * processes)  # np.resize repeats from the start
    step = batch_size * processes
    parts = []
    for start in range(0, len(padded), step):
        chunk = padded[start : start + step]
        share = len(chunk) // processes
        parts.append(chunk[rank * share : (rank + 1) * share])
    return np.concatenate(parts) if parts else order[:0]


def sharded_batches(count: int, batch_size: int, processes: int = 1) -> int:
    """Batches per epoch (per rank) of ``count`` items: what :func:`shard_order` gives each rank."""
    return math.ceil(-(-count // processes) / batch_size)
