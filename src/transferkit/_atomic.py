"""Writing files so an interrupted write never leaves a half-written file under the real name."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` (same suffixes); on success rename it over ``path``.

    The rename is atomic on one file system, so readers see the old file or the whole new one.
    """
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    suffix = "".join(final.suffixes)
    stem = final.name[: len(final.name) - len(suffix)] if suffix else final.name
    temp = final.with_name(f".{stem}.{uuid.uuid4().hex[:12]}.tmp{suffix}")
    try:
        yield temp
        os.replace(temp, final)
    finally:
        if temp.exists():
            temp.unlink()
