"""Training: the frozen-feature cache, two-phase fine-tuning, the callbacks of a run, and run folders.

Built on :mod:`transferkit.models` (the classifier and its head), :mod:`transferkit.data` (datasets) and
:mod:`transferkit.report` (the run report); importing this package imports Keras.
"""

from __future__ import annotations

from .._compat.backend import import_keras

import_keras()

from .finetune import FineTuneResult as FineTuneResult, fine_tune as fine_tune  # noqa: E402
from .runs import TrainSettings as TrainSettings, train as train  # noqa: E402
