"""The HTML of ``report.html``: one self-contained page (inline CSS, images as data URIs, no JavaScript).

Only layout lives here; :mod:`transferkit.report` computes everything shown. Every string that came from
the user (class names, paths, settings) is escaped.
"""

from __future__ import annotations

import base64
import datetime as _dt
import os
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from .files import CONFUSION_FILE, COOCCURRENCE_FILE, CURVES_FILE, RELIABILITY_FILE

_CSS = """
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d2430;background:#f5f6f8;margin:0}
main{max-width:1080px;margin:0 auto;padding:24px 28px 48px}
h1{font-size:24px;margin:0 0 2px}
h2{font-size:18px;margin:34px 0 10px;border-bottom:1px solid #dde1e7;padding-bottom:4px}
.sub{color:#5b6575;margin:0 0 18px}.verdict{font-size:17px;margin:14px 0 6px}
.cards{display:flex;flex-wrap:wrap;gap:12px}
.card{background:#fff;border:1px solid #dde1e7;border-radius:8px;padding:10px 16px;min-width:112px}
.card b{display:block;font-size:22px}.card span{color:#5b6575;font-size:13px}
.card.main{border-color:#2f6fdf;border-width:2px}.card.main b{font-size:34px;color:#2f6fdf}
table{border-collapse:collapse;background:#fff;border:1px solid #dde1e7;font-size:14px}
th,td{padding:5px 12px;text-align:left;border-bottom:1px solid #eceef2}th{background:#f0f2f5}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.bar{display:inline-block;height:9px;background:#2f6fdf;border-radius:2px;vertical-align:middle;margin-right:6px}
tr.weak td{background:#fff4e5}
img.plot{max-width:100%;background:#fff;border:1px solid #dde1e7;border-radius:6px}
.gallery{display:grid;grid-template-columns:repeat(auto-fill,minmax(190px,1fr));gap:12px}
figure{margin:0;background:#fff;border:1px solid #dde1e7;border-radius:8px;padding:8px;font-size:13px}
figure img{display:block;margin:0 auto 6px;max-width:180px;max-height:180px}
.noimg{height:90px;display:flex;align-items:center;justify-content:center;color:#8a93a3;background:#f0f2f5}
.wrong{color:#c0392b;font-weight:600}.right{color:#1e8449;font-weight:600}.path{color:#5b6575;word-break:break-all}
.note{color:#5b6575;font-size:13px}code{font-size:13px}
"""


def render(
    metrics: Mapping[str, Any], *, plots: Mapping[str, bytes], thumbnails: Sequence[str | None], title: str
) -> str:
    """The whole page for the metrics of :func:`transferkit.report.write_report`."""
    parts = [
        *_opening(title, _subtitle(metrics)),
        _headline(metrics),
        _per_class(metrics),
        _section("Confusion matrix", _plot(plots.get(CONFUSION_FILE), "confusion matrix"))
        + '<p class="note">Rows are the true classes, columns the predicted ones; the diagonal is correct.</p>',
    ]
    if CURVES_FILE in plots:
        parts.append(_section("Training curves", _plot(plots[CURVES_FILE], "training curves")))
    if RELIABILITY_FILE in plots:
        parts.append(_calibration(metrics, plots[RELIABILITY_FILE]))
    parts += [_model_choice(metrics), _mistakes(metrics, thumbnails), _skipped(metrics), _settings(metrics)]
    return _closed(parts)


def _opening(title: str, subtitle: str) -> list[str]:
    """The page's head (self-contained: the CSS inline), its title and subtitle."""
    return [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(title)}</title><style>{_CSS}</style></head><body><main>",
        f"<h1>{escape(title)}</h1>",
        f'<p class="sub">{escape(subtitle)}</p>',
    ]


def _closed(parts: list[str]) -> str:
    return "\n".join([*parts, "</main></body></html>"]) + "\n"


def render_multi_label(
    metrics: Mapping[str, Any], *, plots: Mapping[str, bytes], thumbnails: Sequence[str | None], title: str
) -> str:
    """The page for a multi-label model (:mod:`transferkit.report.multilabel`'s metrics)."""
    parts = [
        *_opening(title, f"{_subtitle(metrics)} · multi-label"),
        _multi_headline(metrics),
        _per_label(metrics),
        _section("Label co-occurrence", _plot(plots.get(COOCCURRENCE_FILE), "label co-occurrence"))
        + '<p class="note">How often two labels are on the same validation image: each row is the share of that '
        "label's images that also have the column's label (the diagonal: all of them).</p>",
    ]
    if CURVES_FILE in plots:
        parts.append(_section("Training curves", _plot(plots[CURVES_FILE], "training curves")))
    parts += [_label_errors(metrics, thumbnails), _skipped(metrics), _settings(metrics)]
    return _closed(parts)


def _multi_headline(metrics: Mapping[str, Any]) -> str:
    n, micro = metrics["num_samples"], metrics["micro_f1"]
    base = metrics["baselines"]["all_positive_micro_f1"]
    verdict = (
        f"Micro F1 <b>{micro:.1%}</b> on {n} validation images, each label decided at its own threshold "
        f"(answering every label for every image would score {base:.1%}; none, 0%). The thresholds were chosen "
        f"on these images, so this is a little optimistic: at 0.5 for every label it is "
        f"{metrics['micro_f1_at_0.5']:.1%}."
    )
    cards = [
        ("main", f"{micro:.1%}", "micro F1"),
        ("", f"{metrics['macro_f1']:.1%}", "macro F1"),
        ("", _percent(metrics.get("mAP")), "mAP"),
        ("", f"{metrics['subset_accuracy']:.1%}", "all labels right"),
        ("", f"{metrics['hamming_loss']:.3f}", "Hamming loss"),
        ("", f"{metrics['label_cardinality']:.2f}", "labels per image"),
        ("", str(n), "validation images"),
        ("", _duration(metrics.get("train_seconds")), "training time"),
    ]
    boxes = "".join(
        f'<div class="card {kind}"><b>{value}</b><span>{label}</span></div>' for kind, value, label in cards
    )
    return f'<p class="verdict">{verdict}</p><div class="cards">{boxes}</div>'


def _per_label(metrics: Mapping[str, Any]) -> str:
    rows = []
    for name, v in metrics["per_label"].items():
        cells = "".join(
            f'<td class="num"><span class="bar" style="width:{v[key] * 60:.0f}px"></span>{v[key]:.2f}</td>'
            for key in ("precision", "recall", "f1")
        )
        rows.append(
            f'<tr><td>{escape(name)}</td>{cells}<td class="num">{_number(None if v["ap"] is None else 100 * v["ap"])}'
            f'</td><td class="num">{v["threshold"]:.2f}</td><td class="num">{v["support"]}</td></tr>'
        )
    head = (
        "<tr><th>label</th><th>precision</th><th>recall</th><th>F1</th><th>AP %</th><th>threshold</th>"
        "<th>images</th></tr>"
    )
    note = (
        '<p class="note">Each label is on when its probability reaches its threshold (chosen for the best F1 on '
        "these images; saved in the model). AP: average precision over every threshold.</p>"
    )
    return _section("Per label", f"<table>{head}{''.join(rows)}</table>{note}")


def _label_errors(metrics: Mapping[str, Any], thumbnails: Sequence[str | None]) -> str:
    def caption(item: Mapping[str, Any]) -> str:
        what = "given" if item["kind"] == "false_positives" else "missed"
        has = ", ".join(item["labels"]) or "no label"
        return (
            f'<div>{what} <span class="wrong">{escape(item["label"])}</span> ({item["probability"]:.0%})</div>'
            f'<div>has <span class="right">{escape(has)}</span></div>'
        )

    return _gallery(
        "Surest wrong labels", metrics, thumbnails, caption,
        empty="None: every label of every validation image was right.",
        note="Labels given to images without them (surest first), then labels missed (least probable first): "
        "often a missing tag in the table, or labels the model confuses.",
    )  # fmt: skip


def _calibration(metrics: Mapping[str, Any], png: bytes) -> str:
    found = metrics["calibration"]
    text = (
        f"Temperature scaling (T = {found['temperature']:.2f}) brings the expected calibration error from "
        f"{found['ece_before']:.3f} to {found['ece_after']:.3f} ({found['bins']} bins); the saved model applies it "
        "to every probability it gives. " + str(found.get("note") or "")
    )
    chosen = metrics.get("target_precision")
    if chosen:
        answered, precision = chosen["answered"], chosen["precision"]
        text += (
            f" For a target precision of {chosen['target']:.0%} each class has its own threshold below which the "
            f"model answers 'unsure': here it answered {answered:.0%} of the validation images"
            + (f", {precision:.1%} of them right." if precision is not None else ".")
        )
    found = metrics.get("familiarity")
    if found:
        flagged = found.get("unfamiliar_validation_images") or []
        text += (
            f" Out-of-distribution score: an image farther than {found['threshold']:.3f} (cosine distance to its "
            f"{found['neighbours']}th nearest of {found['images']} training images) is 'unfamiliar', unlike anything "
            f"trained on; {found['coverage']:.0%} of the validation images are nearer ({len(flagged)} flagged"
            + (f": {', '.join(os.path.basename(f) for f in flagged[:5])}" if flagged else "")
            + ")."
        )
    return _section("Calibration", _plot(png, "reliability diagram")) + f'<p class="note">{escape(text)}</p>'


def _subtitle(metrics: Mapping[str, Any]) -> str:
    settings = metrics.get("settings") or {}
    model = settings.get("model") or settings.get("model_name")
    when = _dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    return " · ".join(str(x) for x in (model, f"{len(metrics['classes'])} classes", f"written {when}") if x)


def _headline(metrics: Mapping[str, Any]) -> str:
    n, accuracy = metrics["num_samples"], metrics["val_accuracy"]
    correct = round(accuracy * n)
    chance = 1.0 / len(metrics["classes"])
    verdict = (
        f"Correct on <b>{correct} of {n}</b> validation images ({accuracy:.1%}). Guessing at random would score "
        f"{chance:.0%}; always answering the most common class, {metrics['baseline_accuracy']:.0%}."
    )
    cards = [
        ("main", f"{accuracy:.1%}", "validation accuracy"),
        ("", f"{metrics['val_top_k_accuracy']:.1%}", f"top-{metrics['top_k']} accuracy"),
        ("", f"{metrics['val_loss']:.3f}", "validation loss"),
        ("", f"{metrics['macro_avg']['f1']:.2f}", "macro F1"),
        ("", str(n), "validation images"),
        ("", str(metrics.get("epochs") or "–"), "epochs"),
        ("", _duration(metrics.get("train_seconds")), "training time"),
        ("", str(len(metrics.get("skipped_files") or [])), "skipped files"),
    ]
    boxes = "".join(
        f'<div class="card {kind}"><b>{value}</b><span>{label}</span></div>' for kind, value, label in cards
    )
    grouped = metrics.get("split") or {}  # near-duplicates kept on one side of the split (train/runs.py)
    note = f'<p class="note">{escape(str(grouped["note"]))}</p>' if grouped.get("note") else ""
    return f'<p class="verdict">{verdict}</p>{note}<div class="cards">{boxes}</div>'


def _per_class(metrics: Mapping[str, Any]) -> str:
    rows = []
    f1_values = [v["f1"] for v in metrics["per_class"].values() if v["support"]]
    weakest = min(f1_values) if len(f1_values) > 1 and min(f1_values) < max(f1_values) else None
    for name, v in metrics["per_class"].items():
        cells = "".join(
            f'<td class="num"><span class="bar" style="width:{v[key] * 60:.0f}px"></span>{v[key]:.2f}</td>'
            for key in ("precision", "recall", "f1")
        )
        weak = ' class="weak"' if weakest is not None and v["support"] and v["f1"] == weakest else ""
        rows.append(f'<tr{weak}><td>{escape(name)}</td>{cells}<td class="num">{v["support"]}</td></tr>')
    for label, key in (("macro average", "macro_avg"), ("weighted average", "weighted_avg")):
        avg = metrics[key]
        cells = "".join(f'<td class="num">{avg[k]:.2f}</td>' for k in ("precision", "recall", "f1"))
        rows.append(f'<tr><td><i>{label}</i></td>{cells}<td class="num">{metrics["num_samples"]}</td></tr>')
    head = "<tr><th>class</th><th>precision</th><th>recall</th><th>F1</th><th>images</th></tr>"
    note = (
        '<p class="note">Precision: of the images predicted as the class, the share that are. Recall: of the '
        "class's images, the share found. The weakest class is highlighted.</p>"
    )
    return _section("Per class", f"<table>{head}{''.join(rows)}</table>{note}")


def _mistakes(metrics: Mapping[str, Any], thumbnails: Sequence[str | None]) -> str:
    def caption(item: Mapping[str, Any]) -> str:
        return (
            f'<div>predicted <span class="wrong">{escape(item["predicted"])}</span> ({item["confidence"]:.0%})</div>'
            f'<div>actually <span class="right">{escape(item["true"])}</span> ({item["true_probability"]:.0%})</div>'
        )

    return _gallery(
        "Most confident mistakes", metrics, thumbnails, caption,
        empty="None: every validation image was classified correctly.",
        note="Wrong predictions, most confident first: often mislabelled images or confusable classes.",
    )  # fmt: skip


def _gallery(
    title: str, metrics: Mapping[str, Any], thumbnails: Sequence[str | None], caption: Any, *, empty: str, note: str
) -> str:
    """``worst_mistakes`` as thumbnails with ``caption(item)`` and the file's path under each."""
    items = metrics.get("worst_mistakes") or []
    if not items:
        return _section(title, f"<p>{escape(empty)}</p>")
    figures = []
    for item, thumb in zip(items, thumbnails):
        picture = f'<img src="{thumb}" alt="">' if thumb else '<div class="noimg">no image</div>'
        path = f'<div class="path">{escape(item["path"])}</div>' if item.get("path") else ""
        figures.append(f"<figure>{picture}{caption(item)}{path}</figure>")
    return _section(title, f'<p class="note">{escape(note)}</p><div class="gallery">{"".join(figures)}</div>')


def _skipped(metrics: Mapping[str, Any]) -> str:
    skipped = metrics.get("skipped_files") or []
    if not skipped:
        return _section("Skipped files", "<p>None: every file was read.</p>")
    rows = "".join(
        f'<tr><td class="path">{escape(s["path"])}</td><td>{escape(s["reason"] or "–")}</td></tr>' for s in skipped
    )
    return _section(f"Skipped files ({len(skipped)})", f"<table><tr><th>file</th><th>why</th></tr>{rows}</table>")


def _model_choice(metrics: Mapping[str, Any]) -> str:
    """What ``--model auto`` tried and chose, and what the training plan decided (empty when neither)."""
    notes = "".join(f'<p class="note">{escape(str(n))}</p>' for n in metrics.get("notes") or [])
    candidates = metrics.get("auto_candidates") or []
    if not candidates:
        return notes
    rows = "".join(
        f"<tr><td>{escape(str(c['name']))}{' <b>(chosen)</b>' if c.get('chosen') else ''}</td>"
        f"<td>{_percent(c.get('accuracy'))}</td><td>{_number(c.get('images_per_second'))}</td>"
        f"<td>{escape(str(c.get('note') or ''))}</td></tr>"
        for c in candidates
    )
    head = "<tr><th>model</th><th>probe accuracy</th><th>img/s</th><th></th></tr>"
    return _section("Model choice (--model auto)", f"<table>{head}{rows}</table>{notes}")


def _percent(value: Any) -> str:
    return "–" if value is None else f"{float(value):.1%}"


def _number(value: Any) -> str:
    return "–" if value is None else f"{float(value):.1f}"


def _settings(metrics: Mapping[str, Any]) -> str:
    settings = dict(metrics.get("settings") or {})
    rows = "".join(
        f"<tr><td>{escape(str(k))}</td><td><code>{escape(_show(v))}</code></td></tr>" for k, v in settings.items()
    )
    files = ", ".join(f"<code>{escape(f)}</code>" for f in metrics.get("files", []))
    table = f"<table>{rows}</table>" if rows else "<p>No settings were recorded.</p>"
    return _section("Run settings", f'{table}<p class="note">Files in this run folder: {files}.</p>')


def _section(title: str, body: str) -> str:
    return f"<h2>{escape(title)}</h2>{body}"


def _plot(data: bytes | None, alt: str) -> str:
    if not data:
        return ""
    return (
        f'<img class="plot" alt="{escape(alt)}" src="data:image/png;base64,{base64.b64encode(data).decode("ascii")}">'
    )


def _show(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return ", ".join(_show(v) for v in value) or "–"
    return "–" if value is None else str(value)


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest:02d} s" if minutes < 60 else f"{minutes // 60} h {minutes % 60:02d} min"
