"""Building a registry model with its pretrained weights and its preprocessing layer in front.

Every model returned here takes 0-255 RGB images: the first layer after the input is
:class:`transferkit.layers.Preprocess` with the family's normalisation, so callers never normalise.
"""

from __future__ import annotations

import os
from typing import Any

from . import registry, weights as weights_mod
from ._atomic import atomic_path
from .errors import ModelFileError


def load_pretrained(
    name: str = "efficientnet_lite0",
    weights: str | os.PathLike[str] | None = "imagenet",
    include_top: bool = True,
    input_shape: tuple[int | None, int | None, int] | None = None,
    classifier_activation: str | None = "softmax",
) -> Any:
    """A pretrained model by name (``"resnet50"``, ``"inception"``, ``"EfficientNetLite0"`` ...).

    ``weights``: ``"imagenet"`` (fetched or converted and cached once), ``None`` (random init) or the path
    of a weights file. ``include_top=False`` drops the ImageNet classifier, leaving feature maps.
    Raises :class:`UnknownModelError` for an unknown name and :class:`WeightsError` when the weights
    cannot be had.
    """
    spec = registry.get(name)
    from ._backend import keras as _keras
    from .layers import Preprocess

    keras = _keras()
    size = spec.input_size
    shape = tuple(input_shape) if input_shape is not None else (size, size, 3)
    inputs = keras.Input(shape=shape, name="image")
    norm = spec.normalization
    x = Preprocess(norm.mean, norm.std, norm.bgr, spec.crop_pct if include_top else None, name="preprocess")(inputs)

    kwargs: dict[str, Any] = dict(spec.builder_kwargs, include_top=include_top, input_tensor=x)
    if include_top:
        kwargs["classifier_activation"] = classifier_activation
    if spec.package_weights is None:  # Keras applications load their own weights file
        kwargs["weights"] = _keras_weights(spec, weights, include_top)
    model = spec.build_fn()(**kwargs)
    if spec.package_weights is not None and weights == "imagenet":
        _load_package_weights(model, spec, include_top)
    elif spec.package_weights is not None and weights is not None:
        _load_file(model, os.fspath(weights), spec)
    return model


def _keras_weights(spec: registry.ModelSpec, weights: str | os.PathLike[str] | None, include_top: bool) -> str | None:
    if weights is None:
        return None
    if weights == "imagenet":
        file = spec.weights if include_top else spec.weights_notop
        if file is None:
            raise ModelFileError(
                f"'{spec.name}' has no ImageNet weights {'with' if include_top else 'without'} its top."
            )
        return str(weights_mod.fetch(file))
    if not os.path.isfile(weights):
        raise ModelFileError(f"Weights file '{os.fspath(weights)}' does not exist.")
    return os.fspath(weights)


def _load_package_weights(model: Any, spec: registry.ModelSpec, include_top: bool) -> None:
    """Load the cached Keras conversion, converting from the package's PyTorch file the first time."""
    cached = weights_mod.converted_path(spec, include_top)
    if cached.is_file():
        try:
            model.load_weights(cached)
            return
        except Exception:  # a damaged cache entry is rebuilt, never trusted
            cached.unlink(missing_ok=True)
    assert spec.package_weights is not None
    _load_file(model, os.fspath(weights_mod.package_file(spec.package_weights)), spec)
    with atomic_path(cached) as temp:
        model.save_weights(temp)


def _load_file(model: Any, path: str, spec: registry.ModelSpec) -> None:
    """A ``.pth`` reference state dict (converted) or a Keras weights file."""
    if not os.path.isfile(path):
        raise ModelFileError(f"Weights file '{path}' does not exist.")
    if path.endswith((".pth", ".pt")):
        from .backbones import efficientnet_lite

        efficientnet_lite.assign_torch_weights(model, efficientnet_lite.load_torch_state(path), spec.name)
    else:
        try:
            model.load_weights(path)
        except Exception as exc:
            raise ModelFileError(f"'{path}' does not fit '{spec.name}': {exc}") from None
