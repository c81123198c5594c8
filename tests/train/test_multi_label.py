"""Multi-label end to end: ``transferkit train labels.csv --multi-label`` on real textures combined in one image,
well above the all-positive baseline; thresholds saved and read back; predict, evaluate, the ONNX export, the
Grad-CAM per label; single-label options given a multi-label model get one clear line. The run and its export
are ``tests/conftest.py``'s; the server is tested in ``tests/serve/test_serve_multi_label.py``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers import cli


def test_the_run_beats_the_baselines_and_reports_per_label(multi_label_run: tuple[Path, Path]) -> None:
    _, out = multi_label_run
    metrics = json.loads((out / "metrics.json").read_text())
    for key in ("micro_f1", "macro_f1", "mAP", "micro_mAP", "per_label", "subset_accuracy", "hamming_loss",
                "label_cardinality", "cooccurrence", "thresholds"):  # fmt: skip
        assert key in metrics, key
    assert metrics["classes"] == ["brick", "grass", "gravel", "moon"] and metrics["num_samples"] == 40
    # measured: micro F1 0.84, mAP 0.89; answering every label scores 0.60, none 0
    assert metrics["micro_f1"] >= 0.75 and metrics["micro_f1"] >= metrics["baselines"]["all_positive_micro_f1"] + 0.15
    assert metrics["mAP"] >= 0.8 and 1.0 <= metrics["label_cardinality"] <= 3.0
    assert set(metrics["per_label"]["moon"]) == {"precision", "recall", "f1", "ap", "support", "threshold"}
    html = (out / "report.html").read_text()
    assert "Per label" in html and "Label co-occurrence" in html and "Surest wrong labels" in html
    assert (out / "cooccurrence.png").is_file() and not (out / "confusion_matrix.png").exists()
    assert "calibration" not in metrics  # temperature scaling is for a softmax

    from transferkit.export.keras_file import load_classifier

    classifier = load_classifier(out / "model.keras")
    assert classifier.multi_label and classifier.thresholds == metrics["thresholds"]
    assert all(0 < t < 1 for t in classifier.thresholds)


def test_predict_and_evaluate_give_every_label_above_its_threshold(multi_label_run: tuple[Path, Path]) -> None:
    table, out = multi_label_run
    images = sorted((table.parent / "images").glob("*.jpg"))[:6]
    result = cli("predict", "--model", out / "model.keras", "--json", "--top", "2", *images)
    assert result.returncode == 0, result.stderr[-2000:]
    thresholds = json.loads((out / "metrics.json").read_text())["thresholds"]
    for entry in json.loads(result.stdout):
        assert len(entry["predictions"]) == 2
        assert all(p["probability"] >= thresholds[p["class_index"]] for p in entry["labels"])
    table_output = cli("predict", "--model", out / "model.keras", images[0])
    assert "  labels: " in table_output.stdout

    evaluated = cli("evaluate", out / "model.keras", table, "--json", "--tta")
    assert evaluated.returncode == 0, evaluated.stderr[-2000:]
    metrics = json.loads(evaluated.stdout)
    assert metrics["images"] == 160 and metrics["micro_f1"] >= 0.75 and "micro_f1" in metrics["without_tta"]

    refused = cli("predict", "--model", out / "model.keras", "--min-confidence", "0.6", images[0])
    assert refused.returncode == 2 and "multi-label model" in refused.stderr and "Traceback" not in refused.stderr
    folder = cli("evaluate", out / "model.keras", table.parent)
    assert folder.returncode != 0 and "evaluate it on a CSV table" in folder.stderr
    assert len(folder.stderr.strip().splitlines()) == 1


def test_the_onnx_export_decides_every_label_as_keras_does(
    multi_label_run: tuple[Path, Path], multi_label_onnx: Path
) -> None:
    table, out = multi_label_run
    images = sorted((table.parent / "images").glob("*.jpg"))[::10]
    answers = []
    for model in (out / "model.keras", multi_label_onnx):
        result = cli("predict", "--model", model, "--json", *images)
        assert result.returncode == 0, result.stderr[-2000:]
        answers.append(json.loads(result.stdout))
    for keras_answer, onnx_answer in zip(*answers, strict=True):
        assert [p["label"] for p in keras_answer["labels"]] == [p["label"] for p in onnx_answer["labels"]]
        for a, b in zip(keras_answer["predictions"], onnx_answer["predictions"]):
            assert a["probability"] == pytest.approx(b["probability"], abs=1e-4)


def test_grad_cam_explains_one_label_at_a_time(multi_label_run: tuple[Path, Path]) -> None:
    from transferkit import explain
    from transferkit.inference.explain import grad_cam
    from transferkit.inference.predict import load_model, predict_all

    table, out = multi_label_run
    model = load_model(out / "model.keras")
    image = sorted((table.parent / "images").glob("*.jpg"))[2]
    predicted = {p.label: p.probability for p in predict_all(model, [str(image)], top=4).predictions[0]}
    maps = {}
    for label in ("brick", "moon"):
        found = grad_cam(model, str(image), model.class_names.index(label))
        assert found.label == label and found.probability == pytest.approx(predicted[label], abs=1e-4)
        maps[label] = found.heatmap
    assert maps["brick"].shape == maps["moon"].shape and not (maps["brick"] == maps["moon"]).all()
    assert explain(model, str(image)).shape == maps["moon"].shape


def test_label_weights_raise_a_rare_labels_probabilities() -> None:
    """``pos_weight``: on features where one label has 10 positives in 400, weighting them lifts their
    probabilities (the unweighted head all but never says the label); the loss is PyTorch's definition."""
    import keras
    import numpy as np

    from transferkit.data import label_weights
    from transferkit.models.heads import WeightedBinaryCrossentropy
    from transferkit.train.linear import fit_multi_label

    rng = np.random.default_rng(0)
    labels = np.zeros((400, 2), np.int32)
    labels[:200, 0] = 1
    labels[rng.choice(400, 10, replace=False), 1] = 1
    features = rng.standard_normal((400, 32)) + 0.6 * labels @ rng.standard_normal((2, 32))
    weights = label_weights(labels)
    assert weights.tolist() == pytest.approx([1.0, 39.0])
    plain = fit_multi_label(features, labels).probabilities(features)
    weighted = fit_multi_label(features, labels, pos_weight=weights).probabilities(features)
    rare = labels[:, 1] == 1
    assert weighted[rare, 1].mean() > plain[rare, 1].mean() + 0.2 and (weighted[rare, 1] >= 0.5).mean() > 0.5

    truth, probs = np.array([[1.0, 0.0], [0.0, 1.0]]), np.array([[0.8, 0.3], [0.4, 0.9]])
    loss = WeightedBinaryCrossentropy([2.0, 3.0])(truth, probs)
    expected = -np.mean(np.array([2.0, 3.0]) * truth * np.log(probs) + (1 - truth) * np.log(1 - probs), axis=1).mean()
    assert float(keras.ops.convert_to_numpy(loss)) == pytest.approx(expected, rel=1e-5)


def test_train_with_label_weights_saves_a_model_that_loads_plainly(
    multi_label_run: tuple[Path, Path], tmp_path: Path
) -> None:
    table, _ = multi_label_run
    out = tmp_path / "weighted"
    result = cli("train", table, "--multi-label", "--label-weights", "--out", out, "--image-size", 96,
                 "--fine-tune-epochs", "1", "--batch-size", "16", "--quiet")  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    import keras

    keras.saving.load_model(out / "model.keras", safe_mode=True)  # compiled with the plain loss: nothing to register
    assert json.loads((out / "run.json").read_text())["label_weights"] is True
    refused = cli("train", table, "--label-weights", "--out", tmp_path / "single")
    assert refused.returncode != 0 and "--label-weights is for --multi-label" in refused.stderr
    auto = cli("train", table, "--multi-label", "--model", "auto", "--out", tmp_path / "auto")
    assert auto.returncode != 0 and "pass a model name" in auto.stderr and not (tmp_path / "auto").exists()
