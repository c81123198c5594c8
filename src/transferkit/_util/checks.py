"""Checks of arguments that have a fixed set of allowed values."""

from __future__ import annotations

from collections.abc import Sequence

from ..errors import DatasetError, TransferkitError


def check_choice(
    name: str, value: object, allowed: Sequence[str | None], error: type[TransferkitError] = DatasetError
) -> None:
    """Refuse a value outside ``allowed`` with a message naming the argument and the allowed values."""
    if value not in allowed:
        raise error(f"Unknown {name}={value!r}; use one of {', '.join(map(repr, allowed))}.")
