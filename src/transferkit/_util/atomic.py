"""Writing files so an interrupted write never leaves a half-written file under the real name."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


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
        os.replace(temp, final)
    finally:
        if temp.exists():
            temp.unlink()
