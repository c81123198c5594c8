"""The names of the files a run report writes into its folder (the HTML page links the plots by them)."""

from __future__ import annotations

METRICS_FILE = "metrics.json"
HISTORY_FILE = "history.csv"
CURVES_FILE = "curves.png"
CONFUSION_FILE = "confusion_matrix.png"
COOCCURRENCE_FILE = "cooccurrence.png"  # a multi-label model: how often labels come together
RELIABILITY_FILE = "reliability.png"  # with a calibration: the reliability diagram before and after
HTML_FILE = "report.html"
VALIDATION_FILE = "validation.json"  # the validation images and labels, for checking an export
