"""Writing files so an interrupted write never leaves a half-written file under the real name, and a full disk is
one clear :class:`~transferkit.errors.DiskFullError` (the previous file, if any, untouched)."""

from __future__ import annotations

import errno
import os
import shutil
import signal
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .. import config
from ..errors import DiskFullError

_writes: dict[str, int] = {}  # atomic writes per file name, counted only for config.TEST_KILL_IN_WRITE


def _parts(final: Path) -> tuple[str, str]:
    suffix = "".join(final.suffixes)
    return (final.name[: len(final.name) - len(suffix)] if suffix else final.name), suffix


def temp_path(path: str | os.PathLike[str]) -> Path:
    """A fresh temporary name beside ``path`` with the same suffixes (``.<stem>.<random>.tmp<suffixes>``)."""
    final = Path(path)
    stem, suffix = _parts(final)
    return final.with_name(f".{stem}.{uuid.uuid4().hex[:12]}.tmp{suffix}")


def stale_temps(path: str | os.PathLike[str]) -> list[Path]:
    """The temporary files a killed writer of ``path`` left behind (named as :func:`temp_path` names them)."""
    final = Path(path)
    stem, suffix = _parts(final)
    return sorted(final.parent.glob(f".{stem}.*.tmp{suffix}"))


def remove_stale_temps(folder: str | os.PathLike[str]) -> None:
    """Remove every temporary file killed writers left in ``folder`` (only while no one else writes there)."""
    for temp in Path(folder).glob(".*.*.tmp*"):
        temp.unlink(missing_ok=True)


@contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` (same suffixes); on success rename it over ``path``.

    The rename is atomic on one file system, so readers see the old file or the whole new one.
    """
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    temp = temp_path(final)
    try:
        yield temp
        _test_kill(final.name, temp)
        os.replace(temp, final)
    except Exception as exc:
        if not _out_of_space(exc):
            raise
        written = temp.stat().st_size if temp.exists() else 0
        temp.unlink(missing_ok=True)  # before measuring what is free: the partial file goes
        free = shutil.disk_usage(final.parent).free
        raise DiskFullError(
            f"No space left in '{final.parent}' for '{final.name}': it needs more than {_size(written)} (written "
            f"when the disk filled), {_size(free)} is free; free some space or choose another folder."
        ) from None
    finally:
        if temp.exists():
            temp.unlink()


def _test_kill(name: str, temp: Path) -> None:
    """A test hook (:data:`config.TEST_KILL_IN_WRITE`): die as a hard kill would, with ``temp`` cut to half its
    size and never renamed, so the tests can kill a run inside a given write rather than by timing luck."""
    wanted = config.test_kill_in_write()
    if wanted is None or wanted[0] != name:
        return
    _writes[name] = _writes.get(name, 0) + 1
    if _writes[name] == wanted[1]:
        os.truncate(temp, temp.stat().st_size // 2)
        os.kill(os.getpid(), getattr(signal, "SIGKILL", signal.SIGTERM))


def _out_of_space(exc: BaseException | None) -> bool:
    """Whether ``exc`` or what caused it (Keras and zipfile wrap OSErrors) is a full disk or quota."""
    seen = 0
    while exc is not None and seen < 10:
        if getattr(exc, "errno", None) in (errno.ENOSPC, errno.EDQUOT) or "No space left" in str(exc):
            return True
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return False


def _size(count: int) -> str:
    return f"{count / 1e6:.1f} MB" if count >= 100_000 else f"{count:,} bytes"
