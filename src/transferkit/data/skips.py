"""The files a dataset skipped and why, warned about once each."""

from __future__ import annotations

import os
import sys
import threading
import warnings
from collections.abc import Sequence

from ..errors import SkippedFileWarning


class SkipLog:
    """The files a dataset skipped and why: thread-safe, one warning per file (quiet ones summarised)."""

    def __init__(self) -> None:
        self.entries: list[tuple[str, str]] = []
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def __contains__(self, path: object) -> bool:
        return path in self._seen

    def add(self, path: str, reason: str, quiet: bool = False) -> None:
        with self._lock:
            if path in self._seen:
                return
            self._seen.add(path)
            self.entries.append((path, reason))
        if not quiet:
            warnings.warn(SkippedFileWarning(f"Skipped '{path}': {reason}.", path, reason), stacklevel=_caller())

    def summarise(self, quiet: Sequence[tuple[str, str]]) -> None:
        """Record quiet skips and warn once for all of them."""
        for path, reason in quiet:
            self.add(path, reason, quiet=True)
        if quiet:
            names = ", ".join(os.path.basename(p) or p for p, _ in quiet[:5]) + (", ..." if len(quiet) > 5 else "")
            message = f"Skipped {len(quiet)} hidden, system or stray file(s) ({names}); see the dataset's `skipped`."
            warnings.warn(SkippedFileWarning(message), stacklevel=_caller())


def _caller() -> int:
    """The stack level of the first frame outside transferkit, so a warning points at the user's line."""
    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_globals.get("__name__", "").startswith("transferkit"):
        frame, level = frame.f_back, level + 1  # type: ignore[assignment]
    return level
