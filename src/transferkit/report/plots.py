"""The run report's plots as PNG bytes: the confusion matrix, the training curves and the reliability diagram.

matplotlib's object API with the Agg canvas (imported on use), so no global pyplot state is touched.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np


def confusion_png(
    matrix: Sequence[Sequence[int]],
    classes: Sequence[str],
    *,
    title: str = "Confusion matrix",
    axes: tuple[str, str] = ("predicted class", "true class"),
    share: str = "share of the true class",
) -> bytes:
    """The confusion matrix as a PNG: colour is the share of each true class (each row), numbers are counts.
    The other names draw another count matrix so: a multi-label model's label co-occurrence."""
    from matplotlib.figure import Figure

    counts = np.asarray(matrix, dtype=np.int64)
    rows = counts.sum(axis=1, keepdims=True) if axes[1] == "true class" else np.diag(counts)[:, None]
    shares = counts / np.clip(rows, 1, None)
    n = len(classes)
    side = min(16.0, max(4.5, 0.45 * n + 2.5))
    fig = Figure(figsize=(side + 1.2, side), dpi=110, layout="constrained")
    ax = fig.add_subplot()
    image = ax.imshow(shares, cmap="Blues", vmin=0.0, vmax=1.0)
    fig.colorbar(image, ax=ax, shrink=0.8, label=share)
    ticks = np.arange(n)
    short = [c if len(c) <= 18 else c[:17] + "…" for c in classes]
    ax.set_xticks(ticks, short, rotation=45 if n > 3 else 0, ha="right" if n > 3 else "center", fontsize=9)
    ax.set_yticks(ticks, short, fontsize=9)
    ax.set_xlabel(axes[0])
    ax.set_ylabel(axes[1])
    ax.set_title(title)
    if n <= 30:
        for (i, j), value in np.ndenumerate(counts):
            colour = "white" if shares[i, j] > 0.55 else "black"
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


def reliability_png(
    before: Mapping[str, Sequence[float]], after: Mapping[str, Sequence[float]], temperature: float
) -> bytes:
    """The reliability diagram: accuracy against confidence per bin (:func:`transferkit.report.metrics.reliability`),
    before and after temperature scaling; the diagonal is perfect calibration, bars show the images per bin."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5.6, 4.6), dpi=110, layout="constrained")
    ax = fig.add_subplot()
    bins = len(before["count"])
    centres = (np.arange(bins) + 0.5) / bins
    ax.plot([0, 1], [0, 1], ":", color="grey", linewidth=1, label="calibrated")
    for found, style, label in ((before, "-o", "before"), (after, "-s", f"after (T = {temperature:.2f})")):
        count = np.asarray(found["count"], np.float64)
        shown = count > 0
        ax.plot(np.asarray(found["confidence"])[shown], np.asarray(found["accuracy"])[shown], style, ms=4, label=label)
    share = ax.twinx()
    share.bar(centres, np.asarray(after["count"], np.float64), width=1 / bins, alpha=0.15, color="grey")
    share.set_ylabel("images per bin (after)", color="grey", fontsize=8)
    share.tick_params(labelsize=7, colors="grey")
    ax.set_zorder(share.get_zorder() + 1)
    ax.patch.set_visible(False)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("confidence (top-class probability)")
    ax.set_ylabel("accuracy")
    ax.set_title("Reliability")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
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


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
