"""``transferkit evaluate MODEL DATA_DIR``: a saved classifier's or an ONNX export's metrics on a labelled folder."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from ._output import table


def add_parser(commands: Any) -> None:
    p = commands.add_parser("evaluate", help="evaluate a saved classifier on a labelled folder")
    p.add_argument("model", metavar="MODEL", help="a .keras file saved by transferkit, or an exported .onnx file")
    p.add_argument("data_dir", metavar="DATA_DIR")
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
    line = f"accuracy {metrics['accuracy']:.1%}   loss {metrics['loss']:.3f}   images {metrics['images']}"
    if args.tta:
        alone = metrics["without_tta"]
        line += f"   (with TTA; without: accuracy {alone['accuracy']:.1%}, loss {alone['loss']:.3f})"
    print(line)
    table(
        [[n, f"{c['precision']:.3f}", f"{c['recall']:.3f}", f"{c['f1']:.3f}", str(c["support"])]
         for n, c in metrics["per_class"].items()],
        ["CLASS", "PRECISION", "RECALL", "F1", "IMAGES"],
    )  # fmt: skip
    for path, reason in metrics["skipped_files"]:
        print(f"warning: skipped {path}: {reason}", file=sys.stderr)
    return 0
