"""An exported classifier without Keras: the same answers as the Keras model, `predict --model x.onnx` in a
process where Keras and torch cannot be imported, one clear line for a missing or corrupt file."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from helpers import cli
from transferkit import ImageClassifier, ModelFileError
from transferkit.runtime import OnnxClassifier

SIZE = 96
#: Makes importing keras or torch fail in a fresh interpreter (a finder, not None in sys.modules, which other
#: libraries, SciPy among them, take for an imported module).
BLOCK_KERAS_AND_TORCH = (
    "import sys\n"
    "class Block:\n"
    "    def find_spec(self, name, path=None, target=None):\n"
    "        if name.split('.')[0] in ('keras', 'torch'): raise ImportError(name + ' is blocked')\n"
    "sys.meta_path.insert(0, Block())\n"
)


@pytest.fixture(scope="module")
def exported(textures: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> tuple[ImageClassifier, Path]:
    from transferkit import data

    train = data.image_folder(textures[0], SIZE, batch_size=16, seed=0)
    clf = ImageClassifier.from_pretrained(classes=train.class_names, input_shape=(SIZE, SIZE, 3), seed=0)
    clf.fine_tune(train, None, epochs=0, verbose=0, seed=0)
    path = tmp_path_factory.mktemp("onnx") / "textures.onnx"
    clf.export(path)
    return clf, path


def test_the_onnx_reader_answers_as_the_keras_classifier(
    exported: tuple[ImageClassifier, Path], textures: tuple[Path, Path]
) -> None:
    clf, path = exported
    photos = sorted(textures[1].glob("*/*.jpg"))
    model = OnnxClassifier(path)
    assert model.class_names == clf.class_names and model.image_size == (SIZE, SIZE)
    onnx_top = [preds[0] for preds in model.predict(photos, top=1)]
    keras_top = [preds[0] for preds in clf.predict(photos, top=1)]
    assert [p[1] for p in onnx_top] == [p.class_index for p in keras_top]
    gaps = [abs(o[2] - k.probability) for o, k in zip(onnx_top, keras_top)]
    assert max(gaps) < 0.02  # Pillow's resize against torch's: within a level per pixel


def test_predict_with_an_onnx_file_needs_neither_keras_nor_torch(
    exported: tuple[ImageClassifier, Path], textures: tuple[Path, Path]
) -> None:
    _, path = exported
    image = sorted((textures[1] / "moon").iterdir())[0]
    script = (
        BLOCK_KERAS_AND_TORCH + "from transferkit.cli import main\n"
        f"code = main(['predict', '--model', {str(path)!r}, '--json', '--top', '2', {str(image)!r}])\n"
        "assert not any(m.split('.')[0] in ('keras', 'torch') for m in sys.modules), 'imported'\n"
        "sys.exit(code)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    (row,) = json.loads(result.stdout)
    assert row["image"] == str(image) and len(row["predictions"]) == 2
    assert row["predictions"][0]["label"] == "moon" and 0.5 < row["predictions"][0]["probability"] <= 1.0


def test_a_missing_or_corrupt_onnx_file_is_one_line(tmp_path: Path, textures: tuple[Path, Path]) -> None:
    image = sorted((textures[1] / "moon").iterdir())[0]
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not a model")
    for model, message in ((tmp_path / "missing.onnx", "does not exist"), (broken, "not a usable ONNX model")):
        result = cli("predict", "--model", model, image)
        assert result.returncode == 1 and message in result.stderr and result.stderr.count("\n") == 1, result.stderr
    with pytest.raises(ModelFileError):
        OnnxClassifier(broken)


def test_arrays_are_taken_as_they_are(exported: tuple[ImageClassifier, Path]) -> None:
    _, path = exported
    model = OnnxClassifier(path)
    pixels = np.full((SIZE, SIZE, 3), 128, np.float32)
    (preds,) = model.predict([pixels], top=4)
    assert sorted(p[1] for p in preds) == [0, 1, 2, 3] and abs(sum(p[2] for p in preds) - 1) < 1e-4


def test_tta_averages_each_image_with_its_mirror_image(exported: tuple[ImageClassifier, Path]) -> None:
    from transferkit.inference.predict import probabilities

    clf, path = exported
    model = OnnxClassifier(path)
    pixels = np.random.default_rng(0).uniform(0, 255, (3, SIZE, SIZE, 3)).astype(np.float32)
    mirrored = pixels[:, :, ::-1]
    want = (model.probabilities(pixels) + model.probabilities(mirrored)) / 2
    np.testing.assert_allclose(model.probabilities(pixels, tta=True), want, atol=1e-6)
    assert not np.allclose(model.probabilities(pixels), want, atol=1e-4)  # the mirror image does change them
    np.testing.assert_allclose(probabilities(clf.model, pixels, tta=True), want, atol=1e-4)


def test_evaluate_an_onnx_file_without_keras_as_the_keras_model_evaluates(
    exported: tuple[ImageClassifier, Path], textures: tuple[Path, Path]
) -> None:
    clf, path = exported
    saved = path.with_suffix(".keras")
    clf.save(saved)
    keras_run = cli("evaluate", saved, textures[1], "--json", "--tta")
    assert keras_run.returncode == 0, keras_run.stderr[-2000:]
    script = (
        BLOCK_KERAS_AND_TORCH + "from transferkit.cli import main\n"
        f"code = main(['evaluate', {str(path)!r}, {str(textures[1])!r}, '--json', '--tta'])\n"
        "assert not any(m.split('.')[0] in ('keras', 'torch') for m in sys.modules), 'imported'\n"
        "sys.exit(code)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    onnx_metrics, keras_metrics = json.loads(result.stdout), json.loads(keras_run.stdout)
    assert onnx_metrics["images"] == keras_metrics["images"] == 24 and onnx_metrics["tta"] is True
    for metrics in (onnx_metrics, keras_metrics):
        assert set(metrics["without_tta"]) == {"accuracy", "loss"} and metrics["accuracy"] >= 0.75
    assert abs(onnx_metrics["accuracy"] - keras_metrics["accuracy"]) <= 1 / 24  # Pillow's resize against torch's
    assert abs(onnx_metrics["loss"] - keras_metrics["loss"]) < 0.05
    table = cli("evaluate", path, textures[1], "--tta")
    assert table.returncode == 0 and "(with TTA; without: accuracy" in table.stdout
