"""One process at a time in a folder: an exclusive, advisory lock that the operating system drops when the
process ends, however it ends (``flock`` on a ``.transferkit.lock`` file inside the folder; a no-op where
``fcntl`` does not exist, i.e. on Windows)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, TextIO

from ..errors import RunFolderError

LOCK_FILE = ".transferkit.lock"


class FolderLock:
    """Held from :meth:`take` (or entering, when the folder already exists) until :meth:`release` or exit."""

    def __init__(self, folder: str | os.PathLike[str], what: str) -> None:
        self.folder, self.what = Path(folder), what
        self._file: TextIO | None = None

    def take(self) -> None:
        """Create the folder if needed and lock it; :class:`RunFolderError` at once if another process holds it."""
        if self._file is not None:
            return
        try:
            import fcntl
        except ImportError:  # Windows: no advisory locks here
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        handle = open(self.folder / LOCK_FILE, "a+")  # held open as long as the lock is held
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "?"
            handle.close()
            raise RunFolderError(
                f"'{self.folder}' is in use by another {self.what} (pid {holder}): wait for it to end, or choose "
                "another folder."
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        self._file = handle

    def release(self) -> None:
        if self._file is not None:
            self._file.close()  # closing the file drops the lock
            self._file = None

    def __enter__(self) -> FolderLock:
        if self.folder.is_dir():
            self.take()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.release()
