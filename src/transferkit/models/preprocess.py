"""The Keras layer that makes a model take plain 0-255 RGB images: its normalisation, saved with it.

Every model transferkit builds starts with this layer, so preprocessing cannot be forgotten, doubled, or
lost when the model is saved and loaded elsewhere. It also records how images are fitted to the input
(``crop_pct``; see :mod:`transferkit.data.images`), which :func:`input_spec` reads back: the one place that
finds a model's preprocessing, for prediction, export and the article's in-place models alike.
"""

from __future__ import annotations

from typing import Any

import keras


@keras.saving.register_keras_serializable(package="transferkit")
class Preprocess(keras.layers.Layer):
    """Optional RGB->BGR swap, then ``(x - mean) / std``, on 0-255 RGB input.

    ``auto_range=True`` also accepts 0-1 input, detected per batch (maximum <= 1), for code written for
    Keras 2 that rescales by 1/255 before the model (the article's ``ImageDataGenerator(rescale=1./255)``).
    """

    def __init__(
        self,
        mean: tuple[float, ...] = (0.0, 0.0, 0.0),
        std: tuple[float, ...] = (1.0, 1.0, 1.0),
        bgr: bool = False,
        crop_pct: float | None = None,
        auto_range: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.mean = tuple(float(m) for m in mean)
        self.std = tuple(float(s) for s in std)
        self.bgr = bool(bgr)
        self.crop_pct = crop_pct
        self.auto_range = bool(auto_range)

    def call(self, inputs: Any) -> Any:
        ops = keras.ops
        x = ops.cast(inputs, self.compute_dtype)
        if self.auto_range:
            x = x * ops.where(ops.max(x) <= 1.0, 255.0, 1.0)
        if self.bgr:
            x = ops.flip(x, axis=-1)
        if any(m != 0.0 for m in self.mean):
            x = x - ops.convert_to_tensor(self.mean, dtype=self.compute_dtype)
        if any(s != 1.0 for s in self.std):
            x = x / ops.convert_to_tensor(self.std, dtype=self.compute_dtype)
        return x

    def compute_output_shape(self, input_shape: Any) -> Any:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        config: dict[str, Any] = super().get_config()
        config.update(
            mean=list(self.mean), std=list(self.std), bgr=self.bgr, crop_pct=self.crop_pct, auto_range=self.auto_range
        )
        return config


def find_preprocess(model: Any) -> Preprocess | None:
    """The model's :class:`Preprocess` layer: among its first layers, or inside a nested backbone; None if absent."""
    model = getattr(model, "model", model)  # an ImageClassifier
    for layer in model.layers[:3]:
        if isinstance(layer, Preprocess):
            return layer
        if hasattr(layer, "layers"):
            found = find_preprocess(layer)
            if found is not None:
                return found
    return None


def input_spec(model: Any) -> tuple[tuple[int, int], float | None]:
    """The (height, width) a model (or ImageClassifier) wants and its fitting policy, read from the model itself."""
    model = getattr(model, "model", model)
    height, width = model.input_shape[1:3]
    layer = find_preprocess(model)
    return (height or 224, width or 224), layer.crop_pct if layer is not None else None
