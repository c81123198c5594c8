"""Performing a ``fixes.json`` from the review page: moves only, never a deletion, and safe to run twice.

``{"fixes": [{"file": PATH, "action": "move", "to": CLASS} | {"file": PATH, "action": "delete"}, ...]}``.
A move goes to ``<root>/<CLASS>/<name>`` and a deletion to ``<root>/_removed/<its path under root>``, where
``root`` is the folder (training or validation) that holds the file; a name already taken gets a ``-1``,
``-2`` ... suffix, so no file is ever overwritten. A file that is no longer where the fix says (moved by an
earlier run, or by hand) is reported and left alone, which makes a second run change nothing. Does not
import Keras.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import DoctorError

REMOVED = "_removed"  # the scan ignores this folder (transferkit.data.scan)


@dataclass
class Move:
    """One planned move; ``done`` after it ran, ``note`` when it was not needed or possible."""

    source: Path
    target: Path | None
    note: str = ""
    done: bool = False


def read_fixes(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The fixes in a ``fixes.json``; raises :class:`DoctorError` for a file that is not one."""
    try:
        with open(path) as f:
            data = json.load(f)
        fixes = data["fixes"] if isinstance(data, dict) else data
        if not isinstance(fixes, list) or not all(isinstance(x, dict) and "file" in x for x in fixes):
            raise ValueError("not a list of fixes")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DoctorError(
            f"Cannot read fixes from '{os.fspath(path)}' ({exc}); pass the fixes.json that doctor.html downloads."
        ) from None
    return fixes


def plan(fixes: list[dict[str, Any]], roots: list[str | os.PathLike[str]]) -> list[Move]:
    """Where each fixed file goes; raises :class:`DoctorError` for a file outside ``roots`` or a bad action."""
    folders = [(Path(os.path.abspath(r)), Path(r).resolve()) for r in roots]
    moves: list[Move] = []
    taken: set[Path] = set()
    for fix in fixes:
        given = Path(str(fix["file"]))
        source = Path(os.path.abspath(given))
        found = [
            (plain, real) for plain, real in folders if source.is_relative_to(plain) or source.is_relative_to(real)
        ]
        if not found:
            raise DoctorError(
                f"'{given}' is not inside {' or '.join(map(str, roots))}; pass the folders doctor checked "
                "(DATA_DIR and --val-dir) with --apply."
            )
        plain, real = found[0]
        root = plain if source.is_relative_to(plain) else real
        action = fix.get("action")
        if action == "keep":
            continue
        if action == "move":
            to = str(fix.get("to") or "")
            if not to or to != os.path.basename(to) or to.startswith(".") or to == REMOVED:
                raise DoctorError(f"Cannot move '{given}' to class {to!r}; a class is a folder name under {root}.")
            target = root / to / source.name
        elif action == "delete":
            target = root / REMOVED / source.relative_to(root)
        else:
            raise DoctorError(f"Unknown action {action!r} for '{given}'; use move, delete or keep.")
        if not source.exists():
            moves.append(Move(given, None, "not there any more (already moved?)"))
        elif target.parent == source.parent:
            moves.append(Move(given, None, "already in that class"))
        else:
            target = _free(target, taken)
            taken.add(target)
            moves.append(Move(given, target))
    return moves


def _free(target: Path, taken: set[Path]) -> Path:
    """``target``, or the first of ``name-1.ext``, ``name-2.ext`` ... that neither exists nor is planned."""
    candidate, n = target, 0
    while candidate.exists() or candidate in taken:
        n += 1
        candidate = target.with_name(f"{target.stem}-{n}{target.suffix}")
    return candidate


def apply_fixes(
    fixes: str | os.PathLike[str] | list[dict[str, Any]], roots: list[str | os.PathLike[str]], *, dry_run: bool = True
) -> list[Move]:
    """Plan the fixes and, unless ``dry_run``, perform the moves; returns them (``done`` set on those made)."""
    moves = plan(read_fixes(fixes) if not isinstance(fixes, list) else fixes, roots)
    if dry_run:
        return moves
    for move in moves:
        if move.target is None:
            continue
        move.target.parent.mkdir(parents=True, exist_ok=True)
        if move.target.exists():  # appeared since the plan: never overwrite
            move.target = _free(move.target, set())
        shutil.move(str(move.source), str(move.target))
        move.done = True
    return moves
