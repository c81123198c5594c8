"""How the CLI talks: one-line errors and warnings on stderr, tables on stdout."""

from __future__ import annotations

import sys
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TextIO

from ..errors import SkippedFileWarning


def error(message: str) -> None:
    print(f"transferkit: error: {message}", file=sys.stderr)


def table(rows: Sequence[Sequence[Any]], header: Sequence[str]) -> None:
    """Left-aligned columns, as wide as their widest cell."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(str(cell).ljust(w) for cell, w in zip(row, widths)).rstrip())


def fraction(what: str, example: str, *, zero: bool = True) -> Any:
    """An argparse ``type`` for a number from 0 (or just above, ``zero=False``) to 1: a probability, a precision."""
    import argparse

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = float("nan")
        if not (0.0 <= value if zero else 0.0 < value) or not value <= 1.0:
            bounds = "between 0 and 1" if zero else "above 0 and at most 1"
            raise argparse.ArgumentTypeError(f"a {what} {bounds} (e.g. {example}) is needed. Received: {text!r}")
        return value

    return parse


def megabytes(n: int | None) -> str:
    return "-" if n is None else f"{n / 1e6:.1f} MB"


def warning_line(message: Warning | str) -> str:
    """``warning: skipped FILE: reason`` for a skipped file, ``warning: ...`` for any other warning."""
    if isinstance(message, SkippedFileWarning) and message.path is not None:
        return f"warning: skipped {message.path}: {message.reason}"
    text = str(message)
    return f"warning: {text[:1].lower()}{text[1:]}"


@contextmanager
def plain_warnings() -> Iterator[None]:
    """Warnings as one line each (no ``file:line: Category:`` prefix) while a command runs."""

    def show(
        message: Warning | str, category: type[Warning], filename: str, lineno: int,
        file: TextIO | None = None, line: str | None = None,
    ) -> None:  # fmt: skip
        print(warning_line(message), file=file or sys.stderr, flush=True)

    with warnings.catch_warnings():
        warnings.showwarning = show
        yield
