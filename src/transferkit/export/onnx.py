"""ONNX export, proved right before it is kept: the parity gate.

Keras 3's own ONNX export writes the graph (the model must have been called once, which transferkit's
models have been); the :class:`~transferkit.models.preprocess.Preprocess` layer is inside it, so the file
takes 0-255 RGB NHWC pixels of the model's size (float32, or uint8 with ``input_dtype="uint8"``) and
normalises them itself. The graph is then simplified (:func:`~transferkit.export.onnx_graph.simplify`:
BatchNorm folded into the convolutions), and transferkit's metadata (class names, input size, base model,
preprocessing, versions: :func:`keras_file.metadata <transferkit.export.keras_file.metadata>`) goes into the
file's ``metadata_props`` as ``transferkit`` (JSON). A classifier with an out-of-distribution score
(:mod:`transferkit.runtime.familiar`) is exported with the features the head classifies as a second output
and its training features in ``transferkit_familiar``, so the file scores images as the ``.keras`` one does.

Every export runs the original and the exported model on real images and compares them
(:func:`check_parity`): the validation images of the run that saved the model when known
(:func:`run_validation`), else photos scikit-learn ships. Below ``min_agreement`` of top-1 agreement the
export fails with that figure and leaves no file (peers' exports are known to disagree with their originals
silently). ``int8=True`` quantizes the checked float file with onnxruntime's static quantization (QDQ,
per-channel weights, activation ranges from the same images) and holds it to ``min_agreement`` too
(default :data:`MIN_INT8_AGREEMENT`), reporting the accuracy change when the images' labels are known.
Needs the ``export`` extra (onnx, onnxruntime, onnxscript).
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .._util.atomic import atomic_path
from ..data import images as image_files
from ..errors import ExportError, ModelFileError
from ..models.preprocess import input_spec
from ..report.files import VALIDATION_FILE
from ..runtime.confidence import label_thresholds
from ..runtime.onnx import FAMILIAR_KEY, METADATA_KEY, OnnxClassifier
from .keras_file import metadata
from .onnx_graph import simplify, uint8_input

if TYPE_CHECKING:
    from ..models.classifier import ImageClassifier

#: Top-1 agreement below which an fp32 export is refused.
MIN_AGREEMENT = 0.995
#: The same for an int8 export (quantization moves some close calls; ``min_agreement`` sets another).
MIN_INT8_AGREEMENT = 0.97
#: At most this many of a run's validation images check an export (evenly spread over the list).
MAX_CHECK_IMAGES = 256
#: At most this many images set the int8 activation ranges.
CALIBRATION_IMAGES = 64
INPUT_DTYPES = ("float32", "uint8")


@dataclass
class Parity:
    """How the exported model agrees with the original on ``images`` real images."""

    images: int
    agreement: float  # share of images with the same top-1 class
    max_difference: float  # the largest difference of any class probability
    accuracy: tuple[float, float] | None = None  # (original, export) top-1 accuracy, when labels are known
    int8: bool = False
    multi_label: bool = False  # agreement: every label decided alike; accuracy: every label right

    def __str__(self) -> str:
        agree, right = ("all labels agree", "all labels right") if self.multi_label else ("top-1 agreement", "accuracy")
        text = (
            f"{agree} {self.agreement:.1%} on {self.images} images, "
            f"largest probability difference {self.max_difference:.1e}"
        )
        if self.accuracy is not None:
            before, after = self.accuracy
            text += f", {right} {before:.1%} -> {after:.1%} ({(after - before) * 100:+.1f} points)"
        return text


def export_onnx(
    classifier: ImageClassifier,
    path: str | os.PathLike[str],
    *,
    images: Any = None,
    labels: Sequence[Any] | None = None,
    opset: int | None = None,
    min_agreement: float | None = None,
    input_dtype: str = "float32",
    int8: bool = False,
) -> Parity:
    """Write ``classifier`` to ``path`` (``.onnx``) with its metadata inside, if it passes the parity gate.

    ``images``: an array ``(n, h, w, 3)`` of 0-255 pixels at the model's size, or image paths; default:
    photos scikit-learn ships, cropped and flipped (:func:`sample_images`). ``labels`` (class indices of
    ``images``; multi-hot rows for a multi-label model) add the accuracy of both models to the figures.
    ``input_dtype``: ``"float32"`` or ``"uint8"`` pixels. ``int8``: a quantized file (see the module doc).
    Raises :class:`ExportError` when the top-1 agreement (a multi-label model: every label decided alike) is
    below ``min_agreement`` (default :data:`MIN_AGREEMENT`, :data:`MIN_INT8_AGREEMENT` for int8;
    no file is left), :class:`ModelFileError` for a path that does not end in ``.onnx``.
    """
    if not os.fspath(path).endswith(".onnx"):
        raise ModelFileError(f"An ONNX file name must end in '.onnx'. Received: '{os.fspath(path)}'")
    if input_dtype not in INPUT_DTYPES:
        raise ExportError(f"The input type is one of {', '.join(INPUT_DTYPES)}. Received: {input_dtype!r}")
    onnx = _require()
    pixels = _pixels(images, classifier, CALIBRATION_IMAGES if int8 else 16)
    if input_dtype == "uint8":
        pixels = np.clip(np.rint(pixels), 0, 255)  # what the file will be given, for both models
    if labels is not None and len(labels) != len(pixels):
        raise ExportError(f"{len(labels)} labels for {len(pixels)} images: give one class index per image.")
    info = {**metadata(classifier), "onnx": {"input_dtype": input_dtype, "int8": int8}}
    count = len(classifier.class_names)
    cuts = label_thresholds(classifier.thresholds, count) if classifier.multi_label else None
    floor = MIN_AGREEMENT if min_agreement is None else min_agreement
    with atomic_path(path) as temp:
        with warnings.catch_warnings():  # the tracer's notes on Python booleans: the parity gate is the check
            warnings.simplefilter("ignore")
            exported = classifier.model if classifier.familiar is None else classifier.with_features
            exported(pixels[:1], training=False)  # Keras exports only a model that has been called
            exported.export(str(temp), format="onnx", verbose=False, opset_version=opset)
        graph = simplify(onnx.load(os.fspath(temp)))
        if input_dtype == "uint8":
            uint8_input(graph)
        if classifier.familiar is not None:
            info[FAMILIAR_KEY] = classifier.familiar.bank_text()
        _save(graph, temp, info)
        parity = check_parity(classifier.model, temp, pixels, labels, cuts)
        if int8:
            _gate(parity, MIN_AGREEMENT if min_agreement is None else max(min_agreement, MIN_AGREEMENT), "")
            quantized = temp.with_name(f"{temp.name}.int8")
            try:
                _quantize(temp, quantized, pixels[:CALIBRATION_IMAGES])
                _save(onnx.load(os.fspath(quantized)), quantized, info)
                parity = check_parity(classifier.model, quantized, pixels, labels, cuts)
                parity.int8 = True
                os.replace(quantized, temp)
            finally:
                quantized.unlink(missing_ok=True)
            floor = MIN_INT8_AGREEMENT if min_agreement is None else min_agreement
        _gate(parity, floor, " int8" if int8 else "")
    return parity


def _gate(parity: Parity, floor: float, kind: str) -> None:
    if parity.agreement < floor:
        hint = (
            "pass a lower --min-agreement to accept it, or export without --int8"
            if kind
            else "report this with the model name and transferkit's version"
        )
        raise ExportError(
            f"The{kind} ONNX export disagrees with the Keras model: {parity} (at least {floor:.1%} needed); "
            f"no file was written: {hint}."
        )


def check_parity(
    model: Any,
    onnx_path: str | os.PathLike[str],
    pixels: np.ndarray,
    labels: Sequence[Any] | None = None,
    thresholds: Sequence[float | None] | None = None,
) -> Parity:
    """Run the Keras ``model`` and the ONNX file on the same ``pixels`` and compare their probabilities.

    With ``thresholds`` (a multi-label model's), agreement is the share of images whose every label is decided
    alike, and the accuracy is the share of images with every label right."""
    expected = np.asarray(model.predict(pixels, verbose=0), np.float64)
    got = np.asarray(OnnxClassifier(onnx_path).probabilities(pixels, calibrated=False), np.float64)
    if thresholds is not None:
        cut = np.array(label_thresholds(thresholds, len(thresholds)))
        agreement = float(((got >= cut) == (expected >= cut)).all(axis=1).mean())
        right = None
        if labels is not None:
            truth = np.asarray(labels) > 0.5
            right = (
                float(((expected >= cut) == truth).all(axis=1).mean()),
                float(((got >= cut) == truth).all(axis=1).mean()),
            )
        return Parity(len(pixels), agreement, float(np.abs(got - expected).max()), right, multi_label=True)
    agreement = float((got.argmax(axis=1) == expected.argmax(axis=1)).mean())
    accuracy = None
    if labels is not None:
        truth = np.asarray(labels)
        accuracy = (float((expected.argmax(axis=1) == truth).mean()), float((got.argmax(axis=1) == truth).mean()))
    return Parity(len(pixels), agreement, float(np.abs(got - expected).max()), accuracy)


def run_validation(model_path: str | os.PathLike[str]) -> tuple[list[str], list[int]] | None:
    """The validation images and labels of the training run that saved ``model_path`` (its folder's
    ``validation.json``), those still on disk, at most :data:`MAX_CHECK_IMAGES`; None when unknown."""
    record = Path(model_path).parent / VALIDATION_FILE
    try:
        found = json.loads(record.read_text())
        pairs = [(f, c if isinstance(c, list) else int(c)) for f, c in zip(found["files"], found["labels"])
                 if os.path.isfile(f)]  # fmt: skip
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not pairs:
        return None
    chosen = np.linspace(0, len(pairs) - 1, min(len(pairs), MAX_CHECK_IMAGES)).round().astype(int)
    return [pairs[i][0] for i in chosen], [pairs[i][1] for i in chosen]


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


def _pixels(images: Any, classifier: ImageClassifier, count: int) -> np.ndarray:
    size, crop_pct = input_spec(classifier.model)
    if images is None:
        return sample_images(size, count)
    if isinstance(images, np.ndarray):
        return images.astype(np.float32)
    out = [image_files.load(path, size, crop_pct) for path in images]  # what prediction decodes: EXIF ...
    if not out:
        raise ExportError("No images to check the export with: pass image files, or none for the sample photos.")
    return np.stack(out)


def _save(model: Any, path: Path, info: dict[str, Any]) -> None:
    """``info`` into the file's metadata: the training features (``FAMILIAR_KEY``) in an entry of their own."""
    onnx = _require()
    del model.metadata_props[:]
    bank = {k: v for k, v in info.items() if k == FAMILIAR_KEY}
    model.metadata_props.add(key=METADATA_KEY, value=json.dumps({k: v for k, v in info.items() if k not in bank}))
    for key, value in bank.items():
        model.metadata_props.add(key=key, value=value)
    onnx.save(model, os.fspath(path))


def _quantize(source: Path, target: Path, pixels: np.ndarray) -> None:
    """onnxruntime's static int8 quantization of ``source``, activation ranges from ``pixels``."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    model = OnnxClassifier(source)
    feeds = iter([{model.input_name: model.cast(pixels[i : i + 8])} for i in range(0, len(pixels), 8)])

    class Reader(CalibrationDataReader):
        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(feeds, None)

    with warnings.catch_warnings():  # its advice to pre-process: simplify() has done that
        warnings.simplefilter("ignore")
        quantize_static(
            os.fspath(source), os.fspath(target), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
            activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
        )  # fmt: skip


def _require() -> Any:
    try:
        import onnx
        import onnxruntime  # noqa: F401
    except ImportError:
        raise ExportError("ONNX export needs the export extra: pip install 'transferkit[export]'.") from None
    return onnx
