"""Evaluating a classifier's predictions, and the run report: ``metrics.json``, ``history.csv``, plots, ``report.html``.

Independent of training: it takes true labels and predicted probabilities, with optional file paths (for
the gallery of mistakes), a Keras ``History.history`` dict, skipped files, timings and run settings. The
metrics come from scikit-learn, the plots from matplotlib (its object API with the Agg canvas, so no global
pyplot state is touched), the HTML from :mod:`transferkit._report_html`. Every file is written atomically.
Running the model, and deciding what goes in a run folder besides the report, belong to the caller.
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

from ._atomic import atomic_path
from .errors import DatasetError, ImageError

#: What :func:`write_report` writes into the run folder.
METRICS_FILE, HISTORY_FILE, CURVES_FILE, CONFUSION_FILE, HTML_FILE = (
    "metrics.json",
    "history.csv",
    "curves.png",
    "confusion_matrix.png",
    "report.html",
)
_EPSILON = 1e-7  # the clipping Keras's categorical cross-entropy uses, so val_loss matches Keras's


def compute_metrics(
    y_true: Sequence[int] | Sequence[str] | np.ndarray,
    probabilities: np.ndarray,
    classes: Sequence[str],
    *,
    top_k: int = 5,
) -> dict[str, Any]:
    """Accuracy, top-k accuracy, cross-entropy, per-class precision/recall/F1/support and the confusion matrix.

    ``y_true``: class indices or class names; ``probabilities``: one row per image, one column per class.
    ``top_k`` is lowered to ``len(classes) - 1`` (top-k over all classes is always 1). Raises
    :class:`DatasetError` when labels, probabilities and classes do not fit together.
    """
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support, top_k_accuracy_score

    names = [str(c) for c in classes]
    labels, probs = _check(y_true, probabilities, names)
    count = len(names)
    predicted = probs.argmax(axis=1)
    k = max(1, min(int(top_k), count - 1))
    everything = np.arange(count)
    top = (
        top_k_accuracy_score(labels, probs, k=k, labels=everything)
        if count > 2
        else float(np.mean(predicted == labels))
    )
    row = probs / np.clip(probs.sum(axis=1, keepdims=True), _EPSILON, None)
    loss = float(-np.mean(np.log(np.clip(row[np.arange(len(labels)), labels], _EPSILON, 1.0 - _EPSILON))))
    precision, recall, f1, support = precision_recall_fscore_support(
        labels, predicted, labels=everything, zero_division=0
    )
    per_class = {
        name: {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
        for name, p, r, f, s in zip(names, precision, recall, f1, support)
    }
    return {
        "val_accuracy": float(np.mean(predicted == labels)),
        "val_loss": loss,
        "top_k": k,
        "val_top_k_accuracy": float(top),
        "num_samples": len(labels),
        "baseline_accuracy": float(np.bincount(labels, minlength=count).max() / len(labels)),
        "classes": names,
        "per_class": per_class,
        "macro_avg": _average(per_class, weighted=False),
        "weighted_avg": _average(per_class, weighted=True),
        "confusion_matrix": confusion_matrix(labels, predicted, labels=everything).tolist(),
        "confusion_matrix_axes": "rows: true class, columns: predicted class (order of 'classes')",
    }


def worst_mistakes(
    y_true: Sequence[int] | Sequence[str] | np.ndarray,
    probabilities: np.ndarray,
    classes: Sequence[str],
    paths: Sequence[str | os.PathLike[str]] | None = None,
    limit: int = 12,
) -> list[dict[str, Any]]:
    """The most confident wrong predictions, most confident first."""
    names = [str(c) for c in classes]
    labels, probs = _check(y_true, probabilities, names)
    predicted = probs.argmax(axis=1)
    wrong = np.flatnonzero(predicted != labels)
    order = wrong[np.argsort(-probs[wrong, predicted[wrong]], kind="stable")][: max(0, limit)]
    return [
        {
            "index": int(i),
            "path": os.fspath(paths[i]) if paths is not None else None,
            "true": names[labels[i]],
            "predicted": names[predicted[i]],
            "confidence": float(probs[i, predicted[i]]),
            "true_probability": float(probs[i, labels[i]]),
        }
        for i in order
    ]


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
) -> dict[str, Any]:
    """Evaluate and write the run report into ``run_dir``; returns the metrics as written to ``metrics.json``.

    ``history``: Keras's ``History.history`` (a ``"phase"`` list, one entry per epoch, marks fine-tuning
    phases on the curves). ``skipped_files``: paths, ``(path, reason)`` pairs or :class:`ImageError`\\ s.
    ``epochs`` defaults to the length of ``history``. Writes ``metrics.json``, ``history.csv`` (with a
    history), ``curves.png`` (with a history), ``confusion_matrix.png`` and the self-contained ``report.html``.
    """
    from . import _report_html

    folder = Path(run_dir)
    if paths is not None and len(paths) != len(probabilities):
        raise DatasetError(f"{len(paths)} paths for {len(probabilities)} rows of probabilities: pass one per image.")
    metrics = compute_metrics(y_true, probabilities, classes, top_k=top_k)
    columns = _history_columns(history)
    mistakes = worst_mistakes(y_true, probabilities, classes, paths, max_mistakes)
    metrics.update(
        epochs=epochs if epochs is not None else (max((len(v) for v in columns.values()), default=0) or None),
        train_seconds=None if train_seconds is None else round(float(train_seconds), 3),
        skipped_files=[_skipped(item) for item in skipped_files],
        worst_mistakes=mistakes,
        settings=_jsonable(dict(settings or {})),
    )
    plots: dict[str, bytes] = {CONFUSION_FILE: confusion_png(metrics["confusion_matrix"], metrics["classes"])}
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
    page = _report_html.render(metrics, plots=plots, thumbnails=thumbnails, title=title)
    _write_text(folder / HTML_FILE, page)
    return metrics


# -- plots ---------------------------------------------------------------------------------------------------


def confusion_png(matrix: Sequence[Sequence[int]], classes: Sequence[str]) -> bytes:
    """The confusion matrix as a PNG: colour is the share of each true class, numbers are counts."""
    from matplotlib.figure import Figure

    counts = np.asarray(matrix, dtype=np.int64)
    share = counts / np.clip(counts.sum(axis=1, keepdims=True), 1, None)
    n = len(classes)
    side = min(16.0, max(4.5, 0.45 * n + 2.5))
    fig = Figure(figsize=(side + 1.2, side), dpi=110, layout="constrained")
    ax = fig.add_subplot()
    image = ax.imshow(share, cmap="Blues", vmin=0.0, vmax=1.0)
    fig.colorbar(image, ax=ax, shrink=0.8, label="share of the true class")
    ticks = np.arange(n)
    short = [c if len(c) <= 18 else c[:17] + "…" for c in classes]
    ax.set_xticks(ticks, short, rotation=45 if n > 3 else 0, ha="right" if n > 3 else "center", fontsize=9)
    ax.set_yticks(ticks, short, fontsize=9)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title("Confusion matrix")
    if n <= 30:
        for (i, j), value in np.ndenumerate(counts):
            colour = "white" if share[i, j] > 0.55 else "black"
            ax.text(j, i, str(value), ha="center", va="center", color=colour, fontsize=9 if n <= 12 else 7)
    return _png(fig)


def curves_png(columns: Mapping[str, Sequence[Any]]) -> bytes:
    """Training curves: one panel per metric (training and validation together), phases marked."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    numeric = {k: v for k, v in columns.items() if k != "phase" and all(_is_number(x) for x in v if x is not None)}
    bases = [k for k in numeric if not k.startswith("val_") and k not in ("lr", "learning_rate")]
    bases += [k[4:] for k in numeric if k.startswith("val_") and k[4:] not in numeric]
    rates = [k for k in ("learning_rate", "lr") if k in numeric]
    panels = bases + rates[:1]
    fig = Figure(figsize=(4.2 * max(1, len(panels)), 3.4), dpi=110, layout="constrained")
    axes = fig.subplots(1, max(1, len(panels)), squeeze=False)[0]
    for ax, base in zip(axes, panels):
        for key, style in ((base, "-o"), (f"val_{base}", "--s")):
            values = numeric.get(key)
            if values:
                epochs = np.arange(1, len(values) + 1)
                label = "validation" if key.startswith("val_") else "training"
                ax.plot(epochs, [np.nan if v is None else float(v) for v in values], style, ms=3.5, label=label)
        ax.set_title(base.replace("_", " "))
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        if base in rates:
            ax.set_yscale("log")
        elif ax.lines:
            ax.legend(fontsize=8)
        _mark_phases(ax, columns.get("phase"))
    return _png(fig)


def _mark_phases(ax: Any, phases: Sequence[Any] | None) -> None:
    if not phases or len(set(phases)) < 2:
        return
    for epoch in range(len(phases)):
        if epoch == 0 or phases[epoch] != phases[epoch - 1]:
            if epoch:
                ax.axvline(epoch + 0.5, color="grey", linestyle=":", linewidth=1)
            where = (epoch + 0.6 if epoch else 1.0, 0.99)
            ax.annotate(
                str(phases[epoch]), where, xycoords=("data", "axes fraction"), va="top", fontsize=7, color="grey"
            )


def _png(fig: Any) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


# -- helpers -------------------------------------------------------------------------------------------------


def _check(y_true: Any, probabilities: Any, names: list[str]) -> tuple[np.ndarray, np.ndarray]:
    probs = np.asarray(probabilities, dtype=np.float64)
    if not names or len(set(names)) != len(names):
        raise DatasetError(f"classes must be a non-empty list of unique names; received {names}.")
    if probs.ndim != 2 or probs.shape[1] != len(names):
        raise DatasetError(
            f"probabilities must have one column per class ({len(names)}); received shape {probs.shape}."
        )
    raw = np.asarray(y_true)
    if len(raw) != len(probs):
        raise DatasetError(f"{len(raw)} labels for {len(probs)} rows of probabilities: pass one label per image.")
    if len(raw) == 0:
        raise DatasetError("There is nothing to evaluate: no labelled images.")
    if raw.dtype.kind in "USO":
        unknown = sorted({str(v) for v in raw} - set(names))
        if unknown:
            raise DatasetError(f"Labels {unknown[:5]} are not among the classes {names}.")
        index = {name: i for i, name in enumerate(names)}
        labels = np.array([index[str(v)] for v in raw], dtype=np.int64)
    else:
        labels = raw.astype(np.int64)
        if labels.min() < 0 or labels.max() >= len(names):
            raise DatasetError(f"Label indices must be 0 to {len(names) - 1}; received {labels.min()}..{labels.max()}.")
    if not np.all(np.isfinite(probs)):
        raise DatasetError("probabilities contain NaN or infinity: the model diverged; lower the learning rate.")
    return labels, probs


def _average(per_class: Mapping[str, Mapping[str, float]], weighted: bool) -> dict[str, float]:
    rows = list(per_class.values())
    weights = np.array([r["support"] for r in rows], dtype=np.float64) if weighted else np.ones(len(rows))
    total = weights.sum() or 1.0
    return {key: float(sum(w * r[key] for w, r in zip(weights, rows)) / total) for key in ("precision", "recall", "f1")}


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
    from . import images

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


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


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
