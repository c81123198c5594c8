"""Benchmarks: ``make bench`` (``python -m bench``) runs every ``bench/bench_*.py`` module's ``main()``.

Speed is measured here, never asserted in tests: timings depend on the machine and on what else runs.
Keras is imported on transferkit's default backend (torch) unless ``KERAS_BACKEND`` says otherwise, whichever
module imports it first.
"""

import os
from typing import Any

os.environ.setdefault("KERAS_BACKEND", "torch")


def folders(train_dir: str, val_dir: str, size: int) -> tuple[Any, Any]:
    """The training folder (shuffled, seed 0) and the validation folder in order, batches of 32, no augmentation."""
    from transferkit import data

    train = data.image_folder(train_dir, size, batch_size=32, seed=0)
    return train, data.image_folder(val_dir, size, batch_size=32, class_names=train.class_names, shuffle=False)
