"""Reading a labelled table -- a CSV file with a header, a pandas DataFrame, or (path, label) pairs -- into the
usable files and their labels: one class per image, or any number of labels per image (multi-hot rows).

Keras-free (the ONNX path of ``transferkit evaluate`` reads tables too); :func:`transferkit.data.image_table`
builds datasets from what :func:`read` returns. Files are checked from their headers
(:func:`transferkit.data.scan.validate`); rows without a usable file or label are skipped with a reason.
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from ..errors import DatasetError
from . import scan
from .skips import SkipLog


class Table(NamedTuple):
    """What a folder scan or a table gave: usable files, their keys for the split, labels, classes, skips."""

    files: list[str]
    relative: list[str]
    labels: list[int] | np.ndarray  # class indices, or multi-hot rows (n, labels)
    names: list[str]
    skips: SkipLog
    where: str

    @property
    def multi_label(self) -> bool:
        return np.ndim(self.labels) == 2


def read(
    table: Any,
    *,
    path_column: str = "path",
    label_column: str = "label",
    directory: str | os.PathLike[str] | None = None,
    class_names: Sequence[str] | None = None,
    max_pixels: int | None = None,
    multi_label: bool = False,
    separator: str = ";",
    label_columns: Sequence[str] | None = None,
) -> Table:
    """The usable rows of ``table`` (see :func:`transferkit.data.image_table` for the arguments). A single-label
    read of a table whose labels mostly hold ``separator`` is one :class:`DatasetError` saying to read it as a
    multi-label one."""
    where = "the table" if not isinstance(table, (str, os.PathLike)) else f"'{os.fspath(table)}'"
    skips = SkipLog()
    if multi_label or label_columns is not None:
        columns = list(label_columns) if label_columns is not None else None
        rows, base = _read_labels(table, path_column, label_column, columns, separator)
        names = [str(c) for c in class_names] if class_names else columns or sorted(
            {label for _, labels in rows for label in labels}, key=_label_order
        )  # fmt: skip
        keep = []
        for path, labels in rows:
            unknown = [label for label in labels if label not in names]
            if unknown:
                skips.add(path, f"label '{unknown[0]}' is not in class_names")
            else:
                keep.append((path, labels))
    else:
        records, base = _records(table, path_column, [label_column])
        pairs = [(path, cells[0]) for path, cells in records]
        labelled = []
        for path, label in pairs:
            text = "" if label is None or (isinstance(label, float) and math.isnan(label)) else str(label).strip()
            if not text:
                skips.add(str(path), "no label")
            else:
                labelled.append((str(path), text))
        found = sorted({label for _, label in labelled}, key=_label_order)
        names = [str(c) for c in class_names] if class_names else found
        joined = [label for label in found if separator in label and label not in names[: len(class_names or [])]]
        if joined and len(joined) * 2 >= len(found):
            raise DatasetError(
                f"{where} holds several labels per image ('{joined[0]}'): read it as a multi-label table "
                "(--multi-label, image_table(..., multi_label=True)), or evaluate a multi-label model on it."
            )
        keep = []
        for path, label in labelled:
            if label in names:
                keep.append((path, [label]))
            else:
                skips.add(path, f"label '{label}' is not in class_names")
    base = os.fspath(directory) if directory is not None else base
    full = [os.path.join(base, p) for p, _ in keep]
    ok = scan.validate(full, skips=skips, max_pixels=max_pixels)
    kept = [item for item, good in zip(keep, ok) if good]
    files = [f for f, good in zip(full, ok) if good]
    relative = [p for p, _ in kept]
    if multi_label or label_columns is not None:
        hot = np.zeros((len(kept), len(names)), np.int32)
        for row, (_, labels) in enumerate(kept):
            hot[row, [names.index(label) for label in labels]] = 1
        return Table(files, relative, hot, names, skips, where)
    return Table(files, relative, [names.index(labels[0]) for _, labels in kept], names, skips, where)


def _label_order(label: str) -> tuple[bool, int, str]:
    """Numbers in numeric order, then names alphabetically: the order of the classes read from a table."""
    return (not label.isdigit(), int(label) if label.isdigit() else 0, label)


def _records(table: Any, path_column: str, wanted: list[str]) -> tuple[list[tuple[Any, list[Any]]], str]:
    """(path, [value of each ``wanted`` column]) rows of a CSV, a DataFrame or (path, label) pairs, and the
    folder relative paths resolve against (the CSV's, else the working directory)."""
    if isinstance(table, (str, os.PathLike)):
        path = os.fspath(table)
        if not os.path.isfile(path):
            raise DatasetError(f"Table '{path}' does not exist; pass a CSV file with a header row.")
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            _check_columns(list(reader.fieldnames or []), path_column, wanted, f"'{path}'")
            return [(row[path_column], [row[c] for c in wanted]) for row in reader], os.path.dirname(
                os.path.abspath(path)
            )
    if hasattr(table, "columns"):  # a pandas DataFrame, without importing pandas
        _check_columns([str(c) for c in table.columns], path_column, wanted, "the DataFrame")
        values = [table[c].tolist() for c in wanted]
        return [(p, [v[i] for v in values]) for i, p in enumerate(table[path_column].tolist())], os.getcwd()
    rows = list(table)
    if not all(isinstance(r, (tuple, list)) and len(r) == 2 for r in rows):
        raise DatasetError("A table is a CSV path, a DataFrame, or a sequence of (path, label) pairs.")
    return [(r[0], [r[1]]) for r in rows], os.getcwd()


def _read_labels(
    table: Any, path_column: str, label_column: str, columns: list[str] | None, separator: str
) -> tuple[list[tuple[str, list[str]]], str]:
    """(path, labels) rows from a label column (``separator``-joined text, or lists in a DataFrame) or from
    one 0/1 column per label."""
    records, base = _records(table, path_column, columns if columns is not None else [label_column])
    if columns is not None:
        return [(str(p), [c for c, v in zip(columns, flags) if _positive(v)]) for p, flags in records], base
    return [(str(p), _split_labels(cell[0], separator)) for p, cell in records], base


def _split_labels(cell: Any, separator: str) -> list[str]:
    if cell is None or (isinstance(cell, float) and math.isnan(cell)):
        return []
    parts = [str(c) for c in cell] if isinstance(cell, (list, tuple, set, np.ndarray)) else str(cell).split(separator)
    return list(dict.fromkeys(p.strip() for p in parts if p.strip()))  # in order, once each


def _positive(value: Any) -> bool:
    text = str(value).strip().lower()
    if text in ("1", "1.0", "true", "yes"):
        return True
    if text in ("0", "0.0", "false", "no", "", "nan", "none"):
        return False
    raise DatasetError(f"A label column holds 0 or 1 (or true/false) for each image; found {value!r}.")


def _check_columns(columns: list[str], path_column: str, label_column: str | list[str], where: str) -> None:
    wanted = [label_column] if isinstance(label_column, str) else label_column
    missing = [c for c in (path_column, *wanted) if c not in columns]
    if missing:
        raise DatasetError(
            f"Column(s) {', '.join(map(repr, missing))} not in {where} (it has {', '.join(columns) or 'no header'}); "
            "pass path_column= and label_column=."
        )
