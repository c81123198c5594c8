"""``transferkit models``: the model zoo, as a table or JSON (never imports Keras)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from ._output import table


def add_parser(commands: Any) -> None:
    p = commands.add_parser("models", help="list the model zoo")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..zoo import all_specs, describe

    rows = [describe(spec) for spec in all_specs()]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    table(
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
