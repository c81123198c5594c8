"""The ``transferkit`` command line: one module per command, each with ``add_parser(commands)`` and ``run(args)``.

To add a command, write ``cli/<name>.py`` with those two functions and list it in :data:`COMMANDS`.
Parsing imports nothing heavy: ``--help``, ``--version`` and ``models`` answer without importing Keras or
torch, and each command imports what it needs in ``run``. Every ``TRANSFERKIT_*`` variable is checked before
a command runs. A :class:`TransferkitError` (a user's mistake or a missing resource) is printed as one line on
stderr with a non-zero exit, warnings as ``warning: ...`` lines; ``--debug`` shows tracebacks and Python's
own warnings.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from .. import config
from .._version import __version__
from ..errors import TransferkitError
from . import doctor, evaluate, explain, export, models, predict, serve, train, weights
from ._output import error, plain_warnings

#: The commands, in the order ``--help`` lists them.
COMMANDS = (predict, models, weights, train, evaluate, export, explain, serve, doctor)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="transferkit",
        description="Pretrained image models on Keras 3: predict, fine-tune, evaluate.",
    )
    parser.add_argument("--version", action="version", version=f"transferkit {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks for errors")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in COMMANDS:
        command.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # as given: `train --nproc` passes it on
    if args.command is None:
        parser.print_help()
        return 2
    try:
        config.check()
        if args.debug:
            return int(args.run(args) or 0)
        with plain_warnings():
            return int(args.run(args) or 0)
    except TransferkitError as exc:
        if args.debug:
            raise
        if not getattr(exc, "shared", False) or os.environ.get("RANK", "0") == "0":  # once for all processes
            error(str(exc))
        return exc.exit_code
    except KeyboardInterrupt:
        error("interrupted")
        return 130
    except BrokenPipeError:  # output piped into `head` and the like: not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
