"""The HTTP app: ``POST /predict``, ``POST /explain``, ``GET /health``, ``GET /model``, the page at ``/`` and
the OpenAPI docs at ``/docs``.

Handlers only move bytes: uploads are decoded on a worker thread (:mod:`.predictor`), probabilities come
from the batcher (:mod:`.batcher`), limits and errors are :mod:`.guard`'s. ``/predict`` answers exactly what
``transferkit predict --json`` prints for the same images, so a script can switch between them.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

import numpy as np
from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect

from .._version import __version__
from ..runtime.confidence import answer, label_thresholds, labels_on
from .batcher import Batcher
from .guard import Guard
from .predictor import Predictor, Problem, Upload, load_predictor

STATIC = Path(__file__).parent / "static"
_HOW = (
    "send the picture as the body (curl --data-binary @photo.jpg URL) or as multipart field 'image' "
    "(curl -F image=@photo.jpg URL)"
)


@dataclass(frozen=True)
class Settings:
    """How ``transferkit serve`` runs: the model, where it listens, batching, and the limits on a request."""

    model: str
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    max_batch: int = 32
    max_wait_ms: float = 10.0
    max_body_mb: float = 20.0
    max_images: int = 32
    timeout_s: float = 30.0


def create_app(settings: Settings, predictor: Predictor | None = None) -> FastAPI:
    """The app serving ``predictor`` (loaded from ``settings.model`` when not given), warmed up and ready."""
    _log_to_stderr()
    predictor = predictor or load_predictor(settings.model)
    height, width = predictor.image_size
    predictor.outputs(np.zeros((1, height, width, 3), np.float32), False)  # first calls are slow

    def run(batch: np.ndarray, tta: bool) -> list[tuple[np.ndarray, dict[str, Any] | None]]:
        probs, familiarity = predictor.outputs(batch, tta)
        return [(row, familiarity[k] if familiarity else None) for k, row in enumerate(probs)]

    batcher = Batcher(run, settings.max_batch, settings.max_wait_ms / 1000)
    started = time.time()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        batcher.start()
        yield
        batcher.close()

    app = FastAPI(
        title=f"transferkit: {predictor.name}",
        version=__version__,
        description="Image classification with a transferkit model. Errors are JSON: "
        '`{"status": 413, "error": "body_too_large", "detail": "..."}`.',
        lifespan=lifespan,
    )
    app.add_middleware(Guard, max_body=int(settings.max_body_mb * 1_000_000), timeout_s=settings.timeout_s)
    _handle_errors(app)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    names = predictor.class_names

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    @app.get("/health", summary="Liveness, uptime and the batch sizes the model has run")
    async def health() -> dict[str, Any]:
        return {
            "status": "ok",
            "model": predictor.name,
            "uptime_s": round(time.time() - started, 1),
            "batching": {
                "max_batch": batcher.max_batch,
                "max_wait_ms": settings.max_wait_ms,
                **batcher.stats.as_dict(),
            },
        }

    @app.get("/model", summary="The model: its classes, input size, base model and format")
    async def model() -> dict[str, Any]:
        return {
            "name": predictor.name,
            "format": predictor.format,
            "base_model": predictor.base_model,
            "input_size": list(predictor.image_size),
            "num_classes": len(names),
            "classes": names,
            "multi_label": predictor.multi_label,
            "explain": predictor.can_explain,
            "limits": {k: v for k, v in asdict(settings).items() if k.startswith(("max_", "timeout"))},
        }

    @app.post("/predict", summary="Top classes of each image", openapi_extra=_IMAGE_BODY)
    async def predict(
        request: Request,
        top: int = Query(5, ge=1, le=1000, description="how many classes per image"),
        tta: bool = Query(False, description="average with the mirror image (test-time augmentation)"),
        min_confidence: float | None = Query(
            None, ge=0.0, le=1.0, description="answer 'unsure' when the top probability is below this"
        ),
    ) -> JSONResponse:
        """``[{"image": name, "predictions": [{"label", "class_index", "probability"}, ...]}, ...]``, as
        ``transferkit predict --json`` prints it: one entry per image, in the order sent. With
        ``min_confidence`` (or a model with per-class thresholds) each entry also has ``answer``: the top
        class, or ``unsure`` (``class_index`` null). A model trained by ``transferkit train`` adds
        ``ood_score`` and ``unfamiliar`` (unlike its training images). A multi-label model's entries have
        ``labels``: every label at or above its threshold (``min_confidence`` does not apply)."""
        uploads = await _uploads(request, settings.max_images)
        pixels = await run_in_threadpool(lambda: [predictor.pixels(u) for u in uploads])
        rows = await asyncio.gather(*(asyncio.wrap_future(batcher.submit(p, tta)) for p in pixels))
        if predictor.multi_label and min_confidence is not None:
            raise Problem(400, "not_for_multi_label", "min_confidence does not apply to a multi-label model: each "
                          "label has its own threshold; drop it.")  # fmt: skip
        k = min(top, len(names))
        payload = []
        for upload, (row, familiarity) in zip(uploads, rows):
            best = np.argsort(-row, kind="stable")[:k]
            preds = [{"label": names[i], "class_index": int(i), "probability": float(row[i])} for i in best]
            entry: dict[str, Any] = {"image": upload.name, "predictions": preds, **(familiarity or {})}
            if predictor.multi_label:
                entry["labels"] = labels_on(row, names, label_thresholds(predictor.thresholds, len(names)))
            elif min_confidence is not None or predictor.thresholds is not None:
                entry["answer"] = answer(**preds[0], min_confidence=min_confidence, thresholds=predictor.thresholds)
            payload.append(entry)
        return JSONResponse(payload)

    @app.post("/explain", summary="Grad-CAM: where the model looked, as a PNG overlay", openapi_extra=_IMAGE_BODY)
    async def explain(
        request: Request,
        class_index: int | None = Query(None, ge=0, description="the class to explain (default: the top class)"),
        class_name: str | None = Query(None, alias="class", description="the class to explain, by name"),
        format: Literal["png", "json"] = Query("png", description="png, or json with the PNG in base64"),
    ) -> Response:
        """The image with the Grad-CAM heatmap over it (PNG, at most 640 px a side); the class explained is in
        the ``X-Class-Index``, ``X-Class-Label`` (URL-encoded) and ``X-Probability`` headers, or in the JSON."""
        (upload,) = await _uploads(request, 1)
        index = _class_index(names, class_index, class_name)
        shown = await asyncio.wrap_future(batcher.call(lambda: predictor.explain(upload, index)))
        if format == "json":
            return JSONResponse(
                {
                    "image": upload.name,
                    "class_index": shown.class_index,
                    "label": shown.label,
                    "probability": shown.probability,
                    "png_base64": base64.b64encode(shown.png).decode(),
                }
            )
        headers = {
            "X-Class-Index": str(shown.class_index),
            "X-Class-Label": quote(shown.label),
            "X-Probability": f"{shown.probability:.6f}",
        }
        return Response(shown.png, media_type="image/png", headers=headers)

    return app


async def _uploads(request: Request, max_images: int) -> list[Upload]:
    """The images of a request: multipart fields ``image``/``images``, or the whole body."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    uploads = await (_form(request, max_images) if content_type == "multipart/form-data" else _body(request))
    request.state.images = len(uploads)
    return uploads


async def _body(request: Request) -> list[Upload]:
    data = await request.body()
    if not data:
        raise Problem(400, "empty_body", f"The request has no image: {_HOW}.")
    return [Upload("image", data)]


async def _form(request: Request, max_images: int) -> list[Upload]:
    too_many = f"At most {max_images} image{'s' if max_images > 1 else ''} per request here; send the rest in another."
    try:
        form = await request.form(max_files=max_images, max_fields=max_images + 16)
    except HTTPException as exc:  # Starlette's words for a malformed body or too many parts
        if str(exc.detail).startswith("Too many files"):
            raise Problem(413, "too_many_images", too_many) from None
        raise Problem(400, "bad_multipart", f"The multipart body cannot be read: {exc.detail}") from None
    try:
        values = form.getlist("image") + form.getlist("images")
        if not values:
            fields = ", ".join(f"'{f}'" for f in sorted(set(form.keys())))
            if not fields:
                raise Problem(400, "empty_body", f"The form holds no image: {_HOW}.")
            raise Problem(422, "no_image_field", f"No field named 'image' or 'images' (received {fields}): {_HOW}.")
        if len(values) > max_images:
            raise Problem(413, "too_many_images", too_many)
        uploads = []
        for number, value in enumerate(values, 1):
            if isinstance(value, str):
                raise Problem(
                    422, "not_a_file", f"Image field #{number} is text, not a file: upload the file itself "
                    "(curl -F image=@photo.jpg, with the @).",
                )  # fmt: skip
            uploads.append(Upload(value.filename or f"image{number}", await value.read()))
        return uploads
    finally:
        await form.close()


def _class_index(names: list[str], index: int | None, name: str | None) -> int | None:
    if index is not None and index >= len(names):
        raise Problem(422, "bad_class", f"class_index {index} is out of range: the model has {len(names)} classes.")
    if name is None:
        return index
    if name in names:
        return names.index(name)
    folded = [i for i, known in enumerate(names) if known.casefold() == name.casefold()]
    if len(folded) == 1:
        return folded[0]
    raise Problem(422, "bad_class", f"The model has no class '{name}'; GET /model lists its classes.")


def _handle_errors(app: FastAPI) -> None:
    """Every error as ``{"status", "error", "detail"}`` (FastAPI's own 404, 405 and 422 included)."""

    def problem(status: int, code: str, detail: str) -> JSONResponse:
        return JSONResponse({"status": status, "error": code, "detail": detail}, status_code=status)

    async def on_problem(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, Problem)
        return problem(exc.status, exc.code, exc.detail)

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, HTTPException)
        api = "the API is POST /predict, POST /explain, GET /model and GET /health; /docs describes it"
        if exc.status_code == 404:
            return problem(404, "not_found", f"Nothing at {request.url.path}: {api}.")
        if exc.status_code == 405:
            return problem(405, "method_not_allowed", f"{request.method} is not allowed on {request.url.path}: {api}.")
        return problem(exc.status_code, "http_error", str(exc.detail))

    async def on_invalid(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        said = [
            f"{'.'.join(str(p) for p in e['loc'][1:])}: {e['msg']} (received {e.get('input')!r})" for e in exc.errors()
        ]
        return problem(422, "bad_parameter", "; ".join(said) + ". See /docs for the parameters.")

    async def on_disconnect(request: Request, exc: Exception) -> JSONResponse:
        return problem(400, "client_disconnected", "The client went away before its request had arrived.")

    app.add_exception_handler(Problem, on_problem)
    app.add_exception_handler(ClientDisconnect, on_disconnect)
    app.add_exception_handler(HTTPException, on_http)
    app.add_exception_handler(RequestValidationError, on_invalid)


def _log_to_stderr() -> None:
    """The access log and the server's own messages as plain lines on stderr (uvicorn configures only its own)."""
    logger = logging.getLogger("transferkit.serve")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False


_IMAGE_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {"image": {"type": "array", "items": {"type": "string", "format": "binary"}}},
                }
            },
            "image/*": {"schema": {"type": "string", "format": "binary"}},
        },
    }
}
