"""Temperature scaling: it lowers the calibration error of a deliberately over-confident classifier, and the
temperature travels with the model -- through the ``.keras`` file, ``predict``, ``evaluate`` and the ONNX
export (whose parity gate still compares the graph's own output)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from transferkit import ImageClassifier
from transferkit.report.metrics import expected_calibration_error as ece
from transferkit.runtime.confidence import apply_temperature
from transferkit.train.calibration import calibrate, fit_temperature, precision_thresholds

SIZE = 96


@pytest.fixture(scope="module")
def overconfident(textures: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A head fit on the textures, its weights times 10 (probabilities near 0 or 1), and a validation folder
    where 2 of 6 images per class carry the next class's label: confident answers that are a third wrong."""
    from transferkit import data

    train = data.image_folder(textures[0], SIZE, batch_size=16, seed=0)
    clf = ImageClassifier.from_pretrained(classes=train.class_names, input_shape=(SIZE, SIZE, 3), seed=0)
    clf.fine_tune(train, None, epochs=0, verbose=0, seed=0)
    for weight in clf.model.get_layer("predictions").weights:
        weight.assign(weight.numpy() * 10)
    val_dir = tmp_path_factory.mktemp("mislabelled") / "val"
    shutil.copytree(textures[1], val_dir)
    names = clf.class_names
    for i, name in enumerate(names):
        for photo in sorted((textures[1] / name).glob("*.jpg"))[:2]:
            (val_dir / name / photo.name).rename(val_dir / names[(i + 1) % len(names)] / f"from_{name}_{photo.name}")
    val = data.image_folder(val_dir, SIZE, batch_size=32, class_names=names, shuffle=False)
    probabilities = np.asarray(clf.model.predict(val, verbose=0), np.float64)
    return {"classifier": clf, "val_dir": val_dir, "probabilities": probabilities, "labels": val.labels}


def test_temperature_never_changes_the_top_class_and_one_changes_nothing() -> None:
    probs = np.random.default_rng(0).dirichlet(np.ones(5) * 0.3, size=50)
    assert apply_temperature(probs, 1.0) is probs
    for t in (0.5, 2.0, 7.0):
        scaled = apply_temperature(probs, t)
        np.testing.assert_allclose(scaled.sum(axis=1), 1.0)
        assert (scaled.argmax(axis=1) == probs.argmax(axis=1)).all()
    assert (apply_temperature(probs, 3.0).max(axis=1) <= probs.max(axis=1) + 1e-12).all()  # T > 1 softens


def test_a_fit_temperature_recovers_the_one_that_sharpened_calibrated_probabilities() -> None:
    rng = np.random.default_rng(1)
    calibrated = rng.dirichlet(np.ones(4), size=4000)  # labels drawn from them: calibrated by construction
    labels = np.array([rng.choice(4, p=row) for row in calibrated])
    sharpened = apply_temperature(calibrated, 1 / 3)
    assert fit_temperature(sharpened, labels) == pytest.approx(3.0, rel=0.1)
    assert fit_temperature(np.zeros((0, 4)), []) == 1.0
    right = calibrated.argmax(axis=1)
    assert fit_temperature(calibrated, right) == 1.0  # all right: no evidence, no sharpening towards 100%


def test_temperature_scaling_lowers_the_ece_of_an_overconfident_model(overconfident: dict[str, Any]) -> None:
    probs, labels = overconfident["probabilities"], overconfident["labels"]
    assert (probs.argmax(axis=1) == labels).mean() == pytest.approx(2 / 3, abs=0.1)
    found = calibrate(probs, labels)
    before, in_sample = ece(labels, probs), ece(labels, apply_temperature(probs, found.temperature))
    assert found.temperature > 1.5 and before > 0.2
    assert in_sample < before / 2 and ece(labels, found.out_of_fold) < before
    assert "out of fold" in found.note


def test_the_temperature_round_trips_through_the_keras_file_predict_and_evaluate(
    overconfident: dict[str, Any], tmp_path: Path
) -> None:
    from transferkit.export.keras_file import load_classifier, read_metadata
    from transferkit.inference import evaluate, predict_all

    clf: ImageClassifier = overconfident["classifier"]
    clf.temperature = 2.5
    try:
        clf.save(tmp_path / "model.keras")
    finally:
        clf.temperature = 1.0
    assert read_metadata(tmp_path / "model.keras")["temperature"] == 2.5
    loaded = load_classifier(tmp_path / "model.keras")
    assert loaded.temperature == 2.5

    photos = sorted(overconfident["val_dir"].glob("*/*.jpg"))[:4]
    raw = predict_all(clf, photos, top=4).predictions
    scaled = predict_all(loaded, photos, top=4).predictions
    for plain, ours in zip(raw, scaled):
        expected = apply_temperature(
            np.array([[p.probability for p in sorted(plain, key=lambda p: p.class_index)]]), 2.5
        )
        got = [p.probability for p in sorted(ours, key=lambda p: p.class_index)]
        np.testing.assert_allclose(got, expected[0], rtol=1e-4, atol=1e-6)

    metrics = evaluate(tmp_path / "model.keras", overconfident["val_dir"])
    labels, probs = overconfident["labels"], apply_temperature(overconfident["probabilities"], 2.5)
    expected_loss = -np.mean(np.log(np.clip(probs[np.arange(len(labels)), labels], 1e-7, None)))
    assert metrics["loss"] == pytest.approx(expected_loss, rel=1e-3)


def test_the_temperature_round_trips_through_the_onnx_export(overconfident: dict[str, Any], tmp_path: Path) -> None:
    from transferkit.export import export_onnx, read_onnx_metadata
    from transferkit.runtime import OnnxClassifier

    clf: ImageClassifier = overconfident["classifier"]
    clf.temperature = 2.5
    try:
        parity = export_onnx(clf, tmp_path / "model.onnx")  # the gate compares the graph's own output: it passes
    finally:
        clf.temperature = 1.0
    assert parity.agreement == 1.0 and parity.max_difference < 1e-4
    assert read_onnx_metadata(tmp_path / "model.onnx")["temperature"] == 2.5
    onnx = OnnxClassifier(tmp_path / "model.onnx")
    assert onnx.temperature == 2.5
    photos = sorted(overconfident["val_dir"].glob("*/*.jpg"))[:4]
    pixels = np.stack([onnx.load_image(p) for p in photos])
    raw = np.asarray(clf.model.predict(pixels, verbose=0), np.float64)
    np.testing.assert_allclose(onnx.probabilities(pixels, calibrated=False), raw, atol=1e-4)
    np.testing.assert_allclose(onnx.probabilities(pixels), apply_temperature(raw, 2.5), atol=1e-4)


def test_precision_thresholds_keep_the_answers_that_reach_the_target() -> None:
    probs = np.array([[0.9, 0.1], [0.8, 0.2], [0.7, 0.3], [0.6, 0.4], [0.3, 0.7], [0.45, 0.55]])
    labels = np.array([0, 0, 1, 0, 1, 0])  # class 0: right, right, wrong, right; class 1: right, wrong
    assert precision_thresholds(probs, labels, 1.0, 2) == [0.8, 0.7]
    assert precision_thresholds(probs, labels, 0.75, 2) == [0.6, 0.7]  # 3 of the 4 answers of class 0
    assert precision_thresholds(probs, labels, 0.5, 3) == [0.6, 0.55, None]  # class 2: never predicted
