"""``predict --min-confidence P``: ``unsure`` exactly for the images whose top probability is below ``P``, in the
table and in JSON, for a ``.keras`` file and its ONNX export alike, both applying the saved temperature."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from helpers import cli
from transferkit import ImageClassifier
from transferkit.runtime.confidence import UNSURE, answer

SIZE = 96
TEMPERATURE = 2.0


@pytest.fixture(scope="module")
def models(textures: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """An untrained head (answers of middling confidence) with a temperature, as .keras and .onnx files."""
    folder = tmp_path_factory.mktemp("unsure")
    names = sorted(p.name for p in textures[0].iterdir())
    clf = ImageClassifier.from_pretrained(classes=names, input_shape=(SIZE, SIZE, 3), seed=0)
    clf.temperature = TEMPERATURE
    clf.save(folder / "model.keras")
    clf.export(folder / "model.onnx")
    photos = sorted(textures[1].glob("*/*.jpg"))[::3]
    return {"keras": folder / "model.keras", "onnx": folder / "model.onnx", "photos": photos}


def predict_json(model: Path, photos: list[Path], *extra: str) -> list[dict[str, Any]]:
    result = cli("predict", "--model", model, "--json", "--top", "2", *extra, *photos)
    assert result.returncode == 0, result.stderr[-2000:]
    rows: list[dict[str, Any]] = json.loads(result.stdout)
    return rows


def test_answer_is_the_top_class_or_unsure() -> None:
    assert answer("cat", 3, 0.7, None) == {"label": "cat", "class_index": 3, "probability": 0.7, "unsure": False}
    assert answer("cat", 3, 0.7, 0.7)["label"] == "cat"  # at the floor is sure enough
    assert answer("cat", 3, 0.69, 0.7) == {"label": UNSURE, "class_index": None, "probability": 0.69, "unsure": True}


@pytest.mark.parametrize("kind", ["keras", "onnx"])
def test_min_confidence_answers_unsure_below_the_floor_only(models: dict[str, Any], kind: str) -> None:
    photos = models["photos"]
    plain = predict_json(models[kind], photos)
    assert all("answer" not in row for row in plain)  # without the option the output is as before
    tops = np.array([row["predictions"][0]["probability"] for row in plain])
    floor = float(np.median(tops))
    expected_unsure = tops < floor
    assert 0 < expected_unsure.sum() < len(photos)

    rows = predict_json(models[kind], photos, "--min-confidence", str(floor))
    for row, before, unsure in zip(rows, plain, expected_unsure):
        assert row["predictions"] == before["predictions"]  # the top classes are still listed
        top = before["predictions"][0]
        if unsure:
            assert row["answer"] == {"label": UNSURE, "class_index": None, "probability": top["probability"],
                                     "unsure": True}  # fmt: skip
        else:
            assert row["answer"] == {**top, "unsure": False}

    table = cli("predict", "--model", models[kind], "--min-confidence", str(floor), *photos)
    assert table.returncode == 0, table.stderr[-2000:]
    assert table.stdout.count("answer: unsure (top class") == expected_unsure.sum()
    assert table.stdout.count("  answer: ") == len(photos)
    nobody = predict_json(models[kind], photos, "--min-confidence", "0")
    assert not any(row["answer"]["unsure"] for row in nobody)


def test_keras_and_onnx_give_the_same_calibrated_probabilities(models: dict[str, Any]) -> None:
    from transferkit.export.keras_file import load_classifier
    from transferkit.inference.predict import probabilities

    photos = models["photos"]
    keras_rows, onnx_rows = predict_json(models["keras"], photos), predict_json(models["onnx"], photos)
    for ours, theirs in zip(keras_rows, onnx_rows):
        assert [p["class_index"] for p in ours["predictions"]] == [p["class_index"] for p in theirs["predictions"]]
        np.testing.assert_allclose(
            [p["probability"] for p in ours["predictions"]],
            [p["probability"] for p in theirs["predictions"]],
            atol=2e-3,
        )
    clf = load_classifier(models["keras"])
    assert clf.temperature == TEMPERATURE
    from transferkit.runtime import OnnxClassifier

    pixels = np.stack([OnnxClassifier(models["onnx"]).load_image(p) for p in photos])
    raw = probabilities(clf.model, pixels)
    scaled = probabilities(clf.model, pixels, temperature=TEMPERATURE)
    assert (scaled.max(axis=1) < raw.max(axis=1)).all()  # the temperature softened them
    np.testing.assert_allclose([row["predictions"][0]["probability"] for row in keras_rows], scaled.max(axis=1),
                               atol=2e-3)  # fmt: skip


def test_per_class_thresholds_answer_unsure_without_the_option(
    models: dict[str, Any], tmp_path: Path, textures: tuple[Path, Path]
) -> None:
    from transferkit.export.keras_file import load_classifier

    photos = models["photos"]
    plain = predict_json(models["onnx"], photos)
    tops = np.array([row["predictions"][0]["probability"] for row in plain])
    top_class = np.array([row["predictions"][0]["class_index"] for row in plain])
    floor = float(np.median(tops))
    never = int(top_class[tops >= floor][0])  # a class that some sure-enough image is answered with
    clf = load_classifier(models["keras"])
    clf.thresholds = [None if c == never else floor for c in range(len(clf.class_names))]
    clf.save(tmp_path / "strict.keras")
    clf.export(tmp_path / "strict.onnx")
    expected = (tops < floor) | (top_class == never)
    for kind in ("keras", "onnx"):
        rows = predict_json(tmp_path / f"strict.{kind}", photos)
        assert [row["answer"]["unsure"] for row in rows] == expected.tolist(), kind
        assert all(row["answer"]["class_index"] is None for row in rows if row["answer"]["unsure"])


@pytest.mark.parametrize("value", ["1.5", "-0.1", "high"])
def test_a_bad_min_confidence_is_a_usage_error(
    models: dict[str, Any], value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from transferkit.cli import main

    with pytest.raises(SystemExit) as exit:
        main(["predict", "--model", str(models["onnx"]), "--min-confidence", value, str(models["photos"][0])])
    assert exit.value.code == 2 and "probability between 0 and 1" in capsys.readouterr().err
