"""Serving under load: concurrent single-image clients against ``transferkit serve``, and the same model's
offline batch-32 prediction, in one run.

On 32 camera-sized (640x480) JPEGs made from photos that scikit-image and scikit-learn ship
(:func:`bench.bench_data.make_folder`), one run measures:

- offline: ``transferkit.predict`` on 32 files at a time (decode, fit, one batch-32 model call) and the
  model call alone on a ready batch of 32, in this process, before the server starts;
- served: ``transferkit serve MODEL`` in a subprocess on loopback, one client, then ``--clients`` clients,
  each posting one JPEG per request (raw body, keep-alive) and waiting for the answer, for ``--seconds``:
  requests/s, images/s, p50/p99 latency, failures (anything but 200), the batch sizes the server ran, its
  peak RSS.

Offline and served phases take turns, ``--rounds`` times, and the medians are compared, so that a busy
spell of a shared machine does not favour one side.

Goal (issue 12): with 16 clients, images/s at least 70% of offline batch-32 ``predict``. Both sides decode
and fit every image; the server also parses HTTP and batches across requests. The last line is the ratio.
On a shared machine other processes take CPU too: the load average is printed beside the figures.
Usage: ``python -m bench serve`` or ``python -m bench.bench_serve --clients 16 --rounds 3 --seconds 10``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("KERAS_BACKEND", "torch")

BATCH = 32


class Offline:
    """``transferkit.predict`` on batches of 32 files, and the model call alone on a ready batch, in this process."""

    def __init__(self, model_name: str, files: list[Path]) -> None:
        import transferkit
        from transferkit.data import images
        from transferkit.inference import load_model
        from transferkit.inference.predict import probabilities
        from transferkit.models.preprocess import input_spec

        model = load_model(model_name)
        batch = files[:BATCH]
        size, crop_pct = input_spec(model)
        pixels = np.stack([images.load(f, size, crop_pct) for f in batch])
        self.predict = lambda: transferkit.predict(model, batch)
        self.model_alone = lambda: probabilities(model, pixels)
        self.predict()  # warm-up

    def rates(self, seconds: float) -> tuple[float, float]:
        """Images/s of each, ``seconds`` each."""
        return _rate(self.predict, seconds), _rate(self.model_alone, seconds)


def _rate(step: Any, seconds: float) -> float:
    start, images = time.perf_counter(), 0
    while time.perf_counter() - start < seconds or images == 0:
        step()
        images += BATCH
    return images / (time.perf_counter() - start)


class Load:
    """``clients`` threads posting one image per request for ``seconds``; latencies and failures."""

    def __init__(self, port: int, bodies: list[bytes], clients: int, seconds: float) -> None:
        self.port, self.bodies, self.clients, self.seconds = port, bodies, clients, seconds
        self.latencies: list[float] = []
        self.failures: list[str] = []
        self.lock = threading.Lock()

    def run(self) -> dict[str, float]:
        stop = time.perf_counter() + self.seconds
        threads = [threading.Thread(target=self._client, args=(i, stop)) for i in range(self.clients)]
        start = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall = time.perf_counter() - start
        ms = np.array(self.latencies) * 1000
        return {
            "requests/s": len(ms) / wall,
            "images/s": len(ms) / wall,
            "p50 ms": float(np.percentile(ms, 50)) if len(ms) else float("nan"),
            "p99 ms": float(np.percentile(ms, 99)) if len(ms) else float("nan"),
            "failures": len(self.failures),
        }

    def _client(self, index: int, stop: float) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        sent = index
        while time.perf_counter() < stop:
            body = self.bodies[sent % len(self.bodies)]
            sent += 1
            start = time.perf_counter()
            try:
                connection.request("POST", "/predict?top=5", body, {"Content-Type": "image/jpeg"})
                answer = connection.getresponse()
                data = answer.read()
                ok = answer.status == 200 and len(json.loads(data)[0]["predictions"]) == 5
            except (OSError, http.client.HTTPException, ValueError) as exc:
                ok, data = False, repr(exc).encode()
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            with self.lock:
                if ok:
                    self.latencies.append(time.perf_counter() - start)
                else:
                    self.failures.append(data[:200].decode(errors="replace"))
        connection.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _health(port: int) -> dict[str, Any]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=10) as answer:
        health: dict[str, Any] = json.load(answer)
        return health


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def serve(model: str, extra: list[str]) -> tuple[subprocess.Popen[bytes], int]:
    port = _free_port()
    command = [sys.executable, "-m", "transferkit", "serve", model, "--port", str(port), *extra]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            _health(port)
            return server, port
        except OSError:
            if server.poll() is not None:
                raise RuntimeError(f"the server exited with {server.returncode}") from None
            time.sleep(0.2)
    server.terminate()
    raise RuntimeError("the server did not start within 300 s")


def main(argv: list[str] | None = None) -> None:
    from bench.bench_data import make_folder

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="efficientnet_lite0")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3, help="offline, then served, this many times")
    parser.add_argument("--seconds", type=float, default=10.0, help="each phase of a round")
    parser.add_argument("--max-wait-ms", default="10")
    args, _ = parser.parse_known_args(argv)  # `python -m bench serve` leaves its own arguments

    with tempfile.TemporaryDirectory(prefix="transferkit-bench-") as tmp:
        files = sorted(make_folder(Path(tmp), BATCH).rglob("*.jpg"))
        bodies = [f.read_bytes() for f in files]
        load_before = os.getloadavg()[0]
        offline = Offline(args.model, files)
        server, port = serve(args.model, ["--max-wait-ms", args.max_wait_ms])
        try:
            single = Load(port, bodies, 1, args.seconds).run()
            before = _health(port)["batching"]["sizes"]
            # offline and served in turns, so that a busy spell of a shared machine does not favour one side
            rounds = [(offline.rates(args.seconds), Load(port, bodies, args.clients, args.seconds).run())
                      for _ in range(args.rounds)]  # fmt: skip
            after = _health(port)["batching"]["sizes"]
            peak = _peak_rss_mb(server.pid)
        finally:
            server.terminate()
            server.wait(30)
    sizes = {int(k): v - before.get(k, 0) for k, v in after.items() if v > before.get(k, 0)}
    mean_batch = sum(k * v for k, v in sizes.items()) / max(1, sum(sizes.values()))
    predict_rate = statistics.median(r[0][0] for r in rounds)
    model_rate = statistics.median(r[0][1] for r in rounds)
    served = statistics.median(r[1]["images/s"] for r in rounds)
    ratios = [r[1]["images/s"] / r[0][0] for r in rounds]
    failures = single["failures"] + sum(r[1]["failures"] for r in rounds)

    print(f"{args.model}, 640x480 JPEGs, {os.cpu_count()} CPUs, load average {load_before:.1f} before, "
          f"{os.getloadavg()[0]:.1f} after (others share the CPU); medians of {args.rounds} rounds")  # fmt: skip
    print(f"  offline transferkit.predict, batch {BATCH} (decode + model)  {predict_rate:7.1f} img/s "
          f"(rounds: {', '.join(f'{r[0][0]:.1f}' for r in rounds)})")  # fmt: skip
    print(f"  offline model call alone, batch {BATCH}                    {model_rate:7.1f} img/s "
          f"(rounds: {', '.join(f'{r[0][1]:.1f}' for r in rounds)})")  # fmt: skip
    print(f"  {'served':<12} {'req/s':>7} {'img/s':>7} {'p50 ms':>8} {'p99 ms':>8} {'failures':>8}")
    for name, row in [("1 client", single), *((f"{args.clients} clients", r[1]) for r in rounds)]:
        print(f"  {name:<12} {row['requests/s']:7.1f} {row['images/s']:7.1f} {row['p50 ms']:8.0f} "
              f"{row['p99 ms']:8.0f} {row['failures']:8d}")  # fmt: skip
    print(f"  batches under {args.clients} clients: mean {mean_batch:.1f} images, sizes {dict(sorted(sizes.items()))}")
    print(f"  server peak RSS {peak:.0f} MB; served / model call alone {served / model_rate:.2f}; "
          f"served / predict per round {', '.join(f'{r:.2f}' for r in ratios)}")  # fmt: skip
    print(f"{args.clients} clients img/s: batch-32 {predict_rate:.1f}, served {served:.1f}, "
          f"ratio {statistics.median(ratios):.2f} (goal >= 0.70; failures {failures})")  # fmt: skip


if __name__ == "__main__":
    main()
