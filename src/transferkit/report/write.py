"""The run report in a folder: ``metrics.json``, ``history.csv``, the plots and one self-contained ``report.html``.

Independent of training: it takes true labels and predicted probabilities, with optional file paths (for
the gallery of mistakes), a Keras ``History.history`` dict, skipped files, timings and run settings; the
metrics are :mod:`~transferkit.report.metrics`', the plots :mod:`~transferkit.report.plots`', the page
:mod:`~transferkit.report.html`'s. Every file is written atomically. Running the model, and deciding what
goes in a run folder besides the report, belong to the caller.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .._util.atomic import atomic_path
from ..errors import DatasetError, ImageError
from ..runtime.confidence import apply_temperature, label_thresholds
from . import html
from .files import (
    CONFUSION_FILE,
    COOCCURRENCE_FILE,
    CURVES_FILE,
    HISTORY_FILE,
    HTML_FILE,
    METRICS_FILE,
    RELIABILITY_FILE,
)  # fmt: skip
from .metrics import CALIBRATION_BINS, compute_metrics, expected_calibration_error, reliability, worst_mistakes
from .multilabel import multi_label_metrics, worst_errors
from .plots import confusion_png, curves_png, reliability_png


def write_report(
    run_dir: str | os.PathLike[str],
    y_true: Sequence[int] | Sequence[str] | np.ndarray,
    probabilities: np.ndarray,
    classes: Sequence[str],
    *,
    paths: Sequence[str | os.PathLike[str]] | None = None,
    history: Mapping[str, Sequence[Any]] | None = None,
    skipped_files: Sequence[Any] = (),
    train_seconds: float | None = None,
    epochs: int | None = None,
    settings: Mapping[str, Any] | None = None,
    top_k: int = 5,
    title: str = "transferkit run report",
    max_mistakes: int = 12,
    extra: Mapping[str, Any] | None = None,
    temperature: float | None = None,
    calibrated: np.ndarray | None = None,
    calibration_note: str = "",
    thresholds: Sequence[float] | None = None,
) -> dict[str, Any]:
    """Evaluate and write the run report into ``run_dir``; returns the metrics as written to ``metrics.json``.

    ``history``: Keras's ``History.history`` (a ``"phase"`` list, one entry per epoch, marks fine-tuning
    phases on the curves). ``skipped_files``: paths, ``(path, reason)`` pairs or :class:`ImageError`\\ s.
    ``epochs`` defaults to the length of ``history``; ``extra`` entries are added to the metrics as they are.
    ``temperature``: the calibration fit on these images (:mod:`transferkit.runtime.confidence`); then
    ``probabilities`` are the model's own, the metrics and mistakes are those of the calibrated probabilities
    (what the saved classifier answers), and ``calibration: {temperature, ece_before, ece_after, bins, note}``
    and ``reliability.png`` are added. ``ece_after`` is measured on ``calibrated`` when given (e.g. scaled
    by temperatures fit on other images), else on ``probabilities`` scaled by ``temperature``.
    Writes ``metrics.json``, ``history.csv`` (with a
    history), ``curves.png`` (with a history), ``confusion_matrix.png`` and the self-contained ``report.html``.

    Multi-hot ``y_true`` ``(n, labels)`` (a multi-label model's sigmoid ``probabilities``, decided by each
    label's ``thresholds``, default 0.5): :mod:`~transferkit.report.multilabel`'s figures, the surest false
    positives and negatives, and ``cooccurrence.png`` in place of the confusion matrix.
    """
    folder = Path(run_dir)
    if paths is not None and len(paths) != len(probabilities):
        raise DatasetError(f"{len(paths)} paths for {len(probabilities)} rows of probabilities: pass one per image.")
    columns = _history_columns(history)
    plots: dict[str, bytes] = {}
    if np.ndim(y_true) == 2:
        cuts = label_thresholds(thresholds, len(classes))
        metrics = multi_label_metrics(np.asarray(y_true), probabilities, classes, cuts)
        errors = worst_errors(np.asarray(y_true), probabilities, classes, cuts, paths, max_mistakes // 2 or 1)
        mistakes = [{**e, "kind": kind} for kind, found in errors.items() for e in found]
        plots[COOCCURRENCE_FILE] = confusion_png(
            metrics["cooccurrence"], classes, title="Label co-occurrence", axes=("with label", "label"),
            share="share of the row label's images",
        )  # fmt: skip
    else:
        raw = probabilities
        if temperature is not None:
            probabilities = apply_temperature(raw, temperature)
        metrics = compute_metrics(y_true, probabilities, classes, top_k=top_k)
        mistakes = worst_mistakes(y_true, probabilities, classes, paths, max_mistakes)
    if temperature is not None and not metrics.get("multi_label"):
        labels = np.asarray([metrics["classes"].index(str(y)) for y in y_true] if _named(y_true) else y_true)
        after = probabilities if calibrated is None else np.asarray(calibrated)
        metrics["calibration"] = {
            "temperature": float(temperature), "ece_before": expected_calibration_error(labels, raw),
            "ece_after": expected_calibration_error(labels, after), "bins": CALIBRATION_BINS, "note": calibration_note,
        }  # fmt: skip
        plots[RELIABILITY_FILE] = reliability_png(reliability(labels, raw), reliability(labels, after), temperature)
    metrics.update(
        epochs=epochs if epochs is not None else (max((len(v) for v in columns.values()), default=0) or None),
        train_seconds=None if train_seconds is None else round(float(train_seconds), 3),
        skipped_files=[_skipped(item) for item in skipped_files],
        worst_mistakes=mistakes,
        settings=_jsonable(dict(settings or {})),
        **_jsonable(dict(extra or {})),
    )
    if not metrics.get("multi_label"):
        plots[CONFUSION_FILE] = confusion_png(metrics["confusion_matrix"], metrics["classes"])
    if columns:
        plots[CURVES_FILE] = curves_png(columns)
    metrics["files"] = sorted([METRICS_FILE, HTML_FILE, *plots, *([HISTORY_FILE] if columns else [])])

    if columns:
        _write_text(folder / HISTORY_FILE, _history_csv(columns))
    for name, data in plots.items():
        with atomic_path(folder / name) as temp:
            temp.write_bytes(data)
    _write_text(folder / METRICS_FILE, json.dumps(metrics, indent=2, allow_nan=False) + "\n")
    thumbnails = [_thumbnail(m["path"]) if m["path"] else None for m in mistakes]
    render = html.render_multi_label if metrics.get("multi_label") else html.render
    page = render(metrics, plots=plots, thumbnails=thumbnails, title=title)
    _write_text(folder / HTML_FILE, page)
    return metrics


def _named(y_true: Any) -> bool:
    return np.asarray(y_true).dtype.kind in "USO"


def _history_columns(history: Mapping[str, Sequence[Any]] | None) -> dict[str, list[Any]]:
    return {str(k): [_scalar(x) for x in v] for k, v in (history or {}).items() if len(v)}


def _history_csv(columns: Mapping[str, Sequence[Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["epoch", *columns])
    for epoch in range(max(len(v) for v in columns.values())):
        writer.writerow([epoch + 1, *(v[epoch] if epoch < len(v) else "" for v in columns.values())])
    return buffer.getvalue()


def _skipped(item: Any) -> dict[str, str]:
    if isinstance(item, ImageError):
        return {"path": item.path, "reason": item.reason}
    if isinstance(item, (tuple, list)) and len(item) == 2:
        return {"path": os.fspath(item[0]), "reason": str(item[1])}
    if isinstance(item, Mapping):
        return {"path": str(item.get("path", "")), "reason": str(item.get("reason", ""))}
    return {"path": os.fspath(item), "reason": ""}


def _thumbnail(path: str, size: int = 180) -> str | None:
    """A small JPEG of an image as a data URI, or None when it can no longer be read."""
    from ..data import images  # imports Keras: only when a report has mistakes to show

    try:
        img = images.open_rgb(path, draft_size=(size, size))
    except ImageError:
        return None
    img.thumbnail((size, size))
    buffer = io.BytesIO()
    img.save(buffer, format="JPEG", quality=85)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _scalar(value: Any) -> Any:
    if isinstance(value, (np.generic,)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value if isinstance(value, (int, float, str, bool)) or value is None else str(value)


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    return _scalar(value)


def _write_text(path: Path, text: str) -> None:
    with atomic_path(path) as temp:
        temp.write_text(text, encoding="utf-8")
