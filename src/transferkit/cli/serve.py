"""``transferkit serve MODEL``: the model over HTTP, a JSON API and a page to try it (the ``serve`` extra)."""

from __future__ import annotations

import argparse
import warnings
from typing import Any

from ._output import error


def _positive(kind: type) -> Any:
    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            value = 0
        if not value > 0:
            raise argparse.ArgumentTypeError(f"must be a positive number; received '{text}'")
        return value

    return parse


def add_parser(commands: Any) -> None:
    p = commands.add_parser(
        "serve",
        help="serve a model over HTTP: a JSON API and a page to try it in a browser",
        description="Serve MODEL at http://HOST:PORT: POST /predict and /explain, GET /health and /model, API docs "
        "at /docs, a page to try it at /. Concurrent requests are batched. It listens on 127.0.0.1 only: put a "
        "reverse proxy with TLS, authentication and rate limits in front of it before opening it to a network.",
    )
    p.add_argument("model", metavar="MODEL", help="a .keras file, an exported .onnx file (served without Keras), "
                   "or a zoo model name (ImageNet classes)")  # fmt: skip
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1, this machine only)")
    p.add_argument("--port", type=int, default=8000, help="port (default: 8000)")
    p.add_argument("--workers", type=_positive(int), default=1,
                   help="processes, each with its own copy of the model (default: 1)")  # fmt: skip
    p.add_argument("--max-batch", type=_positive(int), default=32, metavar="N",
                   help="most images in one model call (default: 32)")  # fmt: skip
    p.add_argument("--max-wait-ms", type=_positive(float), default=10.0, metavar="MS",
                   help="how long an image waits for others to batch with (default: 10)")  # fmt: skip
    p.add_argument("--max-body-mb", type=_positive(float), default=20.0, metavar="MB",
                   help="largest request body (default: 20)")  # fmt: skip
    p.add_argument("--max-images", type=_positive(int), default=32, metavar="N",
                   help="most images in one request (default: 32)")  # fmt: skip
    p.add_argument("--timeout", type=_positive(float), default=30.0, metavar="SECONDS",
                   help="longest a request may take (default: 30)")  # fmt: skip
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        import fastapi  # noqa: F401
        import python_multipart  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError:
        error("transferkit serve needs the serve extra: pip install 'transferkit[serve]'")
        return 1
    from ..serve import Settings, serve

    if args.host not in ("127.0.0.1", "localhost", "::1"):
        warnings.warn(
            f"listening on {args.host}, beyond this machine, with no TLS, authentication or rate limit: put a "
            "reverse proxy in front (README: Serve it over HTTP)",
            stacklevel=1,
        )

    settings = Settings(
        model=args.model, host=args.host, port=args.port, workers=args.workers, max_batch=args.max_batch,
        max_wait_ms=args.max_wait_ms, max_body_mb=args.max_body_mb, max_images=args.max_images,
        timeout_s=args.timeout,
    )  # fmt: skip
    return serve(settings)
