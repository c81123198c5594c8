"""``transferkit doctor DATA_DIR``: duplicates, leaks, likely label errors and outliers, and the review page;
``--apply fixes.json`` performs what a person chose on it (a dry run unless ``--yes``)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

DEFAULT_OUT = "doctor"


def add_parser(commands: Any) -> None:
    p = commands.add_parser("doctor", help="find duplicates, leaks, label errors and outliers in an image folder")
    p.add_argument("data_dir", metavar="DATA_DIR", help="one subfolder of images per class")
    p.add_argument("--val-dir", default=None, help="the validation folder, checked for leaks from DATA_DIR")
    p.add_argument("--out", default=DEFAULT_OUT, metavar="DIR",
                   help=f"where doctor.html and doctor.json go (default: ./{DEFAULT_OUT})")  # fmt: skip
    p.add_argument("--json", action="store_true", help="print doctor.json instead of the summary")
    p.add_argument("--image-size", type=int, default=224, help="embedding input size (default: 224)")
    p.add_argument("--apply", metavar="FIXES", default=None, help="perform a fixes.json from doctor.html")
    p.add_argument("--yes", action="store_true", help="with --apply: move the files (without it: a dry run)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.apply:
        return _apply(args)
    from ..doctor.check import diagnose
    from ..doctor.page import write_page

    os.makedirs(args.out, exist_ok=True)
    done = [0]

    def progress(images: int) -> None:  # on a terminal only: a log keeps the summary alone
        done[0] += images
        print(f"\rembedding images: {done[0]}", end="", file=sys.stderr, flush=True)

    cache = os.path.join(args.out, "embeddings.npz")
    shown = progress if sys.stderr.isatty() else None
    diagnosis = diagnose(args.data_dir, args.val_dir, image_size=args.image_size, cache=cache, on_batch=shown)
    if done[0]:
        print(file=sys.stderr)
    payload = diagnosis.as_json()
    with open(os.path.join(args.out, "doctor.json"), "w") as f:
        json.dump(payload, f, indent=2)
    write_page(diagnosis, os.path.join(args.out, "doctor.html"))
    if args.json:
        print(json.dumps(payload, indent=2))
        return 0
    summary = diagnosis.summary
    counts = ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in summary["by_kind"].items() if n)
    print(f"{summary['images']} training, {summary['val_images']} validation images: {counts or 'no findings'}")
    width = max(map(len, summary["verdicts"]), default=0)
    for name, verdict in summary["verdicts"].items():
        print(f"  {name:<{width}}  {verdict}")
    print(f"Review: {os.path.join(args.out, 'doctor.html')} (all findings: doctor.json)")
    return 0


def _apply(args: argparse.Namespace) -> int:
    from ..doctor.fixes import apply_fixes

    roots = [args.data_dir] + ([args.val_dir] if args.val_dir else [])
    moves = apply_fixes(args.apply, roots, dry_run=not args.yes)
    for move in moves:
        if move.target is None:
            print(f"skip   {move.source}: {move.note}")
        else:
            print(f"{'moved' if move.done else 'move '}  {move.source} -> {move.target}")
    pending = sum(m.target is not None for m in moves)
    if not args.yes and pending:
        print(f"Dry run: {pending} file(s) would move; add --yes to move them.")
    elif not pending:
        print("Nothing to do.")
    return 0
