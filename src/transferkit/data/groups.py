"""Groups of copies and near-copies among image files, so a validation split can keep each group on one side.

A burst of shots or a photo saved twice at two sizes lands, split file by file, on both sides of the
validation split, and validation then measures memory instead of generalisation. :func:`near_duplicate_groups`
finds them from a perceptual hash (pHash: the signs of the lowest DCT frequencies of a 32x32 grayscale
thumbnail) -- no model, a few milliseconds per file -- and ``transferkit doctor`` reuses the same hashes,
checked against backbone embeddings, to report them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np

#: Two images are near-duplicates when their perceptual hashes differ in at most this many of 63 bits.
#: Measured with ``bench/bench_doctor.py`` (1,050 crops, 20 planted copies resized to 70% and re-encoded):
#: 19 of the 20 copies differ in 0-8 bits (one small image in 12); 12 pairs of different pictures are as
#: close, which ``doctor`` tells apart with embeddings and a split can afford (two unrelated images kept on
#: one side cost nothing but a little stratification).
NEAR_DUPLICATE_BITS = 8
#: No group grows past this many images: pairs are joined closest first, and a join that would pass it is
#: left out, so a chain of chance matches in a large folder of look-alike images cannot swallow a class.
GROUP_LIMIT = 64


def file_hash(path: str) -> str:
    """The SHA-256 of a file's bytes (exact duplicates share it whatever their names)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def perceptual_hash(path: str) -> np.ndarray | None:
    """A 63-bit DCT hash (pHash) of the image's 32x32 grayscale thumbnail: resizing, re-encoding and mild
    colour changes move few bits, a different picture about half of them. None for a file that cannot be
    decoded."""
    from PIL import Image
    from scipy.fft import dctn

    try:
        with Image.open(path) as img:
            img.draft("L", (64, 64))  # JPEG: decode at reduced size
            pixels = np.asarray(img.convert("L").resize((32, 32), Image.Resampling.BOX), np.float64)
    except (OSError, ValueError, Image.DecompressionBombError):
        return None
    low = dctn(pixels, norm="ortho")[:8, :8].ravel()[1:]  # the lowest frequencies, without the mean
    return np.asarray(low > np.median(low))


def hash_bits(paths: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """``(bits, ok)``: the perceptual hash of every file, decoded in the shared thread pool, as a
    ``(n, 63)`` bool array, and which files could be hashed (the others' rows are zeros)."""
    from .decode import pool

    hashes = list(pool().map(perceptual_hash, paths))
    ok = np.array([h is not None for h in hashes], bool)
    bits = np.zeros((len(paths), 63), bool)
    for i, h in enumerate(hashes):
        if h is not None:
            bits[i] = h
    return bits, ok


def close_hashes(
    bits: np.ndarray, most: int = NEAR_DUPLICATE_BITS, ok: np.ndarray | None = None
) -> list[tuple[int, int, int]]:
    """Pairs ``(i, j, bits apart)``, ``i < j``, of hashes at most ``most`` bits apart, closest first; rows
    where ``ok`` is False match nothing. Packed into 64-bit words and compared in blocks of about 16 million
    pairs, so 100,000 files take seconds and little memory."""
    packed = np.packbits(np.asarray(bits, bool), axis=1, bitorder="little")
    words = np.pad(packed, ((0, 0), (0, 8 - packed.shape[1]))).view(np.uint64)[:, 0]
    usable = np.flatnonzero(np.ones(len(words), bool) if ok is None else ok)
    words = words[usable]
    pairs: list[tuple[int, int, int]] = []
    block = max(1, min(1024, (1 << 24) // max(len(words), 1)))
    for start in range(0, len(words), block):
        rows = words[start : start + block]
        apart = np.bitwise_count(rows[:, None] ^ words[None, start:])
        r, c = np.nonzero(apart <= most)
        keep = c > r  # columns start at `start`: c > r is j > i, each pair once
        for a, b in zip(r[keep], c[keep]):
            pairs.append((int(usable[start + a]), int(usable[start + b]), int(apart[a, b])))
    pairs.sort(key=lambda p: (p[2], p[0], p[1]))
    return pairs


class Groups:
    """Union-find over row indices, with sizes so that a join can be refused past a limit."""

    def __init__(self, n: int) -> None:
        self.parent = list(range(n))
        self.size = [1] * n

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def join(self, i: int, j: int, limit: int | None = None) -> bool:
        """Put ``i`` and ``j`` in one group; False (and nothing done) when it would exceed ``limit``."""
        a, b = self.find(i), self.find(j)
        if a == b:
            return True
        if limit is not None and self.size[a] + self.size[b] > limit:
            return False
        self.parent[a] = b
        self.size[b] += self.size[a]
        return True

    def labels(self) -> np.ndarray:
        """A group id per row (the smallest row index in its group)."""
        roots = [self.find(i) for i in range(len(self.parent))]
        first: dict[int, int] = {}
        return np.array([first.setdefault(r, i) for i, r in enumerate(roots)], np.int64)

    def groups(self) -> list[list[int]]:
        """The groups of two or more rows."""
        members: dict[int, list[int]] = {}
        for i in range(len(self.parent)):
            members.setdefault(self.find(i), []).append(i)
        return [g for g in members.values() if len(g) > 1]


def near_duplicate_groups(
    paths: Sequence[str], most: int = NEAR_DUPLICATE_BITS, limit: int = GROUP_LIMIT
) -> np.ndarray:
    """A group id per file (the index of the group's first file): files whose perceptual hashes are at most
    ``most`` bits apart share one, transitively, up to ``limit`` files per group. Files that cannot be
    decoded are groups of their own."""
    bits, ok = hash_bits(paths)
    groups = Groups(len(paths))
    for i, j, _ in close_hashes(bits, most, ok):
        groups.join(i, j, limit)
    return groups.labels()
