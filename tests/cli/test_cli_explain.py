"""``transferkit explain``: one overlay per image, one line per image, one line per mistake."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from helpers import cli


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory, one_torch_thread: None) -> Path:
    """A saved fine-tuned classifier (untrained head: the command does not care how good it is)."""
    import transferkit

    path = tmp_path_factory.mktemp("explain-model") / "pets.keras"
    transferkit.ImageClassifier.from_pretrained("efficientnet_lite0", classes=["cat", "cup"], seed=0).save(path)
    return path


def test_one_overlay_and_one_line_per_image(chelsea: Path, coffee: Path, tmp_path: Path) -> None:
    result = cli("explain", "efficientnet_lite0", chelsea, coffee, "--out", tmp_path / "out")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith(f"{chelsea}: ") and lines[0].endswith(f"-> {tmp_path / 'out' / 'chelsea_gradcam.png'}")
    assert "%" in lines[0]
    assert Image.open(tmp_path / "out" / "chelsea_gradcam.png").size == Image.open(chelsea).size
    assert Image.open(tmp_path / "out" / "coffee_gradcam.png").size == Image.open(coffee).size


def test_json_and_class_by_name(chelsea: Path, tmp_path: Path) -> None:
    result = cli("explain", "lite0", chelsea, "--out", tmp_path, "--class", "tiger cat", "--json")
    assert result.returncode == 0, result.stderr
    (row,) = json.loads(result.stdout)
    assert (row["label"], row["class_index"]) == ("tiger cat", 282) and 0 < row["probability"] < 1
    assert row["image"] == str(chelsea) and Path(row["overlay"]).is_file()


def test_a_saved_classifier_with_its_class_names(saved: Path, chelsea: Path, tmp_path: Path) -> None:
    result = cli("explain", saved, chelsea, chelsea, "--out", tmp_path, "--class", "cup", "--json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert [row["label"] for row in rows] == ["cup", "cup"]
    assert [Path(row["overlay"]).name for row in rows] == ["chelsea_gradcam.png", "chelsea-2_gradcam.png"]


def test_an_unknown_class_is_one_line_naming_the_classes(saved: Path, chelsea: Path, tmp_path: Path) -> None:
    result = cli("explain", saved, chelsea, "--out", tmp_path / "out", "--class", "cups")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        "transferkit: error: The model has no class 'cups'. Did you mean 'cup'? Its classes: cat, cup."
    ]
    assert not (tmp_path / "out").exists()


def test_an_onnx_model_is_one_line_asking_for_the_keras_one(chelsea: Path, tmp_path: Path) -> None:
    result = cli("explain", tmp_path / "pets.onnx", chelsea, "--out", tmp_path)
    assert result.returncode == 1 and result.stdout == ""
    (line,) = result.stderr.strip().splitlines()
    assert "explanations need the .keras model" in line


def test_an_unreadable_image_is_one_line_and_the_rest_are_explained(chelsea: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 not a whole jpeg")
    result = cli("explain", "lite0", broken, chelsea, "--out", tmp_path / "out")
    assert result.returncode == 1
    (line,) = result.stderr.strip().splitlines()
    assert str(broken) in line and "Traceback" not in result.stderr
    assert result.stdout.startswith(f"{chelsea}: ")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["chelsea_gradcam.png"]
