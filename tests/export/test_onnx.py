"""ONNX export: the same top-1 as Keras on real photos (a fine-tuned classifier and a zoo model), metadata inside,
a disagreeing export refused with no file left, bad paths as one line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from helpers import cli, python
from transferkit import ExportError, ImageClassifier, ModelFileError
from transferkit.export import check_parity, export_onnx, read_onnx_metadata
from transferkit.export.onnx import sample_images

SIZE = 96


@pytest.fixture(scope="module")
def trained(textures: tuple[Path, Path]) -> ImageClassifier:
    from transferkit import data

    train = data.image_folder(textures[0], SIZE, batch_size=16, seed=0)
    clf = ImageClassifier.from_pretrained(classes=train.class_names, input_shape=(SIZE, SIZE, 3), seed=0)
    clf.fine_tune(train, None, epochs=0, verbose=0, seed=0)
    return clf


def test_a_fine_tuned_classifier_exports_with_the_same_answers(
    trained: ImageClassifier, textures: tuple[Path, Path], tmp_path: Path
) -> None:
    photos = sorted(textures[1].glob("*/*.jpg"))
    path = tmp_path / "textures.onnx"
    parity = trained.export(path, images=photos)
    assert parity.images == len(photos) and parity.agreement == 1.0 and parity.max_difference < 1e-4
    info = read_onnx_metadata(path)
    assert info["class_names"] == trained.class_names and info["image_size"] == [SIZE, SIZE]
    assert info["base_model"] == "efficientnet_lite0" and info["preprocessing"]["mean"] == [127.0] * 3


def test_a_disagreeing_export_is_refused_and_leaves_no_file(trained: ImageClassifier, tmp_path: Path) -> None:
    import onnx
    from onnx import numpy_helper

    path = tmp_path / "good.onnx"
    export_onnx(trained, path)
    model = onnx.load(str(path))
    for init in model.graph.initializer:  # tamper with the classifier's head: every weight of it negated
        values = numpy_helper.to_array(init)
        if values.shape == (1280, len(trained.class_names)):
            init.CopyFrom(numpy_helper.from_array(-values, init.name))
    tampered = tmp_path / "tampered.onnx"
    onnx.save(model, str(tampered))
    pixels = sample_images((SIZE, SIZE))
    parity = check_parity(trained.model, tampered, pixels)
    assert parity.agreement < 0.995 and parity.max_difference > 0.5  # what the gate refuses

    refused = tmp_path / "refused.onnx"
    with pytest.raises(ExportError, match="disagrees"):
        export_onnx(trained, refused, min_agreement=1.01)  # the gate itself: nothing can pass it
    assert not refused.exists() and not list(tmp_path.glob("*refused*"))


def test_zoo_model_through_the_cli(tmp_path: Path) -> None:
    out = tmp_path / "lite0.onnx"
    result = cli("export", "efficientnet_lite0", "--out", out)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "top-1 agreement 100.0% on 16 images" in result.stdout
    assert "warning" not in result.stderr
    assert len(read_onnx_metadata(out)["class_names"]) == 1000


@pytest.mark.parametrize(("target", "message"), [("model.txt", "must end in '.onnx'")])
def test_bad_output_path_is_one_line(tmp_path: Path, target: str, message: str) -> None:
    result = cli("export", "efficientnet_lite0", "--out", tmp_path / target)
    assert result.returncode == 1 and message in result.stderr and result.stderr.count("\n") == 1


def test_a_corrupt_onnx_file_is_one_clear_error(tmp_path: Path) -> None:
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not an onnx model")
    with pytest.raises(ModelFileError, match="not a readable ONNX file"):
        read_onnx_metadata(broken)
    with pytest.raises(ModelFileError, match="does not exist"):
        read_onnx_metadata(tmp_path / "missing.onnx")


def test_sample_images_are_real_photos_at_the_size() -> None:
    pixels: Any = sample_images((SIZE, SIZE), count=4)
    assert pixels.shape == (4, SIZE, SIZE, 3) and pixels.dtype == np.float32 and pixels.std() > 20


def test_batchnorm_is_folded_into_the_convolutions(trained: ImageClassifier, tmp_path: Path) -> None:
    import onnx
    from onnx import numpy_helper

    path = tmp_path / "folded.onnx"
    trained.export(path)
    graph = onnx.load(str(path)).graph
    constants = {init.name: numpy_helper.to_array(init) for init in graph.initializer}
    conv_outputs = {node.output[0] for node in graph.node if node.op_type == "Conv"}
    per_channel = [
        node.name for node in graph.node
        if node.op_type in ("Add", "Sub", "Mul", "Div") and node.input[0] in conv_outputs and node.input[1] in constants
    ]  # fmt: skip
    assert len(conv_outputs) == 49 and per_channel == []  # Lite0's convolutions, nothing left between them
    assert not any(node.op_type == "Shape" for node in graph.node)  # "same" padding amounts are constants


def test_a_uint8_input_gives_the_same_answers(
    trained: ImageClassifier, textures: tuple[Path, Path], tmp_path: Path
) -> None:
    from transferkit.runtime import OnnxClassifier

    photos = sorted(textures[1].glob("*/*.jpg"))
    parity = trained.export(tmp_path / "uint8.onnx", images=photos, input_dtype="uint8")
    assert parity.agreement == 1.0 and parity.max_difference < 1e-4  # both models see the rounded pixels
    model = OnnxClassifier(tmp_path / "uint8.onnx")
    assert (
        model.input_dtype == np.uint8 and read_onnx_metadata(tmp_path / "uint8.onnx")["onnx"]["input_dtype"] == "uint8"
    )
    pixels = np.stack([model.load_image(p) for p in photos[:4]])
    assert (model.probabilities(pixels).argmax(1) == trained.model.predict(np.rint(pixels), verbose=0).argmax(1)).all()
    with pytest.raises(ExportError, match="float32, uint8"):
        trained.export(tmp_path / "bad.onnx", input_dtype="float16")


def test_int8_reports_its_change_and_is_refused_below_the_threshold(lite0: Any, tmp_path: Path) -> None:
    from transferkit.zoo.labels import imagenet_labels

    zoo = ImageClassifier(lite0, imagenet_labels(), "efficientnet_lite0")
    pixels = sample_images((224, 224), count=32)
    labels = zoo.model.predict(pixels, verbose=0).argmax(axis=1)  # the float model is right by definition
    parity = export_onnx(zoo, tmp_path / "int8.onnx", images=pixels, labels=labels, int8=True, min_agreement=0.5)
    assert parity.int8 and parity.accuracy is not None and parity.accuracy[0] == 1.0
    assert parity.accuracy[1] == parity.agreement < 1.0  # 1000 classes on crops: close calls move (measured 91%)
    assert "accuracy 100.0% -> " in str(parity) and (tmp_path / "int8.onnx").stat().st_size < 7e6  # fp32: 19 MB
    with pytest.raises(ExportError, match="int8 ONNX export disagrees.*--min-agreement"):
        export_onnx(zoo, tmp_path / "refused.onnx", images=pixels, int8=True, min_agreement=1.0)
    assert list(tmp_path.glob("refused*")) == []


def test_the_export_works_without_the_keras_backport(tmp_path: Path) -> None:
    code = (
        "import sys, transferkit\n"
        "from transferkit.export import export_onnx\n"
        "clf = transferkit.ImageClassifier.from_pretrained(classes=['a', 'b', 'c'], input_shape=(96, 96, 3), seed=0)\n"
        "print(export_onnx(clf, sys.argv[1]))\n"
    )
    result = python(code, str(tmp_path / "plain.onnx"), TRANSFERKIT_KERAS_FIXES="0")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "top-1 agreement 100.0% on 16 images" in result.stdout
