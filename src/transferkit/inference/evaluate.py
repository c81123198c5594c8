"""Evaluating a saved classifier on a labelled folder: what ``transferkit evaluate`` prints."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from ..data import image_folder
from ..export.keras_file import load_classifier
from ..report import compute_metrics


def evaluate(
    model_path: str | os.PathLike[str], data_dir: str | os.PathLike[str], batch_size: int = 32
) -> dict[str, Any]:
    """Metrics of a saved classifier on a labelled folder whose class folders match its classes.

    ``accuracy`` and ``loss`` (also as ``val_*``, the run report's names), per class, the confusion matrix,
    the number of ``images`` evaluated and the ``skipped_files``.
    """
    classifier = load_classifier(model_path)
    dataset: Any = image_folder(
        data_dir, classifier.image_size, batch_size=batch_size, class_names=classifier.class_names, shuffle=False
    )
    probabilities = np.asarray(classifier.model.predict(dataset, verbose=0))
    metrics = compute_metrics(dataset.usable_labels, probabilities, classifier.class_names)
    metrics = {"accuracy": metrics["val_accuracy"], "loss": metrics["val_loss"], **metrics}
    metrics["skipped_files"] = [list(s) for s in dataset.skipped]
    metrics["images"] = int(len(probabilities))
    return metrics
