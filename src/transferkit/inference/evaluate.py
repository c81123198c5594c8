"""Evaluating a saved classifier (``.keras``) or an export (``.onnx``) on a labelled folder or CSV table: what
``transferkit evaluate`` prints. An ``.onnx`` model is evaluated with onnxruntime alone: this module imports
Keras only for a ``.keras`` one. A multi-label model is evaluated on a table with any number of labels per
image (:func:`transferkit.data.image_table`), with its own thresholds (:mod:`transferkit.report.multilabel`)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, NamedTuple

import numpy as np

from ..errors import DatasetError
from ..report import compute_metrics
from ..report.multilabel import multi_label_metrics
from ..runtime import tta as tta_views
from ..runtime.confidence import label_thresholds


class Source(NamedTuple):
    """A model and the labelled images it is evaluated on."""

    run: Callable[[np.ndarray], np.ndarray]  # pixels -> probabilities
    batches: Iterator[tuple[np.ndarray, np.ndarray]]  # (pixels, labels: class indices or multi-hot rows)
    class_names: list[str]
    skipped: Any  # (path, reason) pairs
    thresholds: list[float] | None  # a multi-label model's per-label thresholds; None: single-label


def evaluate(
    model_path: str | os.PathLike[str], data_dir: str | os.PathLike[str], batch_size: int = 32, tta: bool = False
) -> dict[str, Any]:
    """Metrics of a saved classifier or an ONNX export on a labelled folder whose class folders match its
    classes, or a CSV table (path,label) of them.

    ``accuracy`` and ``loss`` (also as ``val_*``, the run report's names), per class, the confusion matrix,
    the number of ``images`` evaluated and the ``skipped_files``. With ``tta`` the metrics are those of the
    predictions averaged with the mirror images' (:mod:`transferkit.runtime.tta`), and ``without_tta`` holds
    the accuracy and loss of the images alone, from the same run. A multi-label model: ``micro_f1``,
    ``macro_f1``, ``mAP``, ``per_label`` ... (:func:`~transferkit.report.multilabel.multi_label_metrics`),
    ``without_tta`` with micro F1 and mAP.
    """
    run, batches, class_names, skipped, thresholds = (
        _onnx(model_path, data_dir, batch_size)
        if os.fspath(model_path).endswith(".onnx")
        else _keras(model_path, data_dir, batch_size)
    )
    plain, averaged, labels = [], [], []
    for pixels, batch_labels in batches:
        if tta:
            alone, mean = tta_views.both(run, pixels)
            plain.append(alone)
            averaged.append(mean)
        else:
            plain.append(np.asarray(run(pixels), np.float64))
        labels.append(batch_labels)
    if not plain:
        raise DatasetError(f"No usable images in '{os.fspath(data_dir)}' to evaluate on.")
    probabilities = np.concatenate(averaged if tta else plain)
    y = np.concatenate(labels).astype(np.int64)
    if thresholds is not None:
        metrics = multi_label_metrics(y, probabilities, class_names, thresholds)
        metrics["loss"] = metrics["val_loss"]
        if tta:
            without = multi_label_metrics(y, np.concatenate(plain), class_names, thresholds)
            metrics["without_tta"] = {"micro_f1": without["micro_f1"], "mAP": without["mAP"]}
    else:
        metrics = compute_metrics(y, probabilities, class_names)
        metrics = {"accuracy": metrics["val_accuracy"], "loss": metrics["val_loss"], **metrics}
        if tta:
            without = compute_metrics(y, np.concatenate(plain), class_names)
            metrics["without_tta"] = {"accuracy": without["val_accuracy"], "loss": without["val_loss"]}
    metrics["tta"] = tta
    metrics["skipped_files"] = [list(s) for s in skipped]
    metrics["images"] = int(len(probabilities))
    return metrics


def _keras(model_path: str | os.PathLike[str], data_dir: str | os.PathLike[str], batch_size: int) -> Source:
    from ..data import image_folder, image_table
    from ..export.keras_file import load_classifier
    from .predict import probabilities

    classifier = load_classifier(model_path)
    _check_kind(classifier.multi_label, model_path, data_dir)
    common: dict[str, Any] = dict(batch_size=batch_size, class_names=classifier.class_names, shuffle=False)
    if os.path.isfile(data_dir):
        dataset: Any = image_table(data_dir, classifier.image_size, multi_label=classifier.multi_label,
                                   label_mode="int", **common)  # fmt: skip
    else:
        dataset = image_folder(data_dir, classifier.image_size, label_mode="int", **common)

    def batches() -> Iterator[tuple[np.ndarray, np.ndarray]]:
        for pixels, labels in _prefetched(dataset.__getitem__, len(dataset)):
            if len(pixels):
                yield pixels, labels

    def run(pixels: np.ndarray) -> np.ndarray:
        return probabilities(
            classifier.model, pixels, batch_size, temperature=classifier.temperature, multi_label=classifier.multi_label
        )

    names = classifier.class_names
    thresholds = label_thresholds(classifier.thresholds, len(names)) if classifier.multi_label else None
    return Source(run, batches(), names, dataset.skipped, thresholds)


def _check_kind(multi_label: bool, model_path: Any, data_dir: Any) -> None:
    """One clear line for a multi-label model given a folder (a folder holds one class per image)."""
    if multi_label and not os.path.isfile(data_dir):
        raise DatasetError(
            f"'{os.fspath(model_path)}' is a multi-label model: evaluate it on a CSV table of path,label rows "
            f"(labels separated by ';'), not the folder '{os.fspath(data_dir)}'."
        )


def _onnx(model_path: str | os.PathLike[str], data_dir: str | os.PathLike[str], batch_size: int) -> Source:
    """The folder read with the ONNX reader's own decoding (what ``predict --model x.onnx`` sees); no Keras."""
    from ..data import tables
    from ..data.decode import pool
    from ..data.scan import scan_folder
    from ..errors import ImageError
    from ..runtime import OnnxClassifier

    model = OnnxClassifier(model_path)
    _check_kind(model.multi_label, model_path, data_dir)
    if os.path.isfile(data_dir):
        found: Any = tables.read(data_dir, class_names=model.class_names, multi_label=model.multi_label)
    else:
        found = scan_folder(data_dir, classes=model.class_names)
    files, all_labels = found.files, np.asarray(found.labels, np.int64)

    def load(path: str) -> np.ndarray | None:
        try:
            return model.load_image(path)
        except ImageError as exc:
            found.skips.add(path, exc.reason)
            return None

    def decode(index: int) -> tuple[np.ndarray, np.ndarray]:
        chunk = slice(index * batch_size, (index + 1) * batch_size)
        images = list(pool().map(load, files[chunk]))
        keep = [i for i, image in enumerate(images) if image is not None]
        read = [image for image in images if image is not None]
        pixels = np.stack(read) if read else np.zeros((0, *model.image_size, 3), np.float32)
        return pixels, all_labels[chunk][keep]

    def batches() -> Iterator[tuple[np.ndarray, np.ndarray]]:
        for pixels, labels in _prefetched(decode, -(-len(files) // batch_size)):
            if len(pixels):
                yield pixels, labels

    thresholds = label_thresholds(model.thresholds, len(model.class_names)) if model.multi_label else None
    return Source(model.probabilities, batches(), model.class_names, found.skips.entries, thresholds)


def _prefetched(get: Callable[[int], Any], count: int) -> Iterator[Any]:
    """``get(0) ... get(count - 1)``, the next one decoded in a thread while the model runs on this one."""
    with ThreadPoolExecutor(1) as thread:
        pending = thread.submit(get, 0) if count else None
        for index in range(count):
            assert pending is not None
            current = pending.result()
            pending = thread.submit(get, index + 1) if index + 1 < count else None
            yield current
