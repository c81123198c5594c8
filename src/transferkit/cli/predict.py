"""``transferkit predict IMAGE...``: top classes of each image, as a table or JSON."""

from __future__ import annotations

import argparse
import json
from typing import Any

from ._output import error

DEFAULT_MODEL = "efficientnet_lite0"


def add_parser(commands: Any) -> None:
    p = commands.add_parser("predict", help="classify images with a pretrained model")
    p.add_argument("images", nargs="+", metavar="IMAGE", help="image files (JPEG, PNG, BMP, GIF, WebP, TIFF)")
    p.add_argument(
        "--model", default=DEFAULT_MODEL, help=f"model name or a saved .keras file (default: {DEFAULT_MODEL})"
    )
    p.add_argument("--top", type=int, default=5, help="how many classes to show per image (default: 5)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..inference import load_model, predict_all

    results = predict_all(load_model(args.model), args.images, args.top)
    for exc in results.errors:
        error(str(exc))
    rows = [(args.images[i], preds) for i, preds in zip(results.kept, results.predictions)]
    if args.json:
        payload = [{"image": path, "predictions": [p._asdict() for p in preds]} for path, preds in rows]
        print(json.dumps(payload, indent=2))
    else:
        for path, preds in rows:
            print(path)
            width = max(len(p.label) for p in preds)
            for rank, p in enumerate(preds, 1):
                print(f"  {rank}. {p.label:<{width}}  {p.probability:7.2%}  (class {p.class_index})")
    return 1 if results.errors else 0
