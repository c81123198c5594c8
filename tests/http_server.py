"""A real HTTP server on 127.0.0.1 for download tests: serves real bytes, or misbehaves on purpose.

Each route has a behaviour: ``ok``, ``truncate`` (announces the full length, sends half, closes),
``stall`` (says nothing), ``stall_body`` (headers and a first chunk, then nothing) and ``slow`` (the body
spread over ``seconds``). Unknown paths get a real 404. Every request's path is recorded.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Literal

Behaviour = Literal["ok", "truncate", "stall", "stall_body", "slow"]


@dataclass(frozen=True)
class Route:
    body: bytes
    behaviour: Behaviour = "ok"
    seconds: float = 1.0


class LoopbackServer:
    """``with LoopbackServer() as server: server.route("/a.h5", data); urlopen(server.url("/a.h5"))``."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[str] = []
        self.release = threading.Event()  # frees stalled handlers when the server stops
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)

    def route(self, path: str, body: bytes, behaviour: Behaviour = "ok", seconds: float = 1.0) -> str:
        """Serve ``body`` at ``path``; returns its URL."""
        self.routes[path] = Route(body, behaviour, seconds)
        return self.url(path)

    def url(self, path: str) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}{path}"

    def count(self, path: str) -> int:
        with self._lock:
            return self.requests.count(path)

    def __enter__(self) -> LoopbackServer:
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.release.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:  # keep test output clean
                pass

            def do_GET(self) -> None:
                with server._lock:
                    server.requests.append(self.path)
                route = server.routes.get(self.path)
                if route is None:
                    self.send_error(404, "Not Found")
                    return
                if route.behaviour == "stall":
                    server.release.wait(30)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(route.body)))
                self.end_headers()
                self._body(route)

            def _body(self, route: Route) -> None:
                half = len(route.body) // 2
                if route.behaviour == "ok":
                    self.wfile.write(route.body)
                elif route.behaviour == "truncate":
                    self.wfile.write(route.body[:half])
                    self.close_connection = True
                elif route.behaviour == "stall_body":
                    self.wfile.write(route.body[:half])
                    self.wfile.flush()
                    server.release.wait(30)
                else:  # slow
                    pieces = 20
                    step = -(-len(route.body) // pieces)
                    for start in range(0, len(route.body), step):
                        self.wfile.write(route.body[start : start + step])
                        self.wfile.flush()
                        time.sleep(route.seconds / pieces)

        return Handler
