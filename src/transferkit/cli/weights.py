"""``transferkit weights fetch|import|list|verify``: the weights cache by model name (never imports Keras)."""

from __future__ import annotations

import argparse
from typing import Any

from ._output import megabytes, table


def add_parser(commands: Any) -> None:
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
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from .. import config
    from ..zoo import cache

    if args.action == "fetch":
        for name in args.names:
            print(cache.fetch_model(name, include_top=not args.notop))
        return 0
    if args.action == "import":
        print(cache.import_file(args.name, args.file))
        return 0
    verifying = args.action == "verify"
    rows = cache.verify_cache(remove=args.remove) if verifying else cache.cached_files()
    if not verifying and not args.all:
        rows = [r for r in rows if r.present]
    state = {True: "ok", False: "DAMAGED", None: ""}
    table(
        [[r.model, r.filename, megabytes(r.size), state[r.valid] if verifying else r.source] for r in rows],
        ["MODEL", "FILE", "SIZE", "STATE" if verifying else "SOURCE"],
    )
    if not rows:
        print(f"(no weights files in {config.cache_dir()})")
    return 1 if any(r.valid is False for r in rows) else 0
