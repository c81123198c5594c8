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
        "--model",
        default=DEFAULT_MODEL,
        help=f"model name, a saved .keras file, or an exported .onnx file (without Keras) (default: {DEFAULT_MODEL})",
    )
    p.add_argument("--top", type=int, default=5, help="how many classes to show per image (default: 5)")
    p.add_argument("--tta", action="store_true", help="average each image's prediction with its mirror image's")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    rows, errors = _onnx(args) if args.model.endswith(".onnx") else _keras(args)
    for exc in errors:
        error(str(exc))
    if args.json:
        payload = [{"image": path, "predictions": preds} for path, preds in rows]
        print(json.dumps(payload, indent=2))
    else:
        for path, preds in rows:
            print(path)
            width = max(len(p["label"]) for p in preds)
            for rank, p in enumerate(preds, 1):
                print(f"  {rank}. {p['label']:<{width}}  {p['probability']:7.2%}  (class {p['class_index']})")
    return 1 if errors else 0


def _keras(args: argparse.Namespace) -> tuple[list[tuple[str, list[dict[str, Any]]]], list[Exception]]:
    from ..inference import load_model, predict_all

    results = predict_all(load_model(args.model), args.images, args.top, tta=args.tta)
    rows = [(args.images[i], [p._asdict() for p in preds]) for i, preds in zip(results.kept, results.predictions)]
    return rows, list(results.errors)


def _onnx(args: argparse.Namespace) -> tuple[list[tuple[str, list[dict[str, Any]]]], list[Exception]]:
    """An exported model through onnxruntime: neither Keras nor torch is imported."""
    from ..errors import ImageError
    from ..runtime import OnnxClassifier

    model = OnnxClassifier(args.model)
    kept: list[str] = []
    pixels = []
    errors: list[Exception] = []
    for path in args.images:
        try:
            pixels.append(model.load_image(path))
            kept.append(path)
        except ImageError as exc:
            errors.append(exc)
    found = model.predict(pixels, top=args.top, tta=args.tta) if pixels else []
    rows = [(path, [{"label": label, "class_index": i, "probability": p} for label, i, p in preds])
            for path, preds in zip(kept, found)]  # fmt: skip
    return rows, errors
