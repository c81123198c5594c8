"""The ``transferkit`` command line.

Parsing imports nothing heavy: ``--help`` and ``--version`` answer without importing Keras or torch,
and each command imports what it needs when it runs. A :class:`TransferkitError` (a user's mistake or a
missing resource) is printed as one line on stderr with a non-zero exit; ``--debug`` shows the traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

from ._version import __version__
from .errors import TransferkitError

DEFAULT_MODEL = "efficientnet_lite0"


def _error(message: str) -> None:
    print(f"transferkit: error: {message}", file=sys.stderr)


def cmd_predict(args: argparse.Namespace) -> int:
    from . import images, inference
    from .pretrained import load_pretrained

    model = load_pretrained(args.model)
    size, crop_pct = inference.input_spec(model)
    batch, kept, errors = images.load_many(args.images, size, crop_pct)
    for exc in errors:
        _error(str(exc))
    probs = inference.probabilities(model, batch)
    results = inference.top_k(probs, inference.class_names(model, probs.shape[-1]), args.top) if len(kept) else []
    rows = [(args.images[i], preds) for i, preds in zip(kept, results)]
    if args.json:
        payload = [{"image": path, "predictions": [p._asdict() for p in preds]} for path, preds in rows]
        print(json.dumps(payload, indent=2))
    else:
        for path, preds in rows:
            print(path)
            width = max(len(p.label) for p in preds)
            for rank, p in enumerate(preds, 1):
                print(f"  {rank}. {p.label:<{width}}  {p.probability:7.2%}  (class {p.class_index})")
    return 1 if errors else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="transferkit",
        description="Pretrained image models on Keras 3: predict, fine-tune, evaluate.",
    )
    parser.add_argument("--version", action="version", version=f"transferkit {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks for errors")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = commands.add_parser("predict", help="classify images with a pretrained model")
    p.add_argument("images", nargs="+", metavar="IMAGE", help="image files (JPEG, PNG, BMP, GIF, WebP, TIFF)")
    p.add_argument("--model", default=DEFAULT_MODEL, help=f"model name (default: {DEFAULT_MODEL})")
    p.add_argument("--top", type=int, default=5, help="how many classes to show per image (default: 5)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=cmd_predict)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        result: Any = args.func(args)
        return int(result or 0)
    except TransferkitError as exc:
        if args.debug:
            raise
        _error(str(exc))
        return exc.exit_code
    except KeyboardInterrupt:
        _error("interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
