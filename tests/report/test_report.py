"""The run report: metrics checked against scikit-learn and by hand, the files of a run folder, the HTML page."""

from __future__ import annotations

import csv
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from transferkit import report
from transferkit.errors import DatasetError, ImageError

CLASSES = ["cat", "espresso <cup>", "rocket", "mosque"]  # a name that needs escaping in HTML
#: ImageNet classes summed into each of ours, so a pretrained ImageNet model is a real 4-class classifier.
IMAGENET_GROUPS = ([281, 282, 283, 284, 285], [967, 968, 925], [657, 744, 812], [668])


def _probabilities(seed: int = 0, n: int = 40, classes: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """Labels and probabilities that are right about 70% of the time, with some confident mistakes."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, n)
    logits = rng.normal(0, 1.0, (n, classes))
    logits[np.arange(n), labels] += 1.5
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return labels, probs


def test_metrics_by_hand() -> None:
    probs = np.array([[0.7, 0.2, 0.1], [0.1, 0.6, 0.3], [0.5, 0.4, 0.1], [0.2, 0.2, 0.6], [0.3, 0.3, 0.4]])
    metrics = report.compute_metrics([0, 1, 1, 2, 0], probs, ["a", "b", "c"], top_k=5)
    assert metrics["val_accuracy"] == pytest.approx(3 / 5)
    assert metrics["top_k"] == 2  # top-3 of 3 classes would always be 1
    assert metrics["val_top_k_accuracy"] == pytest.approx(4 / 5)  # the last one's truth (0.3) ranks third
    expected_loss = -np.mean(np.log([0.7, 0.6, 0.4, 0.6, 0.3]))
    assert metrics["val_loss"] == pytest.approx(expected_loss)
    assert metrics["confusion_matrix"] == [[1, 0, 1], [1, 1, 0], [0, 0, 1]]
    assert metrics["per_class"]["a"] == pytest.approx({"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2})
    assert metrics["per_class"]["c"] == pytest.approx({"precision": 0.5, "recall": 1.0, "f1": 2 / 3, "support": 1})
    assert metrics["baseline_accuracy"] == pytest.approx(2 / 5)


def test_metrics_agree_with_scikit_learn_and_keras() -> None:
    import keras
    from sklearn.metrics import classification_report, confusion_matrix, log_loss, top_k_accuracy_score

    labels, probs = _probabilities()
    metrics = report.compute_metrics(labels, probs, CLASSES, top_k=2)
    assert metrics["val_accuracy"] == pytest.approx(np.mean(probs.argmax(1) == labels))
    assert metrics["val_top_k_accuracy"] == pytest.approx(top_k_accuracy_score(labels, probs, k=2))
    assert metrics["val_loss"] == pytest.approx(log_loss(labels, probs), rel=1e-6)
    keras_loss = keras.losses.categorical_crossentropy(np.eye(4)[labels], probs.astype("float32"))
    assert metrics["val_loss"] == pytest.approx(float(np.mean(keras.ops.convert_to_numpy(keras_loss))), rel=1e-5)
    expected = classification_report(labels, probs.argmax(1), target_names=CLASSES, output_dict=True)
    for name in CLASSES:
        for key, sk_key in (
            ("precision", "precision"),
            ("recall", "recall"),
            ("f1", "f1-score"),
            ("support", "support"),
        ):
            assert metrics["per_class"][name][key] == pytest.approx(expected[name][sk_key])
    assert metrics["macro_avg"]["f1"] == pytest.approx(expected["macro avg"]["f1-score"])
    assert metrics["weighted_avg"]["f1"] == pytest.approx(expected["weighted avg"]["f1-score"])
    assert metrics["confusion_matrix"] == confusion_matrix(labels, probs.argmax(1)).tolist()
    by_name = report.compute_metrics([CLASSES[i] for i in labels], probs, CLASSES, top_k=2)
    assert by_name == metrics


def test_bad_inputs_say_what_is_wrong() -> None:
    labels, probs = _probabilities(n=6)
    with pytest.raises(DatasetError, match="one column per class \\(3\\); received shape \\(6, 4\\)"):
        report.compute_metrics(labels, probs, CLASSES[:3])
    with pytest.raises(DatasetError, match="5 labels for 6 rows"):
        report.compute_metrics(labels[:5], probs, CLASSES)
    with pytest.raises(DatasetError, match=r"Labels \['dog'\] are not among the classes"):
        report.compute_metrics(["dog"] * 6, probs, CLASSES)
    with pytest.raises(DatasetError, match="nothing to evaluate"):
        report.compute_metrics([], np.zeros((0, 4)), CLASSES)
    with pytest.raises(DatasetError, match="NaN"):
        report.compute_metrics(labels, np.full((6, 4), np.nan), CLASSES)


def test_worst_mistakes_are_the_most_confident_wrong_predictions() -> None:
    labels, probs = _probabilities(seed=3)
    mistakes = report.worst_mistakes(labels, probs, CLASSES, limit=100)
    wrong = probs.argmax(1) != labels
    assert len(mistakes) == wrong.sum() > 3
    confidences = [m["confidence"] for m in mistakes]
    assert confidences == sorted(confidences, reverse=True)
    assert confidences[0] == pytest.approx(probs[wrong].max())
    assert all(m["true"] != m["predicted"] and m["true_probability"] < m["confidence"] for m in mistakes)


@pytest.fixture(scope="module")
def real_predictions(photo_dir: Path, tmp_path_factory: pytest.TempPathFactory, lite0: Any) -> dict[str, Any]:
    """EfficientNet-Lite0's ImageNet predictions on crops of real photos, summed into four classes."""
    from PIL import Image
    from skimage import data

    from transferkit.data import images
    from transferkit.inference.predict import probabilities
    from transferkit.models import input_spec

    folder = tmp_path_factory.mktemp("crops")
    rng = np.random.default_rng(0)
    paths, labels = [], []
    for label, photo in ((0, data.chelsea()), (1, data.coffee()), (2, data.rocket())):
        height, width = photo.shape[:2]
        for i in range(5):
            h, w = int(height * rng.uniform(0.5, 0.85)), int(width * rng.uniform(0.5, 0.85))
            top, left = rng.integers(0, height - h + 1), rng.integers(0, width - w + 1)
            path = folder / f"{CLASSES[label].split()[0]}_{i}.jpg"
            Image.fromarray(photo[top : top + h, left : left + w]).save(path)
            paths.append(path)
            labels.append(label)
    size, crop_pct = input_spec(lite0)
    batch, _, _ = images.load_many(paths, size, crop_pct)
    imagenet = probabilities(lite0, batch)
    probs = np.stack([imagenet[:, group].sum(axis=1) for group in IMAGENET_GROUPS], axis=1)
    return {"labels": np.array(labels), "probs": probs / probs.sum(axis=1, keepdims=True), "paths": paths}


HISTORY = {
    "loss": [1.1, 0.7, 0.5, 0.31, 0.25],
    "accuracy": [0.55, 0.74, 0.82, 0.9, 0.93],
    "val_loss": [0.9, 0.62, 0.5, 0.41, 0.4],
    "val_accuracy": [0.6, 0.78, 0.83, 0.87, 0.88],
    "learning_rate": [1e-3, 1e-3, 1e-3, 1e-4, 5e-5],
    "phase": ["head", "head", "head", "fine-tune", "fine-tune"],
}


def test_write_report_on_real_predictions(real_predictions: dict[str, Any], tmp_path: Path) -> None:
    from PIL import Image

    from transferkit.data import images

    labels, probs, paths = real_predictions["labels"], real_predictions["probs"], real_predictions["paths"]
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not a jpeg")
    with pytest.raises(ImageError) as error:
        images.load(broken, (96, 96))
    run = tmp_path / "run"
    settings = {"model": "efficientnet_lite0", "image_size": 224, "augment": ["flip", "rotate"], "out": tmp_path}
    metrics = report.write_report(
        run, labels, probs, CLASSES, paths=paths, history=HISTORY, skipped_files=[error.value, ("gone.png", "deleted")],
        train_seconds=75.25, settings=settings, top_k=2,
    )  # fmt: skip

    assert (
        sorted(p.name for p in run.iterdir())
        == sorted(metrics["files"])
        == sorted(["metrics.json", "history.csv", "curves.png", "confusion_matrix.png", "report.html"])
    )
    saved = json.loads((run / "metrics.json").read_text())
    assert saved == metrics
    for key in ("val_accuracy", "val_loss", "classes", "per_class", "confusion_matrix", "epochs", "train_seconds"):
        assert key in saved
    assert saved["val_accuracy"] == pytest.approx(np.mean(probs.argmax(1) == labels))
    assert saved["val_accuracy"] > 0.6  # measured 0.87: the pretrained model knows cats, espresso and rockets
    assert saved["epochs"] == 5 and saved["train_seconds"] == 75.25 and saved["classes"] == CLASSES
    assert saved["skipped_files"] == [
        {"path": str(broken), "reason": "not an image format Pillow can read"},
        {"path": "gone.png", "reason": "deleted"},
    ]
    assert saved["settings"]["out"] == str(tmp_path)

    with open(run / "history.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3, 4, 5]
    assert [float(r["val_accuracy"]) for r in rows] == HISTORY["val_accuracy"] and rows[3]["phase"] == "fine-tune"

    for name in ("curves.png", "confusion_matrix.png"):
        with Image.open(run / name) as png:
            assert png.format == "PNG" and png.width >= 400 and png.height >= 300

    page = (run / "report.html").read_text()
    assert f"{saved['val_accuracy']:.1%}" in page and "top-2 accuracy" in page
    assert "espresso &lt;cup&gt;" in page and "espresso <cup>" not in page
    assert page.count("data:image/png;base64,") == 2
    assert page.count("data:image/jpeg;base64,") == len(saved["worst_mistakes"]) > 0
    assert str(broken) in page and "not an image format Pillow can read" in page
    assert "flip, rotate" in page and "1 min 15 s" in page
    assert "<script" not in page.lower()
    assert not re.search(r"""(src|href)=["'](?!data:)""", page)  # nothing outside the file
    assert not list(run.glob(".*"))  # no temporary files left behind


def test_a_report_without_history_or_mistakes(tmp_path: Path) -> None:
    probs = np.eye(3)[[0, 1, 2, 1]] * 0.9 + 0.1 / 3
    metrics = report.write_report(tmp_path, [0, 1, 2, 1], probs, ["a", "b", "c"])
    assert metrics["epochs"] is None and metrics["worst_mistakes"] == [] and metrics["val_accuracy"] == 1.0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["confusion_matrix.png", "metrics.json", "report.html"]
    page = (tmp_path / "report.html").read_text()
    assert "every validation image was classified correctly" in page and "every file was read" in page


def test_importing_the_report_module_stays_light() -> None:
    code = "import sys, transferkit.report; print(sorted({'matplotlib', 'sklearn', 'keras'} & set(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
