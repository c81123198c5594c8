"""An exported classifier (``transferkit export``) used with onnxruntime, NumPy and Pillow only.

How to use the file from any Python, which this class also shows::

    session = onnxruntime.InferenceSession("model.onnx")
    info = json.loads(session.get_modelmeta().custom_metadata_map["transferkit"])  # class names, size ...
    pixels = ...  # (n, height, width, 3) RGB, 0-255, float32 (uint8 for `--input-dtype uint8`): normalised inside
    probabilities = session.run(None, {session.get_inputs()[0].name: pixels})[0]
    # calibrated: softmax(log(probabilities) / info.get("temperature", 1.0)) (transferkit.runtime.confidence)
    # a second output, where there is one, is the features for the out-of-distribution score (.familiar)

Images are fitted as transferkit fits them for the Keras model: EXIF orientation applied, transparency on
white, RGB; a fine-tuned classifier sees the whole image resized to its size (bilinear, antialiased), an
ImageNet classifier (``crop_pct`` in the metadata) the shorter side scaled to ``size / crop_pct`` and the
centre cropped. Pillow's bilinear resize is within one level of the pixels the Keras path feeds.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import IO, Any

import numpy as np

from ..errors import ImageError, ModelFileError
from . import tta as tta_views
from .confidence import apply_temperature
from .familiar import Familiarity

METADATA_KEY = "transferkit"
#: The metadata entry holding the out-of-distribution score's training features (base64 ``.npy``).
FAMILIAR_KEY = "transferkit_familiar"


class OnnxClassifier:
    """A transferkit ONNX export: ``class_names``, ``image_size`` and ``predict`` as the Keras classifier has."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        import onnxruntime

        if not os.path.isfile(path):
            raise ModelFileError(f"ONNX file '{os.fspath(path)}' does not exist.")
        try:
            self.session = onnxruntime.InferenceSession(os.fspath(path), providers=["CPUExecutionProvider"])
        except Exception as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise ModelFileError(f"'{os.fspath(path)}' is not a usable ONNX model ({reason}).") from None
        meta = self.session.get_modelmeta().custom_metadata_map
        if METADATA_KEY not in meta:
            raise ModelFileError(f"'{os.fspath(path)}' has no transferkit metadata: make it with `transferkit export`.")
        self.info: dict[str, Any] = json.loads(meta[METADATA_KEY])
        self.class_names: list[str] = list(self.info["class_names"])
        height, width = self.info["image_size"]
        self.image_size: tuple[int, int] = (int(height), int(width))
        self.crop_pct: float | None = (self.info.get("preprocessing") or {}).get("crop_pct")
        self.base_model: str = self.info.get("base_model", "")
        #: temperature scaling fit after training (1.0: none; exports made before it existed have none)
        self.temperature: float = float(self.info.get("temperature", 1.0))
        #: per-class probability floors for a target precision (``train --target-precision``), or None; for a
        #: multi-label model (sigmoid outputs, ``multi_label``), each label's decision threshold
        self.thresholds: list[float | None] | None = self.info.get("thresholds")
        self.multi_label: bool = bool(self.info.get("multi_label", False))
        #: training features that score how unlike them an image is (:mod:`.familiar`), or None
        self.familiar = (
            Familiarity.load(self.info["familiar"], meta[FAMILIAR_KEY]) if self.info.get("familiar") else None
        )
        (graph_input,) = self.session.get_inputs()
        self.input_name: str = graph_input.name
        self.input_dtype = np.uint8 if graph_input.type == "tensor(uint8)" else np.float32

    def load_image(self, source: str | os.PathLike[str] | IO[bytes]) -> np.ndarray:
        """One image (a file path or an open binary file) as the model's float32 (height, width, 3) 0-255 RGB
        input; :class:`ImageError` when it cannot be read."""
        from PIL import Image, ImageOps, UnidentifiedImageError

        name = os.fspath(source) if isinstance(source, (str, os.PathLike)) else str(getattr(source, "name", "image"))
        try:
            with Image.open(source) as opened:
                image = ImageOps.exif_transpose(opened)
                if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
                    rgba = image.convert("RGBA")
                    image = Image.alpha_composite(Image.new("RGBA", rgba.size, "white"), rgba)
                image = self._fit(image.convert("RGB"))
        except FileNotFoundError:
            raise ImageError(name, "no such file") from None
        except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
            raise ImageError(name, f"not a readable image ({exc})") from None
        return np.asarray(image, np.float32)

    def probabilities(self, pixels: np.ndarray, tta: bool = False, calibrated: bool = True) -> np.ndarray:
        """Class probabilities ``(n, classes)`` of ``(n, height, width, 3)`` 0-255 pixels, scaled by the
        file's ``temperature`` unless ``calibrated`` is false (the graph's own output, as the parity gate
        compares it); ``tta`` averages them with the mirror images' (:mod:`transferkit.runtime.tta`)."""
        return self.outputs(pixels, tta, calibrated)[0]

    def outputs(
        self, pixels: np.ndarray, tta: bool = False, calibrated: bool = True
    ) -> tuple[np.ndarray, list[dict[str, Any]] | None]:
        """:meth:`probabilities` and, for a file with an out-of-distribution score, ``{"ood_score",
        "unfamiliar"}`` per image (from the images themselves, not their mirror images), in one run."""
        judged: list[list[dict[str, Any]]] = []

        def run(batch: np.ndarray) -> np.ndarray:
            found = self.session.run(None, {self.input_name: self.cast(batch)})
            if self.familiar is not None and len(found) > 1 and not judged:
                judged.append(self.familiar.judge(np.asarray(found[1])))
            raw = np.asarray(found[0])
            return apply_temperature(raw, self.temperature) if calibrated else raw

        pixels = np.asarray(pixels)
        probs = tta_views.averaged(run, pixels) if tta else run(pixels)
        return probs, judged[0] if judged else None

    def cast(self, pixels: np.ndarray) -> np.ndarray:
        """``pixels`` as the file's input type: float32, or uint8 rounded (``--input-dtype uint8``)."""
        if self.input_dtype == np.uint8 and pixels.dtype != np.uint8:
            pixels = np.clip(np.rint(pixels), 0, 255)
        return pixels.astype(self.input_dtype, copy=False)

    def predict(self, images: Sequence[Any], top: int = 1, tta: bool = False) -> list[list[tuple[str, int, float]]]:
        """Top-``top`` (label, class index, probability) per image: file paths or (h, w, 3) arrays."""
        pixels = np.stack([self.load_image(i) if isinstance(i, (str, os.PathLike)) else np.asarray(i) for i in images])
        return self.top(self.probabilities(pixels, tta=tta), top)

    def top(self, probabilities: np.ndarray, k: int) -> list[list[tuple[str, int, float]]]:
        """The ``k`` most probable (label, class index, probability) of each row, most probable first."""
        out = []
        for row in probabilities:
            best = np.argsort(-row, kind="stable")[:k]
            out.append([(self.class_names[i], int(i), float(row[i])) for i in best])
        return out

    def _fit(self, image: Any) -> Any:
        from PIL import Image

        height, width = self.image_size
        if self.crop_pct is None:
            return image.resize((width, height), Image.Resampling.BILINEAR)
        scale = max(height, width) / self.crop_pct / min(image.size)
        new_w, new_h = max(width, round(image.size[0] * scale)), max(height, round(image.size[1] * scale))
        image = image.resize((new_w, new_h), Image.Resampling.BILINEAR)
        left, top = (new_w - width) // 2, (new_h - height) // 2
        return image.crop((left, top, left + width, top + height))
