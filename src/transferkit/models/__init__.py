"""Keras graphs: the preprocessing layer, building a pretrained model, backbones Keras lacks, the one
classification head, graph access and surgery, and ``ImageClassifier``.

Importing this package imports Keras (on the backend :mod:`transferkit._compat.backend` chose), so its
modules simply ``import keras``. It builds on :mod:`transferkit.zoo` (what to build, and the weights) and
never imports :mod:`transferkit.data`; ``ImageClassifier``'s ``fine_tune``, ``predict`` and ``save`` reach
the packages above through imports inside those methods.
"""

from __future__ import annotations

from .._compat.backend import import_keras

import_keras()

from .classifier import ImageClassifier as ImageClassifier  # noqa: E402
from .preprocess import Preprocess as Preprocess, input_spec as input_spec  # noqa: E402
from .pretrained import load_pretrained as load_pretrained  # noqa: E402
