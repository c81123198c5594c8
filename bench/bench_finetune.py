"""Phase two through the partial-backbone cache vs plain Keras ``fit`` of the same partly unfrozen model.

EfficientNet-Lite0 at 224 px with its top 30% unfrozen (transferkit's default), on the same real folder
(texture patches of scikit-image photos, 200 train / 100 validation, unaugmented so both see the same
inputs), from the same head, the same learning-rate schedule and seed, for the same epochs, in one run.
Plain: ``model.fit`` on the images, twice -- as released in a process of its own (:mod:`bench.released`:
what a user without transferkit runs), and in this process, with the fixes transferkit makes to Keras's
convolutions and to the allocator, which speed the plain fit too. transferkit: the frozen bottom runs once
per image (the pass phase one needs anyway for its features), then the top trains on the cached
activations. Prints images/s of the training epochs of each (validation passes included), the one-off cache
pass, and the validation accuracies; the line before last is the partial cache's own share (both sides with
the same fixes), the last the issue's ratio against plain Keras.
"""

from __future__ import annotations

import tempfile
import time
from typing import Any

from bench import folders, released

EPOCHS = 3
SIZE = 224


def _classifier(train: Any) -> Any:
    import keras

    from transferkit import ImageClassifier

    keras.utils.set_random_seed(0)
    clf = ImageClassifier.from_pretrained(classes=train.class_names, seed=0)
    clf.unfreeze(0.3)
    return clf


def _compile(model: Any, train: Any, adam: Any = None) -> None:
    import keras

    from transferkit.models import heads
    from transferkit.train.finetune import _warmup_cosine

    schedule = _warmup_cosine(1e-4, len(train), EPOCHS, 1.0)
    args = heads.compile_args(len(train.class_names), sparse=False)
    model.compile(optimizer=(adam or keras.optimizers.Adam)(schedule), **args)


def plain(train_dir: str, val_dir: str) -> tuple[float, float]:
    """Seconds and final validation accuracy of plain Keras ``fit`` of the partly unfrozen classifier."""
    train, val = folders(train_dir, val_dir, SIZE)
    model = _classifier(train).model
    _compile(model, train)
    start = time.perf_counter()
    history = model.fit(train, validation_data=val, epochs=EPOCHS, verbose=0).history
    return time.perf_counter() - start, history["val_accuracy"][-1]


def main() -> None:
    import numpy as np

    from transferkit._compat import fused_adam
    from transferkit.data.samples import texture_folders
    from transferkit.train import features
    from transferkit.train.partial import split

    with tempfile.TemporaryDirectory() as tmp:
        train_dir, val_dir = texture_folders(tmp, train_per_class=50, val_per_class=25, size=256)
        released_s, released_acc = released.run(plain, train_dir, val_dir)
        plain_s, plain_acc = plain(train_dir, val_dir)

        train, val = folders(train_dir, val_dir, SIZE)
        n = len(train.files)
        parts = split(_classifier(train))
        start = time.perf_counter()
        cache = features.extract(parts.bottom, [train.without_augmentation()], dtype=np.float16)
        val_cache = features.extract(parts.bottom, [val], dtype=np.float16)
        cache_s = time.perf_counter() - start
        _compile(parts.top, train, fused_adam.adam)  # as fine_tune compiles it
        start = time.perf_counter()
        batches, val_batches = (
            features.ViewBatches(cache, 32, seed=0),
            features.ViewBatches(val_cache, 256, shuffle=False),
        )
        history = parts.top.fit(batches, validation_data=val_batches, epochs=EPOCHS, verbose=0).history
        top_s, top_acc = time.perf_counter() - start, history["val_accuracy"][-1]

    released_rate, plain_rate, top_rate = (n * EPOCHS / s for s in (released_s, plain_s, top_s))
    print(f"phase two: EfficientNet-Lite0 at {SIZE}px, top 30% unfrozen (cut at {parts.cut}, {parts.fraction:.0%} of "
          f"the layers below it), {n} train / {len(val.files)} val images, {EPOCHS} epochs")  # fmt: skip
    for label, seconds, rate, accuracy in (
        ("plain Keras fit, Keras and glibc as released", released_s, released_rate, released_acc),
        ("plain Keras fit, with transferkit's fixes", plain_s, plain_rate, plain_acc),
        ("transferkit top only", top_s, top_rate, top_acc),
    ):
        print(f"  {label:46}{seconds:6.1f} s  {rate:6.1f} img/s   val_accuracy {accuracy:.3f}")
    print(f"  one-off cache pass {cache_s:33.1f} s  ({(n + len(val.files)) / cache_s:.1f} img/s, replacing phase "
          f"one's feature pass); with it: {n * EPOCHS / (top_s + cache_s):.1f} img/s")  # fmt: skip
    print(f"the partial cache alone (the same fixes both sides): img/s keras {plain_rate:.1f}, transferkit "
          f"{top_rate:.1f}, ratio {top_rate / plain_rate:.1f}")  # fmt: skip
    ratio = top_rate / released_rate
    print(f"phase-two img/s: keras {released_rate:.1f}, transferkit {top_rate:.1f}, ratio {ratio:.1f}")


if __name__ == "__main__":
    main()
