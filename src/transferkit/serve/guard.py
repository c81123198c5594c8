"""The edge of the server: body-size limit, request timeout, JSON errors and one access-log line per request.

A pure ASGI middleware around the whole app, so that it sees every request (404s and bad multipart
included) and can answer when the app cannot: a body over the limit is refused from its ``Content-Length``
before it is read (413), or as soon as the bytes read pass the limit; a request still running after the
timeout is cancelled and answered 408 (the body had not arrived) or 503 (the model had not answered). Every
error is ``{"status", "error", "detail"}``: a number, a stable code for programs and a sentence for people.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any

from .predictor import Problem

log = logging.getLogger("transferkit.serve")
access_log = logging.getLogger("transferkit.serve.access")

Scope = dict[str, Any]
Message = dict[str, Any]


def problem_body(status: int, code: str, detail: str) -> bytes:
    return json.dumps({"status": status, "error": code, "detail": detail}).encode()


async def send_problem(send: Any, status: int, code: str, detail: str) -> None:
    body = problem_body(status, code, detail)
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if status in (408, 413):
        headers.append((b"connection", b"close"))  # the rest of the body is not read
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class Guard:
    """Limits, timeout, last-resort errors and the access log (see the module doc)."""

    def __init__(self, app: Any, max_body: int, timeout_s: float) -> None:
        self.app, self.max_body, self.timeout_s = app, max_body, timeout_s

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        state = scope.setdefault("state", {})
        sent: dict[str, Any] = {"status": None}
        body = {"read": 0, "complete": False}

        async def guarded_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                sent["status"] = message["status"]
            await send(message)

        async def guarded_receive() -> Message:
            message: Message = await receive()
            if message["type"] == "http.request":
                body["read"] += len(message.get("body", b""))
                body["complete"] = not message.get("more_body", False)
                if body["read"] > self.max_body:
                    raise Problem(413, "body_too_large", self._too_large())
            return message

        try:
            declared = _content_length(scope)
            if declared is not None and declared > self.max_body:
                await send_problem(guarded_send, 413, "body_too_large", self._too_large(declared))
            else:
                await asyncio.wait_for(self.app(scope, guarded_receive, guarded_send), self.timeout_s)
        except asyncio.TimeoutError:
            if sent["status"] is None:
                if body["complete"]:
                    await send_problem(guarded_send, 503, "timeout", f"The model did not answer within "
                                       f"{self.timeout_s:g} s (the server is busy); retry later.")  # fmt: skip
                else:
                    await send_problem(guarded_send, 408, "request_timeout", f"The request body did not arrive "
                                       f"within {self.timeout_s:g} s.")  # fmt: skip
        except Problem as exc:  # raised by guarded_receive where the app does not catch it
            if sent["status"] is None:
                await send_problem(guarded_send, exc.status, exc.code, exc.detail)
        except Exception:
            log.exception("error in %s %s", scope.get("method"), scope.get("path"))
            if sent["status"] is None:
                await send_problem(guarded_send, 500, "internal_error", "The server failed on this request; "
                                   "its log has the details.")  # fmt: skip
        finally:
            client = scope.get("client") or ("", 0)
            record = {
                "method": scope.get("method"),
                "path": scope.get("path"),
                "status": sent["status"],
                "images": state.get("images", 0),
                "ms": round((time.perf_counter() - start) * 1000, 1),
                "client": client[0],
            }
            access_log.info(json.dumps(record))

    def _too_large(self, declared: int | None = None) -> str:
        size = f" ({declared / 1e6:.1f} MB)" if declared is not None else ""
        return f"The request body{size} is over the limit of {self.max_body / 1e6:g} MB; send smaller images."


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
