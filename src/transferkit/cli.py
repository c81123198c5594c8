"""The ``transferkit`` command line.

Parsing imports nothing heavy: ``--help`` and ``--version`` answer without importing Keras or torch,
and each command imports what it needs when it runs. A :class:`TransferkitError` (a user's mistake or a
missing resource) is printed as one line on stderr with a non-zero exit; ``--debug`` shows the traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import Any

from ._version import __version__
from .errors import TransferkitError

DEFAULT_MODEL = "efficientnet_lite0"


def _error(message: str) -> None:
    print(f"transferkit: error: {message}", file=sys.stderr)


def _load_model(name_or_path: str) -> tuple[Any, list[str] | None]:
    """A saved classifier (a ``.keras`` file) with its class names, or a zoo model by name."""
    if name_or_path.endswith(".keras") or os.sep in name_or_path or os.path.isfile(name_or_path):
        from .artifact import load_classifier

        classifier = load_classifier(name_or_path)
        return classifier.model, classifier.class_names
    from .pretrained import load_pretrained

    return load_pretrained(name_or_path), None


def cmd_predict(args: argparse.Namespace) -> int:
    from . import images, inference

    model, names = _load_model(args.model)
    size, crop_pct = inference.input_spec(model)
    batch, kept, errors = images.load_many(args.images, size, crop_pct)
    for exc in errors:
        _error(str(exc))
    probs = inference.probabilities(model, batch)
    results = inference.top_k(probs, names or inference.class_names(model, probs.shape[-1]), args.top) if kept else []
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


def cmd_train(args: argparse.Namespace) -> int:
    from .runs import TrainSettings, train

    settings = TrainSettings(
        data_dir=args.data_dir, out=args.out, model=args.model, epochs=args.epochs,
        fine_tune_epochs=args.fine_tune_epochs, image_size=args.image_size, batch_size=args.batch_size,
        val_split=args.val_split, val_dir=args.val_dir, seed=args.seed, cache_features=args.cache_features,
        augment=[a.strip() for a in args.augment.split(",") if a.strip()] if args.augment != "none" else [],
    )  # fmt: skip
    metrics = train(settings, resume=args.resume, overwrite=args.overwrite)
    print(
        f"\nvalidation accuracy {metrics['val_accuracy']:.1%} (loss {metrics['val_loss']:.3f}) on "
        f"{sum(c['support'] for c in metrics['per_class'].values())} images; "
        f"{len(metrics['skipped_files'])} file(s) skipped"
    )
    print(f"model: {args.out}/model.keras   report: {args.out}/report.html")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from .runs import evaluate

    metrics = evaluate(args.model, args.data_dir, batch_size=args.batch_size)
    if args.json:
        print(json.dumps(metrics, indent=2))
        return 0
    print(f"accuracy {metrics['accuracy']:.1%}   loss {metrics['loss']:.3f}   images {metrics['images']}")
    _table(
        [[n, f"{c['precision']:.3f}", f"{c['recall']:.3f}", f"{c['f1']:.3f}", str(c["support"])]
         for n, c in metrics["per_class"].items()],
        ["CLASS", "PRECISION", "RECALL", "F1", "IMAGES"],
    )  # fmt: skip
    for path, reason in metrics["skipped_files"]:
        print(f"skipped {path}: {reason}", file=sys.stderr)
    return 0


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

    p = commands.add_parser(
        "train",
        help="fine-tune a pretrained model on a folder of class sub-folders",
        description="Fine-tune a pretrained model on DATA_DIR/<class>/*.jpg. Phase one trains a new head on cached "
        "backbone features (seconds per epoch); phase two fine-tunes the top 30% of the backbone at a tenth of the "
        "learning rate. The run folder gets model.keras, metrics.json, history.csv, plots and report.html.",
    )
    p.add_argument("data_dir", metavar="DATA_DIR")
    p.add_argument("--out", required=True, metavar="RUN_DIR", help="the run folder")
    p.add_argument("--model", default=DEFAULT_MODEL, help=f"backbone name (default: {DEFAULT_MODEL})")
    p.add_argument("--epochs", type=int, default=10, help="head epochs, backbone frozen (default: 10)")
    p.add_argument("--fine-tune-epochs", type=int, default=2, help="phase-two epochs; 0 skips it (default: 2)")
    p.add_argument("--image-size", type=int, default=None, help="input size (default: the model's own)")
    p.add_argument("--batch-size", type=int, default=32)
    split = p.add_mutually_exclusive_group()
    split.add_argument("--val-split", type=float, default=0.2, help="validation fraction (default: 0.2)")
    split.add_argument("--val-dir", default=None, help="a separate validation folder with the same classes")
    p.add_argument("--augment", default="flip,rotate,zoom", help="comma-separated augmentations, or 'none'")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--cache-features", action=argparse.BooleanOptionalAction, default=True,
                   help="train the head on cached backbone features (default: on)")  # fmt: skip
    p.add_argument("--resume", action="store_true", help="continue an interrupted run in RUN_DIR")
    p.add_argument("--overwrite", action="store_true", help="replace a finished run in RUN_DIR")
    p.set_defaults(func=cmd_train)

    p = commands.add_parser("evaluate", help="evaluate a saved classifier on a labelled folder")
    p.add_argument("model", metavar="MODEL", help="a .keras file saved by transferkit")
    p.add_argument("data_dir", metavar="DATA_DIR")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=cmd_evaluate)
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
    except BrokenPipeError:  # output piped into `head` and the like: not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
