"""Training: the activation cache (whole or partial backbone), the logistic-regression head, two-phase
fine-tuning with a time budget and its plan, the progress display, ``--model auto``, and run folders.

Built on :mod:`transferkit.models` (the classifier and its head), :mod:`transferkit.data` (datasets) and
:mod:`transferkit.report` (the run report); importing this package imports Keras.
"""

from __future__ import annotations

from .._compat.backend import import_keras

import_keras()

from .auto import AutoChoice as AutoChoice, choose_model as choose_model  # noqa: E402
from .finetune import FineTuneResult as FineTuneResult, fine_tune as fine_tune  # noqa: E402
from .progress import Progress as Progress, make as make  # noqa: E402
from .runs import TrainSettings as TrainSettings, train as train  # noqa: E402
