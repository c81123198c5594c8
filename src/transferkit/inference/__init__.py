"""Using a trained model: predictions for images (``predict``) and evaluation on a labelled folder
(``evaluate``). Test-time augmentation and explanations (Grad-CAM) belong here next.

Named ``inference`` rather than ``predict`` so that ``transferkit.predict`` stays the function the README
shows. Builds on :mod:`transferkit.export` (loading saved classifiers), :mod:`transferkit.models`,
:mod:`transferkit.data` and :mod:`transferkit.report`; importing it imports Keras.
"""

from __future__ import annotations

from .._compat.backend import import_keras

import_keras()

from .evaluate import evaluate as evaluate  # noqa: E402
from .predict import (  # noqa: E402
    Prediction as Prediction,
    Results as Results,
    load_model as load_model,
    predict as predict,
    predict_all as predict_all,
)
