"""Benchmarks: ``make bench`` (``python -m bench``) runs every ``bench/bench_*.py`` module's ``main()``.

Speed is measured here, never asserted in tests: timings depend on the machine and on what else runs.
Keras is imported on transferkit's default backend (torch) unless ``KERAS_BACKEND`` says otherwise, whichever
module imports it first.
"""

import os

os.environ.setdefault("KERAS_BACKEND", "torch")
