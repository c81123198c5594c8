"""Every ``TRANSFERKIT_*`` environment variable, read and validated here and nowhere else.

Each variable is read when it is used (so a test or a long-lived process can change it), and a value
that cannot be used is one :class:`ConfigError` naming the variable, what it received and how to fix it
-- never ``invalid literal for int()``. :data:`VARIABLES` lists them all (the README's table is checked
against it); :func:`check` reads every one, so the CLI refuses a bad value before doing any work.
Imports nothing from transferkit but :mod:`transferkit.errors`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .errors import ConfigError

_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")
DEFAULT_DOWNLOAD_TIMEOUT = 30.0
DEFAULT_MAX_PIXELS = 89_478_485  # Pillow's own default limit, about 9459 x 9459


@dataclass(frozen=True)
class Variable:
    """One environment variable: its name and what it does."""

    name: str
    effect: str


VARIABLES = (
    Variable("TRANSFERKIT_OFFLINE", "1: no network at all; a missing weights file is one clear error"),
    Variable("TRANSFERKIT_WEIGHTS_MIRROR", "a base URL (or a folder) serving weights files by their Keras file name"),
    Variable(
        "TRANSFERKIT_DOWNLOAD_TIMEOUT", f"seconds without data before a download fails ({DEFAULT_DOWNLOAD_TIMEOUT:g})"
    ),
    Variable("TRANSFERKIT_CACHE_DIR", "the weights cache folder (default $KERAS_HOME/models or ~/.keras/models)"),
    Variable("TRANSFERKIT_MAX_PIXELS", f"the largest image decoded, in pixels ({DEFAULT_MAX_PIXELS:,})"),
    Variable("TRANSFERKIT_KERAS_FIXES", "0: do not apply transferkit's fixes of Keras's torch convolutions"),
    Variable("TRANSFERKIT_KEEP_FREED_MEMORY", "0: leave glibc's allocator as it is (it returns freed memory at once)"),
)


def _raw(name: str) -> str:
    return os.environ.get(name, "").strip()


def _flag(name: str, default: bool) -> bool:
    raw = _raw(name).lower()
    if not raw:
        return default
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ConfigError(
        f"{name} is 1 or 0 (true/false, yes/no, on/off); received '{_raw(name)}'. Unset it for the default."
    )


def offline() -> bool:
    """Whether ``TRANSFERKIT_OFFLINE`` forbids all network access."""
    return _flag("TRANSFERKIT_OFFLINE", False)


def keras_fixes() -> bool:
    """Whether to fix Keras's torch convolutions where the installed Keras lacks it (``TRANSFERKIT_KERAS_FIXES``,
    default on)."""
    return _flag("TRANSFERKIT_KERAS_FIXES", True)


def keep_freed_memory() -> bool:
    """Whether glibc is set to keep freed memory for reuse (``TRANSFERKIT_KEEP_FREED_MEMORY``, default on)."""
    return _flag("TRANSFERKIT_KEEP_FREED_MEMORY", True)


def cache_dir() -> Path:
    """The folder weight files are cached in: ``TRANSFERKIT_CACHE_DIR``, else Keras's own cache."""
    explicit = _raw("TRANSFERKIT_CACHE_DIR")
    if explicit:
        return Path(explicit).expanduser()
    keras_home = os.environ.get("KERAS_HOME") or os.path.join("~", ".keras")
    return Path(keras_home).expanduser() / "models"


def weights_mirror() -> str | None:
    """The mirror base URL from ``TRANSFERKIT_WEIGHTS_MIRROR``; a plain folder becomes a ``file://`` URL."""
    base = _raw("TRANSFERKIT_WEIGHTS_MIRROR")
    if not base:
        return None
    if "://" not in base:
        return Path(base).expanduser().resolve().as_uri()
    return base.rstrip("/")


def download_timeout() -> float:
    """Seconds a connection may stay silent (``TRANSFERKIT_DOWNLOAD_TIMEOUT``), so a stalled server fails, not hangs."""
    raw = _raw("TRANSFERKIT_DOWNLOAD_TIMEOUT")
    if not raw:
        return DEFAULT_DOWNLOAD_TIMEOUT
    try:
        seconds = float(raw)
    except ValueError:
        seconds = -1.0
    if not 0 < seconds < float("inf"):
        raise ConfigError(
            f"TRANSFERKIT_DOWNLOAD_TIMEOUT must be a positive number of seconds; received '{raw}'. "
            f"Unset it for the default of {DEFAULT_DOWNLOAD_TIMEOUT:g} s."
        )
    return seconds


def max_pixels() -> int:
    """The largest image (in pixels) that will be decoded (``TRANSFERKIT_MAX_PIXELS``)."""
    raw = _raw("TRANSFERKIT_MAX_PIXELS").replace("_", "").replace(",", "")
    if not raw:
        return DEFAULT_MAX_PIXELS
    if not raw.isdigit() or int(raw) < 1:
        raise ConfigError(
            f"TRANSFERKIT_MAX_PIXELS must be a positive whole number of pixels, e.g. 200000000; received "
            f"'{_raw('TRANSFERKIT_MAX_PIXELS')}'. Unset it for the default of {DEFAULT_MAX_PIXELS:,}."
        )
    return int(raw)


def check() -> None:
    """Read every variable, raising :class:`ConfigError` for the first bad value."""
    for read in (offline, keras_fixes, keep_freed_memory, cache_dir, weights_mirror, download_timeout, max_pixels):
        read()


#: A test hook, not a setting (so not in :data:`VARIABLES` nor the README): ``NAME`` or ``NAME:N`` makes the
#: process kill itself (SIGKILL) inside its N-th (default first) atomic write of a file named ``NAME``, half
#: written and not yet renamed. ``tests/train/test_runs.py`` kills runs inside their writes with it.
TEST_KILL_IN_WRITE = "TRANSFERKIT_TEST_KILL_IN_WRITE"


def test_kill_in_write() -> tuple[str, int] | None:
    """The file name and write count of :data:`TEST_KILL_IN_WRITE`, or None (the normal case: unset)."""
    raw = _raw(TEST_KILL_IN_WRITE)
    if not raw:
        return None
    name, _, count = raw.rpartition(":") if raw.rpartition(":")[2].isdigit() else (raw, "", "1")
    return name, int(count)
