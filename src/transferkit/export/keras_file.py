"""Saving a classifier as one ``.keras`` file that carries everything needed to use it later, and loading it.

The file is Keras's own format with one extra member, ``transferkit.json``: class names, input size,
preprocessing, the registry name of the backbone, the calibration temperature (absent: 1.0) and the per-class
thresholds of ``train --target-precision`` (absent or null: none); with an out-of-distribution score
(:mod:`transferkit.runtime.familiar`), ``familiar`` there and its training features in ``familiar.npy``. (The
preprocessing also lives in the model's ``Preprocess`` layer, so the model alone is correct; the JSON makes
it readable without Keras.) Loading
uses Keras's safe mode, so no arbitrary code runs from a model file. Saving writes a temporary file and
renames it, so an interrupted save never leaves a corrupt model under the real name.
"""

from __future__ import annotations

import json
import os
import zipfile
from typing import Any

import keras

from .._util.atomic import atomic_path
from .._version import __version__
from ..errors import ModelFileError
from ..keras2.applications import PretrainedModel
from ..models import ImageClassifier
from ..models.preprocess import find_preprocess
from ..runtime.familiar import Familiarity

METADATA = "transferkit.json"
FAMILIAR = "familiar.npy"
FORMAT = 1


def metadata(classifier: ImageClassifier) -> dict[str, Any]:
    """What ``transferkit.json`` holds: class names, base model, input size, preprocessing, the calibration
    temperature and versions."""
    layer = find_preprocess(classifier.model)
    return {
        "format": FORMAT,
        "class_names": classifier.class_names,
        "base_model": classifier.base_model,
        "image_size": list(classifier.image_size),
        "preprocessing": None
        if layer is None
        else {k: layer.get_config()[k] for k in ("mean", "std", "bgr", "crop_pct")},
        "temperature": classifier.temperature,
        "thresholds": classifier.thresholds,
        "multi_label": classifier.multi_label,
        "familiar": None if classifier.familiar is None else classifier.familiar.info(),
        "transferkit_version": __version__,
        "keras_version": keras.__version__,
        "backend": keras.backend.backend(),
    }


def save_classifier(classifier: ImageClassifier, path: str | os.PathLike[str]) -> None:
    """Write ``classifier`` to ``path`` (``.keras``) atomically, with its metadata inside."""
    if not os.fspath(path).endswith(".keras"):
        raise ModelFileError(f"A model file name must end in '.keras'. Received: '{os.fspath(path)}'")
    with atomic_path(path) as temp:
        classifier.model.save(temp)
        with zipfile.ZipFile(temp, "a") as archive:
            archive.writestr(METADATA, json.dumps(metadata(classifier), indent=2))
            if classifier.familiar is not None:
                archive.writestr(FAMILIAR, classifier.familiar.bank_bytes())


def read_metadata(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The transferkit metadata of a saved classifier, without loading the model."""
    try:
        with zipfile.ZipFile(path) as archive:
            data: dict[str, Any] = json.loads(archive.read(METADATA))
            return data
    except FileNotFoundError:
        raise ModelFileError(f"Model file '{os.fspath(path)}' does not exist.") from None
    except KeyError:
        raise ModelFileError(
            f"'{os.fspath(path)}' is a Keras file without transferkit metadata (class names); save it with "
            "ImageClassifier.save() or load it with keras.saving.load_model()."
        ) from None
    except (zipfile.BadZipFile, json.JSONDecodeError, OSError) as exc:
        raise ModelFileError(f"'{os.fspath(path)}' is not a readable .keras model file ({exc}).") from None


def load_classifier(path: str | os.PathLike[str]) -> ImageClassifier:
    """Load a classifier saved by :meth:`ImageClassifier.save` (Keras safe mode)."""
    info = read_metadata(path)
    if info.get("format", 0) > FORMAT:
        raise ModelFileError(f"'{os.fspath(path)}' was saved by a newer transferkit: upgrade transferkit to load it.")
    try:
        # a classifier may wrap one of the article's models; Preprocess is registered by transferkit.models
        model = keras.saving.load_model(path, safe_mode=True, custom_objects={"PretrainedModel": PretrainedModel})
    except Exception as exc:
        raise ModelFileError(f"Cannot load '{os.fspath(path)}': {exc}") from None
    familiar = None
    if info.get("familiar"):
        with zipfile.ZipFile(path) as archive:
            familiar = Familiarity.load(info["familiar"], archive.read(FAMILIAR))
    return ImageClassifier(
        model, info["class_names"], info["base_model"], float(info.get("temperature", 1.0)), info.get("thresholds"),
        familiar,
    )  # fmt: skip
