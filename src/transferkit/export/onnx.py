"""ONNX export, proved right before it is kept: the parity gate.

Keras 3's own ONNX export writes the graph (the model must have been called once, which transferkit's
models have been); the :class:`~transferkit.models.preprocess.Preprocess` layer is inside it, so the file
takes 0-255 RGB NHWC float pixels of the model's size and normalises them itself. transferkit's metadata
(class names, input size, base model, preprocessing, versions: :func:`keras_file.metadata
<transferkit.export.keras_file.metadata>`) goes into the file's ``metadata_props`` as ``transferkit`` (JSON).

Every export runs the original and the exported model on real images and compares them
(:func:`check_parity`); below ``min_agreement`` of top-1 agreement the export fails with that figure and
leaves no file (peers' exports are known to disagree with their originals silently). Needs the ``export``
extra (onnx, onnxruntime, onnxscript).
"""

from __future__ import annotations

import json
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .._util.atomic import atomic_path
from ..data import images as image_files
from ..errors import ExportError, ModelFileError
from ..runtime.onnx import METADATA_KEY, OnnxClassifier
from .keras_file import metadata

if TYPE_CHECKING:
    from ..models.classifier import ImageClassifier

#: Top-1 agreement below which an fp32 export is refused.
MIN_AGREEMENT = 0.995


@dataclass
class Parity:
    """How the exported model agrees with the original on ``images`` real images."""

    images: int
    agreement: float  # share of images with the same top-1 class
    max_difference: float  # the largest difference of any class probability

    def __str__(self) -> str:
        return (
            f"top-1 agreement {self.agreement:.1%} on {self.images} images, "
            f"largest probability difference {self.max_difference:.1e}"
        )


def export_onnx(
    classifier: ImageClassifier,
    path: str | os.PathLike[str],
    *,
    images: Any = None,
    opset: int | None = None,
    min_agreement: float = MIN_AGREEMENT,
) -> Parity:
    """Write ``classifier`` to ``path`` (``.onnx``) with its metadata inside, if it passes the parity gate.

    ``images``: an array ``(n, h, w, 3)`` of 0-255 pixels at the model's size, or image paths; default:
    photos scikit-learn ships, cropped and flipped (:func:`sample_images`). Raises :class:`ExportError` when
    the top-1 agreement is below ``min_agreement`` (no file is left), :class:`ModelFileError` for a path that
    does not end in ``.onnx``.
    """
    if not os.fspath(path).endswith(".onnx"):
        raise ModelFileError(f"An ONNX file name must end in '.onnx'. Received: '{os.fspath(path)}'")
    _require()
    pixels = _pixels(images, classifier.image_size)
    with atomic_path(path) as temp:
        with warnings.catch_warnings():  # the tracer's notes on Python booleans: the parity gate is the check
            warnings.simplefilter("ignore")
            classifier.model(pixels[:1], training=False)  # Keras exports only a model that has been called
            classifier.model.export(str(temp), format="onnx", verbose=False, opset_version=opset)
        _write_metadata(temp, metadata(classifier))
        parity = check_parity(classifier.model, temp, pixels)
        if parity.agreement < min_agreement:
            raise ExportError(
                f"The ONNX export disagrees with the Keras model: {parity} (at least {min_agreement:.1%} needed); "
                "no file was written. Report this with the model name and transferkit's version."
            )
    return parity


def check_parity(model: Any, onnx_path: str | os.PathLike[str], pixels: np.ndarray) -> Parity:
    """Run the Keras ``model`` and the ONNX file on the same ``pixels`` and compare their probabilities."""
    expected = np.asarray(model.predict(pixels, verbose=0), np.float64)
    got = np.asarray(OnnxClassifier(onnx_path).probabilities(pixels), np.float64)
    agreement = float((got.argmax(axis=1) == expected.argmax(axis=1)).mean())
    return Parity(len(pixels), agreement, float(np.abs(got - expected).max()))


def read_onnx_metadata(path: str | os.PathLike[str]) -> dict[str, Any]:
    """transferkit's metadata of an exported file (class names, image size ...)."""
    onnx = _require()
    try:
        model = onnx.load(os.fspath(path), load_external_data=False)
    except FileNotFoundError:
        raise ModelFileError(f"ONNX file '{os.fspath(path)}' does not exist.") from None
    except Exception as exc:
        raise ModelFileError(f"'{os.fspath(path)}' is not a readable ONNX file ({exc}).") from None
    props = {p.key: p.value for p in model.metadata_props}
    if METADATA_KEY not in props:
        raise ModelFileError(f"'{os.fspath(path)}' has no transferkit metadata: export it with `transferkit export`.")
    data: dict[str, Any] = json.loads(props[METADATA_KEY])
    return data


def sample_images(size: tuple[int, int], count: int = 16) -> np.ndarray:
    """``count`` real photos at ``size``: crops and mirror images of the two scikit-learn ships."""
    from sklearn.datasets import load_sample_images

    photos = load_sample_images().images
    rng = np.random.default_rng(0)
    out = []
    for i in range(count):
        photo = photos[i % len(photos)]
        h, w = photo.shape[:2]
        side = int(rng.integers(min(h, w) // 3, min(h, w) + 1))
        top, left = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))
        crop = photo[top : top + side, left : left + side]
        out.append(image_files.load(np.ascontiguousarray(crop[:, ::-1] if i % 2 else crop), size))
    return np.stack(out)


def _pixels(images: Any, size: tuple[int, int]) -> np.ndarray:
    if images is None:
        return sample_images(size)
    if isinstance(images, np.ndarray):
        return images.astype(np.float32)
    out = [image_files.load(path, size) for path in images]  # what prediction decodes: EXIF, transparency ...
    if not out:
        raise ExportError("No images to check the export with: pass image files, or none for the sample photos.")
    return np.stack(out)


def _write_metadata(path: Path, info: dict[str, Any]) -> None:
    onnx = _require()
    model = onnx.load(os.fspath(path))
    del model.metadata_props[:]
    model.metadata_props.add(key=METADATA_KEY, value=json.dumps(info))
    onnx.save(model, os.fspath(path))


def _require() -> Any:
    try:
        import onnx
        import onnxruntime  # noqa: F401
    except ImportError:
        raise ExportError("ONNX export needs the export extra: pip install 'transferkit[export]'.") from None
    return onnx
