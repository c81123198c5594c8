"""Keras's own torch convolution path against transferkit's fixes of it (``_compat/keras_fixes.py``).

In one process and on the same models and batches: images per second for prediction and for a fine-tuning
step (top 30% of the backbone trainable) of EfficientNet-Lite0 at 224x224, and for ResNet50 prediction,
switching between Keras's own ``_transpose_spatial_inputs`` and the backport in alternate rounds so both
see the same machine load. Usage: ``python -m bench keras_fixes``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

import numpy as np

os.environ.setdefault("KERAS_BACKEND", "torch")
BATCH, ROUNDS = 32, 3


def _timed(step: Callable[[], Any]) -> float:
    start = time.perf_counter()
    step()
    return BATCH / (time.perf_counter() - start)


def main() -> None:
    from transferkit import ImageClassifier
    from transferkit._compat import keras_fixes as _keras_fixes
    from transferkit._compat.backend import import_keras

    keras = import_keras()
    from keras.src.backend.torch import nn

    if not _keras_fixes.apply(keras):
        print("the fixes are not active (another backend or TRANSFERKIT_KERAS_FIXES=0)")
        return
    fixed = nn._transpose_spatial_inputs, nn.depthwise_conv
    original = _keras_fixes.original_transpose() or fixed[0], _keras_fixes.original_depthwise()
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 255, (BATCH, 224, 224, 3)).astype(np.float32)
    y = np.eye(4, dtype=np.float32)[rng.integers(0, 4, BATCH)]

    lite = ImageClassifier.from_pretrained(classes=["a", "b", "c", "d"], seed=0)
    lite.unfreeze(0.3)
    lite.compile(1e-4)
    resnet = keras.applications.ResNet50(weights=None)
    cases = {
        "EfficientNet-Lite0 predict": lambda: lite.model.predict_on_batch(x),
        "EfficientNet-Lite0 train step": lambda: lite.model.train_on_batch(x, y),
        "ResNet50 predict": lambda: resnet.predict_on_batch(x),
    }
    for step in cases.values():  # warm-up: first calls pick kernels and allocate
        step()
    speeds: dict[str, dict[str, list[float]]] = {name: {"keras": [], "transferkit": []} for name in cases}
    for _ in range(ROUNDS):
        for label, functions in (("keras", original), ("transferkit", fixed)):
            nn._transpose_spatial_inputs, nn.depthwise_conv = functions
            for name, step in cases.items():
                speeds[name][label].append(_timed(step))
    nn._transpose_spatial_inputs, nn.depthwise_conv = fixed

    print(f"torch backend, batch {BATCH} at 224x224, best of {ROUNDS} alternating rounds, {os.cpu_count()} CPU cores")
    print(f"{'':34}{'Keras 3.15 img/s':>18}{'transferkit img/s':>19}{'ratio':>8}")
    for name, by in speeds.items():
        ours, theirs = max(by["transferkit"]), max(by["keras"])
        print(f"{name:34}{theirs:18.1f}{ours:19.1f}{ours / theirs:7.2f}x")


if __name__ == "__main__":
    main()
