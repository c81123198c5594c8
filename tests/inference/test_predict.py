"""Predictions for images: top-k per image in input order, past images that cannot be read, from any source."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

import transferkit
from transferkit.errors import ImageError
from transferkit.inference import load_model, predict_all

CATS = range(281, 286)  # ImageNet's domestic cats


def test_predict_all_keeps_going_past_images_it_cannot_read(lite0: Any, chelsea: Path, tmp_path: Path) -> None:
    missing = tmp_path / "missing.jpg"
    results = predict_all(lite0, [missing, chelsea, np.asarray(Image.open(chelsea))], top=3)
    assert results.kept == [1, 2]
    assert [len(row) for row in results.predictions] == [3, 3]
    assert results.predictions[0][0].class_index in CATS
    assert [p.class_index for p in results.predictions[0]] == [p.class_index for p in results.predictions[1]]
    (error,) = results.errors
    assert isinstance(error, ImageError) and error.path == str(missing) and error.reason == "no such file"


def test_predict_raises_the_first_error_and_orders_by_probability(lite0: Any, chelsea: Path, tmp_path: Path) -> None:
    (top,) = transferkit.predict(lite0, chelsea, top=5)
    probabilities = [p.probability for p in top]
    assert probabilities == sorted(probabilities, reverse=True) and 0 < sum(probabilities) <= 1 + 1e-6
    assert top[0].label == transferkit.predict(lite0, Image.open(chelsea), top=1)[0][0].label
    with pytest.raises(ImageError, match="missing.jpg"):
        transferkit.predict(lite0, [chelsea, tmp_path / "missing.jpg"])


def test_load_model_takes_a_zoo_name_or_a_saved_file(tmp_path: Path) -> None:
    model = load_model("lite0")
    assert model.output_shape == (None, 1000)
    with pytest.raises(transferkit.ModelFileError, match="does not exist"):
        load_model(tmp_path / "mine.keras")
    with pytest.raises(transferkit.UnknownModelError, match="Did you mean"):
        load_model("efficientnet_lite9")
