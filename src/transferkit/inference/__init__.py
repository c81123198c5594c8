"""Using a trained model: predictions for images (``predict``) and evaluation on a labelled folder
(``evaluate``), with test-time augmentation (:mod:`transferkit.runtime.tta`), and Grad-CAM heatmaps of where a
classifier looked (``explain``).

Named ``inference`` rather than ``predict`` so that ``transferkit.predict`` stays the function the README
shows. Builds on :mod:`transferkit.export` (loading saved classifiers), :mod:`transferkit.models`,
:mod:`transferkit.data`, :mod:`transferkit.report` and :mod:`transferkit.runtime`. ``predict`` imports
Keras; ``evaluate`` imports it only for a ``.keras`` model (an ``.onnx`` one runs on onnxruntime alone).
"""

from __future__ import annotations

import importlib
import sys
from typing import TYPE_CHECKING, Any

from .evaluate import evaluate as evaluate

if TYPE_CHECKING:
    from .explain import (
        Explanation as Explanation,
        class_index_of as class_index_of,
        explain as explain,
        grad_cam as grad_cam,
        load_explainable as load_explainable,
        overlay as overlay,
        overlay_png as overlay_png,
    )
    from .predict import (
        Prediction as Prediction,
        Results as Results,
        load_model as load_model,
        predict as predict,
        predict_all as predict_all,
    )

# name -> the module holding it; each imports Keras, so it is imported on first use
_LAZY = {name: "predict" for name in ("Prediction", "Results", "load_model", "predict", "predict_all")} | {
    name: "explain"
    for name in ("Explanation", "class_index_of", "explain", "grad_cam", "load_explainable", "overlay", "overlay_png")
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'transferkit.inference' has no attribute '{name}'")
    importlib.import_module(f"{__name__}.{_LAZY[name]}")
    # importing ``predict.py`` binds the module to ``predict`` here, hiding the function: bind the names back for
    # every module loaded so far
    for other, where in _LAZY.items():
        if f"{__name__}.{where}" in sys.modules:
            globals()[other] = getattr(sys.modules[f"{__name__}.{where}"], other)
    return globals()[name]
