"""The one way a pretrained model is built: a registry model with its weights and its preprocessing layer in front.

Every model returned here takes 0-255 RGB images: the first layer after the input is
:class:`~transferkit.models.preprocess.Preprocess` with the family's normalisation, so callers never
normalise. Every family is built the same way -- the builder gets the ``Preprocess`` output as
``input_tensor`` and ``weights=None`` -- and the weights file is loaded afterwards, so transferkit, not
Keras, decides where weights come from (cache, mirror, offline mode; see :mod:`transferkit.zoo.weights`).
:meth:`ImageClassifier.from_pretrained <transferkit.ImageClassifier.from_pretrained>` and
:mod:`transferkit.applications` are thin layers over :func:`load_pretrained`.
"""

from __future__ import annotations

import os
import shutil
import warnings
from typing import Any

import keras
import numpy as np

from .._util.atomic import atomic_path
from ..errors import DiskFullError, ModelFileError
from ..zoo import registry, weights as weights_mod
from ..zoo.specs import ModelSpec
from .backbones import efficientnet_lite
from .preprocess import Preprocess

Shape = tuple[int | None, int | None, int]


def load_pretrained(
    name: str = "efficientnet_lite0",
    weights: str | os.PathLike[str] | None = "imagenet",
    include_top: bool = True,
    input_shape: Shape | None = None,
    classifier_activation: str | None = "softmax",
    *,
    auto_range: bool = False,
) -> Any:
    """A pretrained model by name (``"resnet50"``, ``"inception"``, ``"EfficientNetLite0"`` ...).

    ``weights``: ``"imagenet"`` (fetched or converted and cached once), ``None`` (random init) or the path
    of a weights file. ``include_top=False`` drops the ImageNet classifier, leaving feature maps; then
    ``input_shape`` may be any ``(height, width, 3)`` down to the model's minimum, ``None`` sides included.
    ``auto_range=True`` also accepts 0-1 input, as Keras 2 code that rescales by 1/255 feeds it.
    Raises :class:`UnknownModelError` for an unknown name, :class:`WeightsError` when the weights cannot
    be had (before anything is built) and :class:`ModelFileError` for a shape or file the model cannot use.
    """
    spec = registry.get(name)
    shape = _input_shape(spec, input_shape, include_top)
    path = _weights_path(spec, weights, include_top)

    inputs = keras.Input(shape=shape, name="image")
    norm = spec.normalization
    crop_pct = spec.crop_pct if include_top else None
    x = Preprocess(norm.mean, norm.std, norm.bgr, crop_pct, auto_range=auto_range, name="preprocess")(inputs)
    kwargs: dict[str, Any] = dict(
        spec.builder_kwargs, include_top=include_top, weights=None, input_tensor=x, input_shape=shape
    )
    if include_top:
        kwargs["classifier_activation"] = classifier_activation
    model = spec.build_fn()(**kwargs)
    if path is not None:
        _load_file(model, path, spec, include_top)
    elif weights is not None:  # "imagenet" from a package
        _load_package_weights(model, spec, include_top)
    return model


def _input_shape(spec: ModelSpec, input_shape: Shape | None, include_top: bool) -> Shape:
    """The model's input shape: the spec's size by default, else the caller's, checked against the spec."""
    if input_shape is None:
        return (spec.input_size, spec.input_size, 3)
    shape = tuple(input_shape)
    sides = shape[:2]
    fits = len(shape) == 3 and shape[2] == 3 and all(s is None or (isinstance(s, int) and s > 0) for s in sides)
    if not fits:
        raise ModelFileError(
            f"'{spec.name}' takes RGB images: input_shape must be (height, width, 3). Received: "
            f"input_shape={input_shape!r}."
        )
    if any(s is not None and s < spec.min_input_size for s in sides):
        raise ModelFileError(
            f"'{spec.name}' needs images of at least {spec.min_input_size}x{spec.min_input_size} pixels. "
            f"Received: input_shape={input_shape!r}."
        )
    if include_top and None in sides:
        raise ModelFileError(
            f"With include_top=True '{spec.name}' needs a fixed image size: pass input_shape=(height, width, 3), "
            f"e.g. ({spec.input_size}, {spec.input_size}, 3), or include_top=False. Received: "
            f"input_shape={input_shape!r}."
        )
    return shape  # type: ignore[return-value]


def _weights_path(spec: ModelSpec, weights: str | os.PathLike[str] | None, include_top: bool) -> str | None:
    """The file to load into the model, fetched now; None for random weights or package-shipped ones."""
    if weights is None:
        return None
    if isinstance(weights, str) and weights == "imagenet":
        if spec.package_weights is not None:
            return None
        file = spec.weights if include_top else spec.weights_notop
        if file is None:
            raise ModelFileError(
                f"'{spec.name}' has no ImageNet weights {'with' if include_top else 'without'} its top: "
                "use weights=None."
            )
        return str(weights_mod.fetch(file, model_name=spec.name))
    path = os.fspath(weights)
    if not os.path.isfile(path):
        raise ModelFileError(
            f"Weights file '{path}' does not exist: weights= takes 'imagenet', None or the path of a weights file."
        )
    return path


def _load_package_weights(model: Any, spec: ModelSpec, include_top: bool) -> None:
    """Load the cached Keras conversion, converting from the package's PyTorch file the first time."""
    cached = weights_mod.converted_path(spec, include_top)
    if cached.is_file():
        try:
            model.load_weights(cached)
            return
        except Exception:  # a damaged cache entry is rebuilt, never trusted
            cached.unlink(missing_ok=True)
    assert spec.package_weights is not None
    _load_file(model, os.fspath(weights_mod.package_file(spec.package_weights)), spec, include_top)
    # the cache only saves the next conversion: on a full disk the model is loaded all the same. Checked before
    # writing: h5py reports a failed write from a destructor as well, as a stray traceback
    needed = sum(int(np.prod(w.shape)) * 4 for w in model.weights) + 1_000_000
    cached.parent.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(cached.parent).free
    try:
        if free < needed:
            raise DiskFullError(
                f"No space left in '{cached.parent}' for '{cached.name}': it needs about {needed / 1e6:.1f} MB, "
                f"{free / 1e6:.1f} MB is free."
            )
        with atomic_path(cached) as temp:
            model.save_weights(temp)
    except DiskFullError as exc:
        warnings.warn(f"{exc} The converted weights were not cached; they will be converted again next time.",
                      stacklevel=3)  # fmt: skip


def _load_file(model: Any, path: str, spec: ModelSpec, include_top: bool) -> None:
    """A ``.pth`` reference state dict (converted; EfficientNet-Lite only) or a Keras weights file."""
    if path.endswith((".pth", ".pt")):
        if spec.package_weights is None:
            raise ModelFileError(
                f"'{path}' is a PyTorch file; '{spec.name}' loads Keras weights files (.h5, .weights.h5)."
            )
        efficientnet_lite.assign_torch_weights(model, efficientnet_lite.load_torch_state(path), spec.name)
        return
    try:
        model.load_weights(path)
    except Exception as exc:
        size = spec.input_size
        hint = ""
        if include_top and model.input_shape[1:3] != (size, size):
            hint = f" With include_top=True the ImageNet weights need input_shape=({size}, {size}, 3)."
        raise ModelFileError(f"'{path}' does not fit '{spec.name}': {exc}.{hint}") from None
