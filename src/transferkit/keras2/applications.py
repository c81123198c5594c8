"""The article's model constructors: every zoo model under its Keras class name, plus ``Inception``.

``InceptionV3(weights="imagenet")`` takes the arguments of ``keras.applications.InceptionV3`` but returns a
:class:`PretrainedModel`: a ``keras.Sequential`` whose first layer is the pretrained backbone (one functional
sub-model, input normalisation included) and whose other layers are the top layers (``avg_pool``,
``predictions`` ...). So the article's calls work in their intended meaning, in place::

    from keras.layers import Dense
    from transferkit.applications import Inception

    model = Inception(weights="imagenet")
    model.pop()                                   # remove the ImageNet classifier
    model.add(Dense(10, activation="softmax"))    # Keras's own Sequential.add
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])

``model.layers[0]`` is the backbone; removing it (the article's literal ``model.remove(model.layers[0])``)
fails with a message naming the top layers to remove instead. Every model takes 0-255 RGB images (and 0-1).
Loading a saved model needs this module imported (``import transferkit.applications``), which registers the
class. The graph operations live in :mod:`transferkit.models.surgery`, the building in
:func:`~transferkit.models.pretrained.load_pretrained`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from typing import Any

import keras

from .._util.suggest import did_you_mean
from ..errors import SurgeryError
from ..models import graph, heads, surgery
from ..models.preprocess import find_preprocess
from ..models.pretrained import load_pretrained
from ..zoo import registry

#: The article's name for InceptionV3.
ARTICLE_ALIASES = {"Inception": "InceptionV3"}


@keras.saving.register_keras_serializable(package="transferkit")
class PretrainedModel(keras.Sequential):
    """A pretrained backbone followed by top layers, changed in place with the article's calls.

    ``model_name`` is the registry name it was built from; ``class_names`` (saved with the model) name the
    outputs of a head made by :meth:`replace_head`.
    """

    def __init__(
        self,
        layers: Sequence[Any] | None = None,
        trainable: bool = True,
        name: str | None = None,
        model_name: str | None = None,
        class_names: Sequence[str] | None = None,
    ) -> None:
        super().__init__(layers=layers, trainable=trainable, name=name)
        self.model_name = model_name
        self.class_names = list(class_names) if class_names else None

    @property
    def backbone(self) -> Any:
        """The pretrained network below its top layers (``model.layers[0]``)."""
        return self.layers[0]

    @property
    def top_layers(self) -> list[Any]:
        """The layers after the backbone, bottom first."""
        return self.layers[1:]

    def pop(self, rebuild: bool = True) -> Any:
        """Remove the last top layer (never the backbone) and return it."""
        if len(self.layers) <= 1:
            raise SurgeryError(
                f"'{self.name}' has no layers on top of its backbone '{self.backbone.name}' to remove. "
                "Use model.cut(at=NAME) to end the backbone at an inner layer."
            )
        layer = super().pop(rebuild)
        self._classifier_changed()
        return layer

    def remove(self, layer: Any) -> None:
        """Remove a top layer, given as the layer, its name or its index in ``model.layers``.

        Layers above it are reconnected (re-initialised with a warning if their input size changes). The
        backbone, the input layer or a layer inside the backbone raise :class:`SurgeryError`.
        """
        target = self._resolve(layer)
        index = self._layers.index(target) if any(target is item for item in self._layers) else -1
        if index <= 1:
            raise SurgeryError(self._not_removable(target))
        above = list(self._layers[index + 1 :])
        shapes = [surgery.io_shapes(self, item) for item in above]
        plan = surgery.rewire(
            target.name,
            layers=above,
            old_in=[s[0] for s in shapes],
            old_out=[s[1] for s in shapes],
            shape=surgery.io_shapes(self, target)[0],
        )
        self._replace_layers(index, plan)

    def cut(self, at: Any) -> None:
        """End the network at the output of layer ``at`` (a name or layer, in the backbone or on top)."""
        target = self._resolve(at)
        if graph.is_input(target):
            raise SurgeryError(self._not_removable(target))
        if any(target is item for item in self._layers):
            self._replace_layers(self._layers.index(target) + 1, [])
        else:
            self._replace_layers(1, [surgery.cut(self.backbone, target)])

    def replace_head(
        self, num_classes: int | None = None, *, classes: Sequence[str] | None = None, dropout: float = 0.2
    ) -> None:
        """Replace every top layer with global pooling (if needed), dropout and a softmax ``Dense``."""
        count = heads.head_size(num_classes, classes, dropout)
        taken = {item.name for item in self._layers[:2]}
        self._replace_layers(2, heads.head_layers(self.backbone.output_shape, count, dropout=dropout, taken=taken))
        self.class_names = list(classes) if classes is not None else None

    def freeze(self, pattern: surgery.Pattern | None = None, *, from_layer: surgery.Start | None = None) -> None:
        """Freeze the backbone, or the layers :func:`transferkit.surgery.select` picks."""
        surgery.freeze(self, self._default(pattern, from_layer), from_layer=from_layer)

    def unfreeze(
        self,
        pattern: surgery.Pattern | None = None,
        *,
        from_layer: surgery.Start | None = None,
        include_batchnorm: bool = False,
    ) -> None:
        """Unfreeze the backbone (or the layers :func:`transferkit.surgery.select` picks); BatchNormalization
        stays frozen unless ``include_batchnorm``."""
        surgery.unfreeze(
            self, self._default(pattern, from_layer), from_layer=from_layer, include_batchnorm=include_batchnorm
        )

    def get_config(self) -> dict[str, Any]:
        config: dict[str, Any] = super().get_config()
        config.update(model_name=self.model_name, class_names=list(self.class_names) if self.class_names else None)
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any], custom_objects: Any = None) -> PretrainedModel:
        config = dict(config)
        model_name, class_names = config.pop("model_name", None), config.pop("class_names", None)
        model: PretrainedModel = super().from_config(config, custom_objects=custom_objects)
        model.model_name = model_name
        model.class_names = list(class_names) if class_names else None
        return model

    # -- internals ---------------------------------------------------------------------------------------------

    def _resolve(self, layer: Any) -> Any:
        if self._layers and layer is self._layers[0] and graph.is_input(layer):
            return layer
        return surgery.resolve(self, layer)

    def _default(self, pattern: surgery.Pattern | None, from_layer: surgery.Start | None) -> surgery.Pattern | None:
        """The backbone, when neither a pattern nor a starting layer is given."""
        if pattern is None and from_layer is None:
            return re.compile(f"^{re.escape(self.backbone.name)}$")
        return pattern

    def _not_removable(self, target: Any) -> str:
        top = ", ".join(layer.name for layer in self.top_layers)
        instead = (
            f"To remove the ImageNet classifier call model.pop() (top layers: {top}); "
            if top
            else "It has no layers on top to remove; "
        )
        if target is self.backbone:
            return (
                f"model.layers[0] is the pretrained backbone '{target.name}' (the whole network below the "
                f"classifier, not its first fully-connected layer); removing it would leave nothing to train. "
                f"{instead}to end the backbone at an inner layer, model.cut(at=NAME)."
            )
        if graph.is_input(target):
            return f"'{target.name}' is the input layer and cannot be removed. {instead}or model.cut(at=NAME)."
        return surgery.not_on_top_message(self.backbone, target, self.top_layers, call="model.")

    def _replace_layers(self, start: int, new: Sequence[Any]) -> None:
        """Replace ``self._layers[start:]`` with ``new`` and rebuild, restoring the old stack if that fails."""
        old = list(self._layers)
        while len(self._layers) > start:
            self._layers.pop()  # TrackedList.pop also untracks the layer's weights
        self._layers.extend(new)
        try:
            self._maybe_rebuild()
        except Exception as exc:
            self._layers.clear()
            self._layers.extend(old)
            self._maybe_rebuild()
            raise SurgeryError(f"Changing the top of '{self.name}' failed: {exc}") from None
        self._classifier_changed()

    def _classifier_changed(self) -> None:
        """Images for a new classifier are resized whole, as in training, not centre-cropped as for ImageNet."""
        layer = find_preprocess(self.backbone)
        if layer is not None:
            layer.crop_pct = None
        if self.class_names and self.output_shape[-1] != len(self.class_names):
            self.class_names = None


def pretrained_model(
    name: str,
    include_top: bool = True,
    weights: str | os.PathLike[str] | None = "imagenet",
    input_shape: tuple[int | None, int | None, int] | None = None,
    pooling: str | None = None,
    classes: int = 1000,
    classifier_activation: str | None = "softmax",
) -> PretrainedModel:
    """A :class:`PretrainedModel` for a registry name, with Keras's ``applications`` arguments.

    ``classes`` other than 1000 (with ``include_top``) replaces the ImageNet classifier by a new head of that
    size; ``pooling`` (``"avg"``/``"max"``) adds global pooling to a model without its top.
    """
    if pooling not in (None, "avg", "max"):
        raise SurgeryError(f"pooling must be None, 'avg' or 'max'; received {pooling!r}.")
    if classes != 1000 and not include_top:
        raise SurgeryError(f"classes={classes} needs include_top=True (or add a head: model.replace_head({classes})).")
    spec = registry.get(name)
    full = load_pretrained(
        spec.name,
        weights=weights,
        include_top=include_top,
        input_shape=input_shape,
        classifier_activation=classifier_activation,
        auto_range=True,  # Keras 2 code feeds 0-1 (rescale=1./255) as often as 0-255
    )
    top = surgery.top_layers(full)
    backbone = surgery.pop(full, len(top)) if top else full
    layers: list[Any] = [keras.Input(shape=backbone.input_shape[1:], name="image"), backbone, *top]
    if pooling is not None and not include_top:
        pool = keras.layers.GlobalAveragePooling2D if pooling == "avg" else keras.layers.GlobalMaxPooling2D
        layers.append(pool(name=f"{pooling}_pool"))
    model = PretrainedModel(layers, name=full.name, model_name=spec.name)
    if include_top and classes != 1000:
        model.replace_head(classes)
    return model


def _factory(keras_name: str) -> Callable[..., PretrainedModel]:
    def build(
        include_top: bool = True,
        weights: str | os.PathLike[str] | None = "imagenet",
        input_shape: tuple[int | None, int | None, int] | None = None,
        pooling: str | None = None,
        classes: int = 1000,
        classifier_activation: str | None = "softmax",
    ) -> PretrainedModel:
        return pretrained_model(
            keras_name,
            include_top=include_top,
            weights=weights,
            input_shape=input_shape,
            pooling=pooling,
            classes=classes,
            classifier_activation=classifier_activation,
        )

    build.__name__ = build.__qualname__ = keras_name
    build.__doc__ = (
        f"``{keras_name}`` with ImageNet weights as a :class:`PretrainedModel` (arguments as in "
        "``keras.applications``; see :func:`pretrained_model`)."
    )
    build.model_name = keras_name  # type: ignore[attr-defined]
    return build


def _keras_names() -> list[str]:
    return [spec.keras_name for spec in registry.all_specs()]


Inception = _factory(ARTICLE_ALIASES["Inception"])
Inception.__doc__ = "The article's ``Inception``: :func:`InceptionV3` (Keras has no plain ``Inception``)."
for _name in _keras_names():
    globals()[_name] = _factory(_name)

__all__ = ["Inception", "PretrainedModel", "SurgeryError", "pretrained_model", *_keras_names()]


def __getattr__(name: str) -> Any:
    """Models registered after import, and a suggestion for a misspelt name."""
    if name in _keras_names():
        return _factory(name)
    hint = did_you_mean(name, [*_keras_names(), *ARTICLE_ALIASES])
    raise AttributeError(f"module 'transferkit.applications' has no model '{name}'.{hint}")
