"""A real ``transferkit serve`` process on a free loopback port and the requests the tests send it."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

SIZE = 96  # the texture classifier's input size
# importing Keras or torch now fails, in the server and anything it imports
WITHOUT_KERAS = (
    "import sys; sys.modules['keras'] = None; sys.modules['torch'] = None\n"
    "from transferkit.cli import main\n"
    "sys.exit(main(sys.argv[1:]))\n"
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Served:
    """A server process: its URL, what it logged, and requests that return ``(status, headers, body)``."""

    def __init__(self, argv: Sequence[str], log: Path, env: dict[str, str] | None = None, wait: float = 300) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        with open(log, "wb") as err:
            self.process = subprocess.Popen(
                [*argv, "--port", str(self.port)],
                stdout=err,
                stderr=subprocess.STDOUT,
                env={**os.environ, **(env or {})},
            )
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited with {self.process.returncode}:\n{self.logged()[-3000:]}")
            try:
                if self.get("/health")[0] == 200:
                    return
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"the server did not answer within {wait} s:\n{self.logged()[-3000:]}")

    def logged(self) -> str:
        return self.log.read_text(errors="replace")

    def get(self, path: str) -> tuple[int, dict[str, str], bytes]:
        return self.request("GET", path)

    def post(
        self, path: str, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        return self.request("POST", path, body, headers)

    def request(
        self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        request = urllib.request.Request(self.url + path, data=body, method=method, headers=headers or {})
        try:
            with urllib.request.urlopen(request, timeout=120) as answer:
                return answer.status, dict(answer.headers), answer.read()
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), error.read()

    def json(self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None) -> Any:
        status, _, data = self.request(method, path, body, headers)
        assert status == 200, data[:500]
        return json.loads(data)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def multipart(files: Sequence[tuple[str, str, bytes]], boundary: str = "tkboundary") -> tuple[bytes, dict[str, str]]:
    """A ``multipart/form-data`` body of ``(field, file name, bytes)`` parts (an empty name: a text field)."""
    parts = []
    for field, name, data in files:
        disposition = f'form-data; name="{field}"' + (f'; filename="{name}"' if name else "")
        parts.append(f"--{boundary}\r\nContent-Disposition: {disposition}\r\n\r\n".encode() + data + b"\r\n")
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    return body, {"Content-Type": f"multipart/form-data; boundary={boundary}"}
