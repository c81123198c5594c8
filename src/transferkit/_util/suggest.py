"""The "Did you mean ...?" part of an error message, written once."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def did_you_mean(name: str, candidates: Iterable[str], n: int = 3, cutoff: float = 0.6) -> str:
    """``" Did you mean 'a' or 'b'?"`` for the candidates closest to ``name``, or ``""`` when none is close."""
    close = difflib.get_close_matches(name, list(candidates), n=n, cutoff=cutoff)
    return f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
