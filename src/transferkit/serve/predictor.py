"""What the server needs of a model, whatever its format: decoded uploads, probabilities, explanations.

:func:`load_predictor` picks the adapter: a ``.keras`` file or a zoo name runs on Keras
(:mod:`transferkit.inference`), an ``.onnx`` export on onnxruntime alone
(:class:`transferkit.runtime.OnnxClassifier`; neither Keras nor torch is imported). Uploads are decoded
here with Pillow as the CLI decodes files, so the server's answers equal ``transferkit predict``'s, and
every failure is a :class:`Problem` naming the image and the HTTP status it deserves.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

import numpy as np

from .. import config
from ..errors import ImageError, ModelFileError

#: Longest side of a Grad-CAM overlay sent back: enough to read it, small enough to send.
OVERLAY_SIDE = 640
_BIGGER = "set TRANSFERKIT_MAX_PIXELS on the server to allow larger images"


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


def open_upload(upload: Upload, draft: tuple[int, int] | None = None, decode: bool = True) -> Any:
    """The upload opened by Pillow, its pixels decoded unless ``decode`` is false (then only the header is read).

    The checks of :func:`transferkit.data.images.open_rgb`, for bytes: empty (400), not an image (415), over
    ``TRANSFERKIT_MAX_PIXELS`` (413, before any pixel is decoded), truncated or corrupt (400). ``draft`` lets
    a JPEG decode at reduced size, as the CLI does, so answers stay equal to its.
    """
    from PIL import Image, UnidentifiedImageError

    if not upload.data:
        raise Problem(400, "empty_image", f"image '{upload.name}' is empty (0 bytes).")
    limit = config.max_pixels()
    if limit > (Image.MAX_IMAGE_PIXELS or 0):
        Image.MAX_IMAGE_PIXELS = limit  # Pillow's own check would refuse before ours
    try:
        image = Image.open(io.BytesIO(upload.data))
    except UnidentifiedImageError:
        raise Problem(
            415, "not_an_image", f"'{upload.name}' is not an image Pillow can read (send JPEG, PNG, WebP, GIF, BMP "
            "or TIFF)."
        ) from None  # fmt: skip
    except Image.DecompressionBombError as exc:
        raise Problem(413, "too_many_pixels", f"image '{upload.name}': {exc}; {_BIGGER}.") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise Problem(400, "corrupt_image", f"image '{upload.name}' is truncated or corrupt ({exc}).") from None
    width, height = image.size
    if width * height > limit:
        raise Problem(
            413, "too_many_pixels",
            f"image '{upload.name}' is {width}x{height} = {width * height:,} pixels, over the limit of {limit:,}; "
            f"{_BIGGER}.",
        )  # fmt: skip
    if not decode:
        return image
    if draft is not None and image.format == "JPEG":
        image.draft("RGB", draft)
    try:
        image.load()
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise Problem(400, "corrupt_image", f"image '{upload.name}' is truncated or corrupt ({exc}).") from None
    return image


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
        height, width = self.image_size
        # images.load's draft size, so a large JPEG is decoded exactly as `transferkit predict` decodes it
        scale = 1.0 if self.crop_pct is None else self.crop_pct
        self._draft = (int(width / scale), int(height / scale))

    def pixels(self, upload: Upload) -> np.ndarray:
        from ..data import images

        image = open_upload(upload, self._draft)
        try:
            return images.load(image, self.image_size, self.crop_pct)
        except ImageError as exc:
            raise Problem(400, "corrupt_image", f"image '{upload.name}': {exc.reason}.") from None

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

        image = open_upload(upload, self._draft)
        try:
            found = grad_cam(self.model, image, class_index)
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
        open_upload(upload, decode=False)  # the limits, from the header alone
        try:
            return self.model.load_image(io.BytesIO(upload.data))
        except ImageError as exc:
            raise Problem(400, "corrupt_image", f"image '{upload.name}': {exc.reason}.") from None

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
