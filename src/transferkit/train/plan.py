"""What a training run will cost, measured before it starts: a few timed batches, then the plan.

The plan is shown up front (:meth:`Progress.plan <transferkit.train.progress.Progress.plan>`) and decides
how many phase-two epochs a time budget affords: caching and the head fit always run (they give the model);
phase two gets what is left, and none when not even one epoch fits -- which the plan says.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np

from .._compat import fused_adam
from .progress import Step, clock


@dataclass
class Costs:
    """Measured seconds per image: the frozen part's forward pass and a training step of the trainable part."""

    forward: float
    train_step: float


def measure(bottom: Any, dataset: Any, trainable: Any | None, *, cached_input: bool, loss: Any) -> Costs:
    """Time ``bottom`` on half of the first batch (decoding overlaps it in the cache pass), after a warm-up on a
    few images, and,
    when ``trainable`` is given, a training step of it (after a warm-up step) on that half -- fed the cached
    output when ``cached_input``, else the images. ``trainable``'s weights are put back afterwards; its
    compiled state is replaced by the caller. About two seconds for EfficientNet-Lite0 on 2 cores."""
    x, y = dataset[0][:2]
    x, y = np.asarray(x[: max(1, len(x) // 2)], np.float32), np.asarray(y[: max(1, len(x) // 2)])
    bottom(x[:2], training=False)
    start = time.perf_counter()
    out = np.asarray(keras.ops.convert_to_numpy(bottom(x, training=False)), np.float32)
    forward = (time.perf_counter() - start) / len(out)
    step = 0.0
    if trainable is not None:
        inputs = out if cached_input else x
        saved = trainable.get_weights()
        trainable.compile(optimizer=fused_adam.adam(1e-6), loss=loss)
        trainable.train_on_batch(inputs, y)
        start = time.perf_counter()
        trainable.train_on_batch(inputs, y)
        step = (time.perf_counter() - start) / len(out) + (0.0 if cached_input else _decode_seconds(dataset))
        # without the cache, fit decodes every image of every epoch
        trainable.set_weights(saved)
    return Costs(forward, step)


def _decode_seconds(dataset: Any) -> float:
    """Seconds per image of reading a batch (decoding, resizing), measured on a second batch."""
    start = time.perf_counter()
    batch = dataset[1 % len(dataset)]
    return (time.perf_counter() - start) / max(1, len(batch[0]))


def head_seconds(samples: int, dim: int, classes: int, grid: int) -> float:
    """A rough figure for the logistic-regression head: L-BFGS iterations over the feature matrix per ``C``."""
    return 0.5 + grid * samples * dim * classes * 2e-8


def fine_tune_epochs(wanted: int, epoch_seconds: float, budget_left: float | None) -> tuple[int, str | None]:
    """How many phase-two epochs fit in ``budget_left`` seconds (all ``wanted`` without a budget), and why
    phase two is skipped when none does."""
    if wanted <= 0:
        return 0, "0 fine-tuning epochs asked for"
    if budget_left is None:
        return wanted, None
    afford = int(max(0.0, budget_left) // max(epoch_seconds, 1e-9))
    if afford < 1:
        return 0, (
            f"one epoch needs ~{clock(epoch_seconds)} and the budget leaves {clock(max(0.0, budget_left))}: "
            "raise --time-budget to fine-tune"
        )
    return min(wanted, afford), None


def steps(
    *, images: int, forward: float, head: float, epochs: int, epoch_seconds: float, label: str, skipped: str | None
) -> list[Step]:
    """The plan's steps, in order, with their estimates."""
    return [
        Step("cache", f"caching features: {images:,} images", images * forward),
        Step("head", "head (logistic regression)", head),
        Step("fine_tune", f"{label}: {epochs} epoch{'s' * (epochs != 1)}", epochs * epoch_seconds, skipped),
    ]
