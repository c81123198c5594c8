"""Running the app under uvicorn: one process, or ``workers`` processes sharing the port.

With one worker the model is loaded here, before the port is opened, so a bad model name is one error line
and no server. With several, each worker process loads its own copy (uvicorn spawns them; the settings
travel as the app factory's argument) and batches its own requests; the model is checked here first.
"""

from __future__ import annotations

import functools
import os

from .app import Settings, create_app
from .predictor import load_predictor


def serve(settings: Settings) -> int:
    """Serve until interrupted; 0 after a clean shutdown, 1 if the server could not start (port taken ...)."""
    import uvicorn

    options = {
        "host": settings.host,
        "port": settings.port,
        "access_log": False,  # the Guard writes one structured line per request instead
        "timeout_graceful_shutdown": 5,
        "log_level": "info",
    }
    if settings.workers == 1:
        config = uvicorn.Config(create_app(settings), **options)  # type: ignore[arg-type]
        server = uvicorn.Server(config)
        server.run()
        return 0 if server.started else 1

    from uvicorn.supervisors import Multiprocess

    _check(settings.model)
    # each worker's torch or onnxruntime would otherwise use every core, oversubscribing them N times
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // settings.workers)))
    factory = functools.partial(create_app, settings)
    config = uvicorn.Config(factory, factory=True, workers=settings.workers, timeout_worker_healthcheck=60, **options)  # type: ignore[arg-type]
    Multiprocess(config, sockets=[config.bind_socket()]).run()
    return 0


def _check(model: str) -> None:
    """The one-line error a worker would hit, raised here instead (without loading the model)."""
    if model.endswith(".onnx"):
        load_predictor(model)  # cheap: onnxruntime opens the file in a fraction of a second
    elif model.endswith(".keras") or os.sep in model or os.path.isfile(model):
        from ..errors import ModelFileError

        if not os.path.isfile(model):
            raise ModelFileError(f"Model file '{model}' does not exist.")
    else:
        from ..zoo import registry

        registry.get(model)
