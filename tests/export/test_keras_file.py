"""The ``.keras`` file of a classifier: everything needed to use it inside, the same predictions after loading,
and one clear error for every file that is not one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import transferkit
from transferkit import ImageClassifier
from transferkit.export import read_metadata

SIZE = 96


def test_save_load_predict_identical(tmp_path: Path, splits: tuple[Any, Any], chelsea: Path) -> None:
    train, val = splits
    clf = ImageClassifier.from_pretrained(classes=train.class_names, input_shape=(SIZE, SIZE, 3))
    clf.fine_tune(train, val, head_epochs=2, epochs=0, verbose=0, seed=0)
    clf.save(tmp_path / "model.keras")
    loaded = transferkit.load_classifier(tmp_path / "model.keras")
    assert loaded.class_names == train.class_names and loaded.base_model == "efficientnet_lite0"
    images = val.files[:4] + [str(chelsea)]
    ours = [[p.probability for p in row] for row in clf.predict(images, top=4)]
    theirs = [[p.probability for p in row] for row in loaded.predict(images, top=4)]
    np.testing.assert_array_equal(ours, theirs)
    assert {p.label for p in loaded.predict(images[0])[0]} <= set(train.class_names)
    info = read_metadata(tmp_path / "model.keras")
    assert info["image_size"] == [SIZE, SIZE] and info["preprocessing"]["mean"] == [127.0, 127.0, 127.0]


def test_model_file_errors(tmp_path: Path, lite0: Any) -> None:
    with pytest.raises(transferkit.ModelFileError, match="does not exist"):
        transferkit.load_classifier(tmp_path / "missing.keras")
    lite0.save(tmp_path / "plain.keras")
    with pytest.raises(transferkit.ModelFileError, match="without transferkit metadata"):
        transferkit.load_classifier(tmp_path / "plain.keras")
    (tmp_path / "junk.keras").write_bytes(b"not a zip")
    with pytest.raises(transferkit.ModelFileError, match="not a readable"):
        transferkit.load_classifier(tmp_path / "junk.keras")
    clf = ImageClassifier.from_pretrained(num_classes=2, input_shape=(SIZE, SIZE, 3))
    with pytest.raises(transferkit.ModelFileError, match=r"end in '\.keras'"):
        clf.save(tmp_path / "model.h5")
