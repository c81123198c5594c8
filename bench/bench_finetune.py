"""Phase two through the partial-backbone cache vs plain Keras ``fit`` of the same partly unfrozen model.

EfficientNet-Lite0 at 224 px with its top 30% unfrozen (transferkit's default), on the same real folder
(texture patches of scikit-image photos, 200 train / 100 validation, unaugmented so both see the same
inputs), from the same head, the same learning-rate schedule and seed, for the same epochs, in one run.
Plain: ``model.fit`` on the images. transferkit: the frozen bottom runs once per image (the pass phase one
needs anyway for its features), then the top trains on the cached activations. Prints images/s of the
training epochs of each (validation passes included), the one-off cache pass, and both validation
accuracies; the last line is the issue's ratio.
"""

from __future__ import annotations

import tempfile
import time
from typing import Any

EPOCHS = 3
SIZE = 224


def main() -> None:
    import keras
    import numpy as np

    from transferkit import ImageClassifier, data  # first: it chooses the backend Keras is imported with
    from transferkit._compat import fused_adam
    from transferkit.data.samples import texture_folders
    from transferkit.models import heads
    from transferkit.train import features
    from transferkit.train.finetune import _warmup_cosine
    from transferkit.train.partial import split

    with tempfile.TemporaryDirectory() as tmp:
        train_dir, val_dir = texture_folders(tmp, train_per_class=50, val_per_class=25, size=256)
        train = data.image_folder(train_dir, SIZE, batch_size=32, seed=0)
        val = data.image_folder(val_dir, SIZE, batch_size=32, class_names=train.class_names, shuffle=False)
        n = len(train.files)

        def classifier() -> ImageClassifier:
            clf = ImageClassifier.from_pretrained(classes=train.class_names, seed=0)
            clf.unfreeze(0.3)
            return clf

        def compile(model: object, adam: Any = keras.optimizers.Adam) -> None:
            schedule = _warmup_cosine(1e-4, len(train), EPOCHS, 1.0)
            args = heads.compile_args(len(train.class_names), sparse=False)
            model.compile(optimizer=adam(schedule), **args)  # type: ignore[attr-defined]

        keras.utils.set_random_seed(0)
        plain = classifier()
        compile(plain.model)
        start = time.perf_counter()
        history = plain.model.fit(train, validation_data=val, epochs=EPOCHS, verbose=0).history
        plain_s, plain_acc = time.perf_counter() - start, history["val_accuracy"][-1]

        keras.utils.set_random_seed(0)
        cached = classifier()
        parts = split(cached)
        start = time.perf_counter()
        cache = features.extract(parts.bottom, [train.without_augmentation()], dtype=np.float16)
        val_cache = features.extract(parts.bottom, [val], dtype=np.float16)
        cache_s = time.perf_counter() - start
        compile(parts.top, fused_adam.adam)  # as fine_tune compiles it
        start = time.perf_counter()
        batches, val_batches = (
            features.ViewBatches(cache, 32, seed=0),
            features.ViewBatches(val_cache, 256, shuffle=False),
        )
        history = parts.top.fit(batches, validation_data=val_batches, epochs=EPOCHS, verbose=0).history
        top_s, top_acc = time.perf_counter() - start, history["val_accuracy"][-1]

    plain_rate, top_rate = n * EPOCHS / plain_s, n * EPOCHS / top_s
    print(f"phase two: EfficientNet-Lite0 at {SIZE}px, top 30% unfrozen (cut at {parts.cut}, {parts.fraction:.0%} of "
          f"the layers below it), {n} train / {len(val.files)} val images, {EPOCHS} epochs")  # fmt: skip
    print(f"  plain Keras fit        {plain_s:6.1f} s  {plain_rate:6.1f} img/s   val_accuracy {plain_acc:.3f}")
    print(f"  transferkit top only   {top_s:6.1f} s  {top_rate:6.1f} img/s   val_accuracy {top_acc:.3f}")
    print(f"  one-off cache pass     {cache_s:6.1f} s  ({(n + len(val.files)) / cache_s:.1f} img/s, replacing phase "
          f"one's feature pass); with it: {n * EPOCHS / (top_s + cache_s):.1f} img/s")  # fmt: skip
    print(f"phase-two img/s: keras {plain_rate:.1f}, transferkit {top_rate:.1f}, ratio {top_rate / plain_rate:.1f}")


if __name__ == "__main__":
    main()
