"""Micro-batching: the images of concurrent requests go through the model together, on one thread.

A model call on a batch of 16 costs far less than 16 calls on one image (the per-call overhead and the
matrix shapes favour batches), so under load the server waits up to ``max_wait`` after an image arrives for
others to join it, up to ``max_batch``; with no load the wait is the only cost. While the model runs, new
images queue and form the next batch. Everything that touches the model (predictions and Grad-CAM jobs)
runs on this one thread, so the model is never called from two threads at once and the CPU is not
oversubscribed. The sizes of the batches run are counted for ``/health``.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

import numpy as np

Run = Callable[[np.ndarray, bool], Sequence[Any]]  # (pixels, tta) -> one result per image


@dataclass
class _Item:
    future: Future[Any]
    pixels: np.ndarray | None = None
    tta: bool = False
    job: Callable[[], Any] | None = None


@dataclass
class Stats:
    """What the batcher has done: batches run, images in them, and how many batches had each size."""

    batches: int = 0
    images: int = 0
    jobs: int = 0
    sizes: Counter[int] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, Any]:
        sizes = dict(sorted(self.sizes.items()))
        return {
            "batches": self.batches,
            "images": self.images,
            "explanations": self.jobs,
            "largest": max(sizes, default=0),
            "sizes": {str(k): v for k, v in sizes.items()},
        }


_STOP = object()


class Batcher:
    """Runs ``run(pixels, tta) -> a result per image`` on batches gathered from :meth:`submit`, on its own thread."""

    def __init__(self, run: Run, max_batch: int = 32, max_wait_s: float = 0.01) -> None:
        self.run, self.max_batch, self.max_wait_s = run, max(1, max_batch), max(0.0, max_wait_s)
        self.stats = Stats()
        self._queue: queue.Queue[Any] = queue.Queue()
        self._thread = threading.Thread(target=self._loop, name="transferkit-batcher", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def close(self, timeout: float = 10.0) -> None:
        self._queue.put(_STOP)
        self._thread.join(timeout)

    def submit(self, pixels: np.ndarray, tta: bool = False) -> Future[Any]:
        """One image's ``(height, width, 3)`` pixels; the future's result is its row of ``run``'s answer."""
        future: Future[Any] = Future()
        self._queue.put(_Item(future, pixels, tta))
        return future

    def call(self, job: Callable[[], Any]) -> Future[Any]:
        """``job()`` on the model's thread, between batches (Grad-CAM uses the model too)."""
        future: Future[Any] = Future()
        self._queue.put(_Item(future, job=job))
        return future

    def _loop(self) -> None:
        while True:
            first = self._queue.get()
            if first is _STOP:
                return
            if first.job is not None:
                self._call(first)
                continue
            batch, jobs, stop = self._gather(first)
            self._run(batch)
            for item in jobs:
                self._call(item)
            if stop:
                return

    def _gather(self, first: _Item) -> tuple[list[_Item], list[_Item], bool]:
        """``first`` and the images that arrive within ``max_wait`` of it (all those already queued, at least)."""
        batch: list[_Item] = [first]
        jobs: list[_Item] = []
        deadline = time.monotonic() + self.max_wait_s
        while len(batch) < self.max_batch:
            left = deadline - time.monotonic()
            try:
                item = self._queue.get(timeout=left) if left > 0 else self._queue.get_nowait()
            except queue.Empty:
                break
            if item is _STOP:
                return batch, jobs, True
            (jobs if item.job is not None else batch).append(item)
        return batch, jobs, False

    def _run(self, items: list[_Item]) -> None:
        live = [item for item in items if item.future.set_running_or_notify_cancel()]  # skip timed-out requests
        for tta in (False, True):
            group = [item for item in live if item.tta == tta]
            if not group:
                continue
            try:
                probs = self.run(np.stack([item.pixels for item in group if item.pixels is not None]), tta)
            except Exception as exc:  # the requests fail, the thread lives on
                for item in group:
                    item.future.set_exception(exc)
                continue
            self.stats.batches += 1
            self.stats.images += len(group)
            self.stats.sizes[len(group)] += 1
            for item, row in zip(group, probs):
                item.future.set_result(row)

    def _call(self, item: _Item) -> None:
        if not item.future.set_running_or_notify_cancel():
            return
        assert item.job is not None
        try:
            item.future.set_result(item.job())
        except Exception as exc:
            item.future.set_exception(exc)
        self.stats.jobs += 1
