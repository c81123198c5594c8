"""``transferkit evaluate MODEL DATA_DIR``: a saved classifier's or an ONNX export's metrics on a labelled folder
or CSV table (a multi-label model's: micro/macro F1, mAP and a per-label table)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from ._output import table


def add_parser(commands: Any) -> None:
    p = commands.add_parser("evaluate", help="evaluate a saved classifier on a labelled folder")
    p.add_argument("model", metavar="MODEL", help="a .keras file saved by transferkit, or an exported .onnx file")
    p.add_argument("data_dir", metavar="DATA_DIR", help="a folder of class sub-folders, or a CSV table (path,label)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument(
        "--tta", action="store_true", help="average each image's prediction with its mirror image's (and show both)"
    )
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..inference import evaluate

    metrics = evaluate(args.model, args.data_dir, batch_size=args.batch_size, tta=args.tta)
    if args.json:
        print(json.dumps(metrics, indent=2))
        return 0
    if metrics.get("multi_label"):
        _multi_label(metrics, args.tta)
    else:
        _single_label(metrics, args.tta)
    for path, reason in metrics["skipped_files"]:
        print(f"warning: skipped {path}: {reason}", file=sys.stderr)
    return 0


def _multi_label(metrics: dict[str, Any], tta: bool) -> None:
    ap = "–" if metrics["mAP"] is None else f"{metrics['mAP']:.1%}"
    line = f"micro F1 {metrics['micro_f1']:.1%}   macro F1 {metrics['macro_f1']:.1%}   mAP {ap}"
    line += f"   all labels right {metrics['subset_accuracy']:.1%}   images {metrics['images']}"
    if tta:
        alone = metrics["without_tta"]
        line += f"   (with TTA; without: micro F1 {alone['micro_f1']:.1%})"
    print(line)
    table(
        [[n, f"{c['precision']:.3f}", f"{c['recall']:.3f}", f"{c['f1']:.3f}",
          "–" if c["ap"] is None else f"{c['ap']:.3f}", f"{c['threshold']:.2f}", str(c["support"])]
         for n, c in metrics["per_label"].items()],
        ["LABEL", "PRECISION", "RECALL", "F1", "AP", "THRESHOLD", "IMAGES"],
    )  # fmt: skip


def _single_label(metrics: dict[str, Any], tta: bool) -> None:
    line = f"accuracy {metrics['accuracy']:.1%}   loss {metrics['loss']:.3f}   images {metrics['images']}"
    if tta:
        alone = metrics["without_tta"]
        line += f"   (with TTA; without: accuracy {alone['accuracy']:.1%}, loss {alone['loss']:.3f})"
    print(line)
    table(
        [[n, f"{c['precision']:.3f}", f"{c['recall']:.3f}", f"{c['f1']:.3f}", str(c["support"])]
         for n, c in metrics["per_class"].items()],
        ["CLASS", "PRECISION", "RECALL", "F1", "IMAGES"],
    )  # fmt: skip
