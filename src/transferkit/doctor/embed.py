"""Backbone embeddings of image files, cached by content hash between runs (the hashes: :mod:`transferkit.data.groups`).

The embedding is EfficientNet-Lite0's pooled features (package-shipped weights, no download), L2-normalised,
so the dot product of two rows is their cosine similarity. Features go through
:func:`transferkit.train.features.extract`, the training cache's own code; a ``cache`` file (``.npz``, hash
to row) lets a second ``doctor`` run, after fixes, embed only the files it has not seen.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence

import numpy as np

from ..data.decode import Decoder

MODEL = "efficientnet_lite0"
BATCH_SIZE = 32


def embed(
    paths: Sequence[str],
    hashes: Sequence[str],
    *,
    image_size: int = 224,
    cache: str | os.PathLike[str] | None = None,
    on_batch: Callable[[int], None] | None = None,
) -> np.ndarray:
    """Unit-length embeddings ``(len(paths), dim)``; files whose hash is in ``cache`` are not decoded again."""
    known = _read_cache(cache, image_size)
    todo = [i for i, h in enumerate(hashes) if h not in known]
    # one decode per distinct content: exact copies share the row
    first: dict[str, int] = {}
    for i in todo:
        first.setdefault(hashes[i], i)
    rows = list(first.values())
    if rows:
        fresh = _features([paths[i] for i in rows], image_size, on_batch)
        known.update({hashes[i]: vector for i, vector in zip(rows, fresh)})
        _write_cache(cache, image_size, known)
    out = np.stack([known[h] for h in hashes]) if len(hashes) else np.zeros((0, 1), np.float32)
    return out.astype(np.float32)


def _features(paths: list[str], image_size: int, on_batch: Callable[[int], None] | None) -> np.ndarray:
    import keras

    from ..models import load_pretrained
    from ..train.features import extract

    backbone = load_pretrained(MODEL, include_top=False, input_shape=(image_size, image_size, 3))
    model = keras.Model(backbone.inputs[0], keras.layers.GlobalAveragePooling2D()(backbone.output))
    decoder = Decoder((image_size, image_size))

    def source() -> Iterator[tuple[np.ndarray, np.ndarray]]:
        for start in range(0, len(paths), BATCH_SIZE):
            chunk = paths[start : start + BATCH_SIZE]
            batch, kept, _ = decoder.load(chunk, dtype=np.float32)
            if len(kept) != len(chunk):  # the scan read every header; a file broken past it embeds as zeros
                full = np.zeros((len(chunk), *decoder.shape), np.float32)
                full[kept] = batch
                batch = full
            yield batch, np.zeros(len(chunk))

    feats = extract(model, [source()], on_batch=on_batch).features[0]
    norms = np.linalg.norm(feats, axis=1, keepdims=True)
    return np.asarray(feats / np.maximum(norms, 1e-12), np.float32)


def _read_cache(cache: str | os.PathLike[str] | None, image_size: int) -> dict[str, np.ndarray]:
    if cache is None or not os.path.exists(cache):
        return {}
    try:
        with np.load(cache) as data:
            if int(data["image_size"]) != image_size or str(data["model"]) != MODEL:
                return {}
            return {str(h): v for h, v in zip(data["hashes"], data["vectors"])}
    except (OSError, KeyError, ValueError):  # a cache from another version, or cut short: embed again
        return {}


def _write_cache(cache: str | os.PathLike[str] | None, image_size: int, known: dict[str, np.ndarray]) -> None:
    if cache is None:
        return
    from .._util.atomic import atomic_path

    with atomic_path(cache) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, hashes=np.array(list(known)), vectors=np.stack(list(known.values())),
                     image_size=image_size, model=MODEL)  # fmt: skip
