"""What the server needs of a model, whatever its format: decoded uploads, probabilities, explanations.

:func:`load_predictor` picks the adapter: a ``.keras`` file or a zoo name runs on Keras
(:mod:`transferkit.inference`), an ``.onnx`` export on onnxruntime alone
(:class:`transferkit.runtime.OnnxClassifier`; neither Keras nor torch is imported). Uploads are decoded
by :mod:`transferkit.data.images` as the CLI decodes files (an upload is an open file to it), so the server's
answers equal ``transferkit predict``'s, and every failure is a :class:`Problem` naming the image and the HTTP
status its :attr:`~transferkit.errors.ImageError.kind` deserves.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

import numpy as np

from ..data import images
from ..errors import ImageError, ModelFileError

#: Longest side of a Grad-CAM overlay sent back: enough to read it, small enough to send.
OVERLAY_SIDE = 640


class Problem(Exception):
    """A request the server refuses: the HTTP status, a stable code for programs and a sentence for people."""

    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail = status, code, detail


@dataclass(frozen=True)
class Upload:
    """One uploaded image: its name (the file name sent, or ``image``) and its bytes."""

    name: str
    data: bytes


class Explained(NamedTuple):
    """A Grad-CAM overlay as PNG and the class it shows."""

    png: bytes
    class_index: int
    label: str
    probability: float


class Predictor(Protocol):
    """A loaded model as the server uses it."""

    name: str  # what was asked for: a file name or a zoo name
    format: str  # "keras", "zoo" or "onnx"
    base_model: str
    class_names: list[str]
    image_size: tuple[int, int]
    can_explain: bool
    thresholds: list[float | None] | None  # per-class floors of ``train --target-precision``; None: none
    multi_label: bool  # sigmoid outputs: ``thresholds`` are each label's decision threshold

    def pixels(self, upload: Upload) -> np.ndarray:
        """The model's float32 (height, width, 3) 0-255 input, or :class:`Problem`."""

    def outputs(self, batch: np.ndarray, tta: bool) -> tuple[np.ndarray, list[dict[str, Any]] | None]:
        """Class probabilities ``(n, classes)`` of a batch of pixels and, for a model with an out-of-distribution
        score, ``{"ood_score", "unfamiliar"}`` per image (:mod:`transferkit.runtime.familiar`)."""

    def explain(self, upload: Upload, class_index: int | None) -> Explained:
        """Grad-CAM of the upload for ``class_index`` (default: the top class), or :class:`Problem`."""


def load_predictor(model: str) -> Predictor:
    """The adapter for ``model``: an ``.onnx`` file, a ``.keras`` file or a zoo name (TransferkitError if none)."""
    if model.endswith(".onnx"):
        return OnnxPredictor(model)
    return KerasPredictor(model)


def upload_file(upload: Upload) -> io.BytesIO:
    """The upload's bytes as the open, named file :mod:`transferkit.data.images` reads (as it reads a path)."""
    handle = io.BytesIO(upload.data)
    handle.name = upload.name
    return handle


def problem(upload: Upload, exc: ImageError) -> Problem:
    """The HTTP answer to an image that cannot be used, by the way it failed (:attr:`ImageError.kind`)."""
    if exc.kind == "empty":
        return Problem(400, "empty_image", f"image '{upload.name}' is empty (0 bytes).")
    if exc.kind == "format":
        return Problem(415, "not_an_image", f"'{upload.name}' is not an image Pillow can read (send JPEG, PNG, WebP, "
                       "GIF, BMP or TIFF).")  # fmt: skip
    if exc.kind == "pixels":
        return Problem(413, "too_many_pixels", f"image '{upload.name}': {exc.reason} on the server.")
    return Problem(400, "corrupt_image", f"image '{upload.name}': {exc.reason}.")


class KerasPredictor:
    """A ``.keras`` classifier or a zoo model (ImageNet labels), through :mod:`transferkit.inference`."""

    can_explain = True

    def __init__(self, model: str) -> None:
        from ..inference.predict import class_names, load_model
        from ..models.preprocess import input_spec

        self.model = load_model(model)  # an ImageClassifier (file) or a Keras model (zoo)
        self.keras_model = getattr(self.model, "model", self.model)
        self.name = os.path.basename(model) if model.endswith(".keras") else model
        self.format = "keras" if hasattr(self.model, "class_names") else "zoo"
        self.image_size, self.crop_pct = input_spec(self.keras_model)
        count = int(self.keras_model.output_shape[-1])
        self.class_names = list(getattr(self.model, "class_names", None) or class_names(self.keras_model, count))
        self.base_model = getattr(self.model, "base_model", None) or _zoo_name(model)
        self.thresholds: list[float | None] | None = getattr(self.model, "thresholds", None)
        self.multi_label = bool(getattr(self.model, "multi_label", False))

    def pixels(self, upload: Upload) -> np.ndarray:
        try:
            return images.load(upload_file(upload), self.image_size, self.crop_pct)  # as `transferkit predict`
        except ImageError as exc:
            raise problem(upload, exc) from None

    def outputs(self, batch: np.ndarray, tta: bool) -> tuple[np.ndarray, list[dict[str, Any]] | None]:
        from ..inference.predict import outputs

        familiar = getattr(self.model, "familiar", None)  # a zoo model has none, nor a temperature
        runs = self.keras_model if familiar is None else self.model.with_features
        temperature = getattr(self.model, "temperature", 1.0)
        multi_label = getattr(self.model, "multi_label", False)
        probs, features = outputs(runs, batch, max(1, len(batch)), tta, temperature, multi_label)
        return probs, None if familiar is None or features is None else familiar.judge(features)

    def explain(self, upload: Upload, class_index: int | None) -> Explained:
        from ..inference.explain import grad_cam, overlay_png

        try:
            found = grad_cam(self.model, upload_file(upload), class_index)
        except ImageError as exc:
            raise problem(upload, exc) from None
        except ModelFileError as exc:
            raise Problem(501, "cannot_explain", str(exc)) from None
        shown = found.image.copy()
        shown.thumbnail((OVERLAY_SIDE, OVERLAY_SIDE))  # the heatmap is stretched to it
        return Explained(overlay_png(shown, found.heatmap), found.class_index, found.label, found.probability)


class OnnxPredictor:
    """An exported ``.onnx`` classifier on onnxruntime: neither Keras nor torch is imported."""

    format = "onnx"
    can_explain = False

    def __init__(self, path: str) -> None:
        from ..runtime import OnnxClassifier

        self.model = OnnxClassifier(path)
        self.name = os.path.basename(path)
        self.class_names = self.model.class_names
        self.image_size = self.model.image_size
        self.base_model = self.model.base_model
        self.thresholds = self.model.thresholds
        self.multi_label = self.model.multi_label

    def pixels(self, upload: Upload) -> np.ndarray:
        try:
            images.check(upload_file(upload))  # the limits, from the header alone
            return self.model.load_image(upload_file(upload))
        except ImageError as exc:
            raise problem(upload, exc) from None

    def outputs(self, batch: np.ndarray, tta: bool) -> tuple[np.ndarray, list[dict[str, Any]] | None]:
        return self.model.outputs(batch, tta=tta)

    def explain(self, upload: Upload, class_index: int | None) -> Explained:
        raise Problem(
            501, "cannot_explain",
            f"'{self.name}' is an ONNX export: explanations (Grad-CAM) need the .keras model it was exported from "
            "(gradients are not in an .onnx file); serve the .keras file to get them.",
        )  # fmt: skip


def _zoo_name(model: str) -> str:
    from ..zoo import registry

    try:
        return registry.get(model).name
    except LookupError:
        return model
