"""Finding the images in a class-per-folder tree that real photo folders can be trusted to make a mess of.

A scan never stops for one bad entry. Each file that looks like data but cannot be used (a broken or
truncated image, a text file, a zero-byte file, a bomb, an unreadable file, a symlink loop) is skipped
with one :class:`~transferkit.errors.SkippedFileWarning` naming it; OS litter (``.DS_Store``, ``Thumbs.db``, ``._*``,
``__MACOSX``, hidden files and folders) and loose files beside the class folders are skipped quietly,
with one summary warning. Every skip is recorded as ``(path, reason)`` for code and run reports.

Order is deterministic and the same as Keras's: class folders sorted by name, files sorted by their
folder path and then by name.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from ..errors import DatasetError
from . import images
from .decode import pool
from .skips import SkipLog

_LITTER_FILES = {"thumbs.db", "ehthumbs.db", "desktop.ini", "icon\r"}
# _removed: where `transferkit doctor --apply` moves the files a person deleted on the review page
_LITTER_DIRS = {"__macosx", "@eadir", "$recycle.bin", "system volume information", "_removed"}


def is_litter(name: str, is_dir: bool = False) -> bool:
    """Whether a file or folder name is hidden or something an OS leaves behind, never data."""
    lower = name.lower()
    return name.startswith(".") or lower in (_LITTER_DIRS if is_dir else _LITTER_FILES)


@dataclass
class Scan:
    """What a folder holds: class names, image paths with their class indices, and what was skipped."""

    class_names: list[str]
    files: list[str] = field(default_factory=list)
    labels: list[int] = field(default_factory=list)
    skips: SkipLog = field(default_factory=SkipLog)


def check_folder(directory: str | os.PathLike[str]) -> str:
    path = os.fspath(directory)
    if not os.path.isdir(path):
        what = "does not exist" if not os.path.exists(path) else "is a file, not a folder"
        raise DatasetError(f"Image folder '{path}' {what}; pass a folder with one subfolder of images per class.")
    return path


def list_classes(root: str, quiet: list[tuple[str, str]]) -> list[str]:
    """Sorted class folder names under ``root``; litter folders and loose files go to ``quiet``."""
    names = []
    for name in sorted(os.listdir(root)):
        path = os.path.join(root, name)
        if os.path.isdir(path):
            if is_litter(name, is_dir=True):
                quiet.append((path, "hidden or system folder"))
            else:
                names.append(name)
        else:
            quiet.append((path, "hidden or system file" if is_litter(name) else "not inside a class folder"))
    return names


def walk(top: str, *, root: str, follow_links: bool, skips: SkipLog, quiet: list[tuple[str, str]]) -> list[str]:
    """Every file under ``top`` in Keras's order, never looping through a symlink back to a folder seen."""
    found: list[tuple[str, list[str]]] = []
    info = os.stat(root)
    visited = {(info.st_dev, info.st_ino)}  # a link up to the dataset root would pull in every class
    stack = [top]
    while stack:
        folder = stack.pop()
        try:
            info = os.stat(folder)
            if (info.st_dev, info.st_ino) in visited:
                skips.add(folder, "symlink loop (this folder was already scanned)")
                continue
            visited.add((info.st_dev, info.st_ino))
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as exc:
            skips.add(folder, f"folder cannot be read ({exc.strerror or exc})")
            continue
        files = []
        for entry in entries:
            is_dir = entry.is_dir(follow_symlinks=False)
            if is_litter(entry.name, is_dir):
                quiet.append((entry.path, f"hidden or system {'folder' if is_dir else 'file'}"))
            elif entry.is_symlink() and _is_dir(entry.path):
                if follow_links:
                    stack.append(entry.path)
                else:
                    quiet.append((entry.path, "symlinked folder not followed (pass follow_links=True)"))
            elif is_dir:
                stack.append(entry.path)
            else:
                files.append(entry.name)
        found.append((folder, files))
    found.sort(key=lambda item: item[0])
    return [os.path.join(folder, name) for folder, names in found for name in names]


def _is_dir(path: str) -> bool:
    try:
        return os.path.isdir(path)
    except OSError:
        return False


def validate(
    paths: Sequence[str],
    *,
    skips: SkipLog,
    extensions: Iterable[str] = images.IMAGE_EXTENSIONS,
    max_pixels: int | None = None,
) -> list[bool]:
    """Which ``paths`` are usable images, reading only headers (in parallel); the rest are logged in ``skips``."""
    extensions = tuple(e.lower() for e in extensions)

    def check(path: str) -> str | None:
        if not path.lower().endswith(extensions):
            ext = os.path.splitext(path)[1] or "none"
            return f"not an image file (extension '{ext}'; images end with {', '.join(extensions)})"
        return images.probe(path, max_pixels)

    reasons = list(pool().map(check, paths))
    for path, reason in zip(paths, reasons):
        if reason is not None:
            skips.add(path, reason)
    return [reason is None for reason in reasons]


def scan_folder(
    directory: str | os.PathLike[str],
    *,
    classes: Sequence[str] | None = None,
    follow_links: bool = False,
    extensions: Iterable[str] = images.IMAGE_EXTENSIONS,
    max_pixels: int | None = None,
) -> Scan:
    """Scan ``directory/<class>/**`` (see the module doc); raises :class:`DatasetError` for a missing folder."""
    root = check_folder(directory)
    quiet: list[tuple[str, str]] = []
    found = list_classes(root, quiet)
    if classes:
        missing = [c for c in classes if not os.path.isdir(os.path.join(root, c))]
        if missing:
            raise DatasetError(
                f"Class folder(s) {', '.join(map(repr, missing))} not found in '{root}'; it has "
                f"{', '.join(map(repr, found)) or 'no class folders'}. Fix `classes` or the folder names."
            )
        quiet = [(p, r) for p, r in quiet if os.path.basename(p) not in classes]
    scan = Scan(list(classes) if classes else found)
    candidates: list[tuple[str, int]] = []
    for index, name in enumerate(scan.class_names):
        candidates += [
            (path, index)
            for path in walk(
                os.path.join(root, name), root=root, follow_links=follow_links, skips=scan.skips, quiet=quiet
            )
        ]
    ok = validate([p for p, _ in candidates], skips=scan.skips, extensions=extensions, max_pixels=max_pixels)
    scan.files = [p for (p, _), good in zip(candidates, ok) if good]
    scan.labels = [label for (_, label), good in zip(candidates, ok) if good]
    scan.skips.summarise(quiet)
    return scan
