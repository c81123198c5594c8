"""Streaming a URL into a file with a timeout, a progress bar and a running hash (stdlib ``urllib`` only).

It knows nothing of the registry, the cache or the lock (see :mod:`transferkit.zoo.weights`); every way a
download can fail becomes one :class:`WeightsError` whose message names the URL and ends with ``advice``.
"""

from __future__ import annotations

import hashlib
import sys
import time
from contextlib import redirect_stdout
from pathlib import Path
from typing import IO, Any

from ..errors import WeightsError


def download(url: str, dest: Path, algorithm: str, timeout: float, advice: str) -> str:
    """Write the body of ``url`` to ``dest`` and return its hex digest; a cut-off body is an error.

    ``timeout`` bounds each silence (connecting, or waiting for the next bytes), so a stalled server fails.
    """
    import http.client
    import urllib.error
    import urllib.request

    digest = hashlib.new(algorithm)
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, open(dest, "wb") as out:
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            say(f"Downloading {url}" + (f" ({_size(total)})" if total else ""))
            received = copy(response, out, digest, total)
    except urllib.error.HTTPError as exc:
        raise WeightsError(f"Downloading {url} failed: HTTP {exc.code} {exc.reason}. {advice}") from None
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, TimeoutError):
            raise _timed_out(url, timeout, advice) from None
        raise WeightsError(f"Cannot reach {url}: {exc.reason}. {advice}") from None
    except TimeoutError:
        raise _timed_out(url, timeout, advice) from None
    except http.client.IncompleteRead as exc:
        raise _cut_off(url, len(exc.partial), (exc.expected or 0) + len(exc.partial), advice) from None
    except (OSError, http.client.HTTPException) as exc:
        raise WeightsError(f"Downloading {url} failed: {exc!r}. {advice}") from None
    if total is not None and received < total:
        raise _cut_off(url, received, total, advice)
    return digest.hexdigest()


def _timed_out(url: str, timeout: float, advice: str) -> WeightsError:
    return WeightsError(
        f"Downloading {url} timed out: the server sent nothing for {timeout:g} s "
        f"(TRANSFERKIT_DOWNLOAD_TIMEOUT sets the limit). {advice}"
    )


def _cut_off(url: str, received: int, total: int, advice: str) -> WeightsError:
    return WeightsError(
        f"The download of {url} was cut off after {received:,} of {total:,} bytes; nothing was cached. "
        f"Run the command again. {advice}"
    )


def copy(source: IO[bytes] | Any, out: IO[bytes], digest: Any, total: int | None) -> int:
    """Copy ``source`` to ``out`` in chunks, updating ``digest`` and a progress bar; the bytes copied."""
    progress = _Progress(total)
    received = 0
    while chunk := source.read(1 << 16):
        out.write(chunk)
        digest.update(chunk)
        received += len(chunk)
        progress.update(received)
    progress.done(received)
    return received


class _Progress:
    """Progress on stderr, so a command's stdout (``--json``) stays clean.

    Keras's :class:`~keras.utils.Progbar` when Keras is already loaded; otherwise a plain line, so fetching
    never pays for importing Keras.
    """

    def __init__(self, total: int | None) -> None:
        self.total = total
        self.last = 0.0
        self.bar: Any = None
        if "keras" in sys.modules:
            from keras.utils import Progbar

            self.bar = Progbar(total, unit_name="B")

    def update(self, received: int) -> None:
        now = time.monotonic()
        if now - self.last >= 0.1:  # redrawing per 64 KiB chunk would cost more than the download
            self.last = now
            self._show(received, final=False)

    def done(self, received: int) -> None:
        self._show(received, final=True)

    def _show(self, received: int, final: bool) -> None:
        if self.bar is not None:
            with redirect_stdout(sys.stderr):
                self.bar.update(received, finalize=final)
        elif final or sys.stderr.isatty():
            of = f" of {_size(self.total)}" if self.total else ""
            sys.stderr.write(f"\r  {_size(received)}{of}" + ("\n" if final else ""))
            sys.stderr.flush()


def _size(size: int) -> str:
    return f"{size / 1e6:.1f} MB" if size >= 1e6 else f"{size / 1e3:.0f} kB"


def say(message: str) -> None:
    """A status line on stderr (stdout carries results)."""
    print(message, file=sys.stderr, flush=True)
