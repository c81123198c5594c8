"""The run report: metrics of predictions (``metrics``), plots (``plots``), the self-contained HTML page
(``html``), and writing them into a run folder (``write``), with the file names in ``files``.

Works from true labels and predicted probabilities, so it knows nothing of models or training. Importing
it is light: scikit-learn and matplotlib are imported when a metric or plot is computed, never Keras.
"""

from __future__ import annotations

from .files import (
    CONFUSION_FILE as CONFUSION_FILE,
    CURVES_FILE as CURVES_FILE,
    HISTORY_FILE as HISTORY_FILE,
    HTML_FILE as HTML_FILE,
    METRICS_FILE as METRICS_FILE,
    VALIDATION_FILE as VALIDATION_FILE,
)
from .metrics import compute_metrics as compute_metrics, worst_mistakes as worst_mistakes
from .plots import confusion_png as confusion_png, curves_png as curves_png
from .write import write_report as write_report
