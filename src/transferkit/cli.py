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


def _table(rows: list[list[str]], header: list[str]) -> None:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(str(cell).ljust(w) for cell, w in zip(row, widths)).rstrip())


def _size(n: int | None) -> str:
    return "-" if n is None else f"{n / 1e6:.1f} MB"


def cmd_models(args: argparse.Namespace) -> int:
    from . import registry

    rows = [registry.describe(spec) for spec in registry.all_specs()]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    _table(
        [
            [
                r["name"],
                ", ".join(r["aliases"]),
                str(r["input_size"]),
                f"{r['params'] / 1e6:.1f}M",
                "-" if r["top1"] is None else f"{r['top1']:.1f}",
                "yes" if r["cached"] else "no",
            ]
            for r in rows
        ],
        ["NAME", "ALIASES", "INPUT", "PARAMS", "TOP-1", "CACHED"],
    )
    return 0


def cmd_weights(args: argparse.Namespace) -> int:
    from . import weights

    if args.action == "fetch":
        for name in args.names:
            print(weights.fetch_model(name, include_top=not args.notop))
        return 0
    if args.action == "import":
        print(weights.import_file(args.name, args.file))
        return 0
    rows = weights.verify_cache(remove=args.remove) if args.action == "verify" else weights.cached_files()
    if args.action == "list" and not args.all:
        rows = [r for r in rows if r.present]
    state = {True: "ok", False: "DAMAGED", None: ""}
    _table(
        [[r.model, r.filename, _size(r.size), state[r.valid] if args.action == "verify" else r.source] for r in rows],
        ["MODEL", "FILE", "SIZE", "STATE" if args.action == "verify" else "SOURCE"],
    )
    if not rows:
        print(f"(no weights files in {weights.cache_dir()})")
    return 1 if any(r.valid is False for r in rows) else 0


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

    p = commands.add_parser("models", help="list the model zoo")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=cmd_models)

    p = commands.add_parser("weights", help="fetch, import, list and verify pretrained weights files")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    a = actions.add_parser("fetch", help="download (or check) the ImageNet weights of models")
    a.add_argument("names", nargs="+", metavar="NAME")
    a.add_argument("--notop", action="store_true", help="the weights without the ImageNet classifier")
    a = actions.add_parser("import", help="place a weights file downloaded elsewhere into the cache (hash-checked)")
    a.add_argument("name", metavar="NAME")
    a.add_argument("file", metavar="FILE")
    a = actions.add_parser("list", help="weights files in the cache")
    a.add_argument("--all", action="store_true", help="also list files not yet downloaded")
    a = actions.add_parser("verify", help="re-check the hash of every cached weights file")
    a.add_argument("--remove", action="store_true", help="delete damaged files so they are fetched again")
    p.set_defaults(func=cmd_weights)
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
