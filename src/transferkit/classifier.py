"""``ImageClassifier``: a pretrained backbone with a new head for your classes, BatchNorm-safe.

The Keras model inside is ``image -> backbone(training=False) -> avg_pool -> head_dropout -> predictions``.
The backbone (with its :class:`~transferkit.layers.Preprocess` layer) is called in inference mode, so its
BatchNorm layers use their ImageNet statistics whether frozen or not -- the classic way fine-tuning goes
wrong in Keras (issue 9214) cannot happen -- and BatchNorm layers stay frozen when the rest is unfrozen.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from . import inference
from .errors import SurgeryError

BACKBONE = "backbone"
POOL, DROPOUT, HEAD = "avg_pool", "head_dropout", "predictions"


class ImageClassifier:
    """A Keras model plus what it needs to be used later: class names and the registry name it came from."""

    def __init__(self, model: Any, class_names: Sequence[str], base_model: str) -> None:
        self.model = model
        self.class_names = list(class_names)
        self.base_model = base_model

    @classmethod
    def from_pretrained(
        cls,
        name: str = "efficientnet_lite0",
        classes: Sequence[str] | None = None,
        num_classes: int | None = None,
        dropout: float = 0.2,
        input_shape: tuple[int, int, int] | None = None,
        weights: str | None = "imagenet",
        mixed_precision: bool = False,
        seed: int | None = None,
    ) -> ImageClassifier:
        """The backbone ``name`` without its ImageNet top, and a new softmax head for ``classes``.

        ``mixed_precision=True`` computes in bfloat16 (variables and the softmax stay float32): faster on
        GPUs and on CPUs with bfloat16 units (AVX512-BF16/AMX), slower on CPUs without them. ``seed``
        fixes the new head's initial weights (``fine_tune(seed=...)`` fixes the rest of a run).
        """
        from ._backend import keras as _keras
        from .pretrained import load_pretrained
        from .registry import get

        keras = _keras()
        if classes is None and num_classes is None:
            raise ValueError("Give the class names (classes=[...]) or their number (num_classes=N).")
        names = list(classes) if classes is not None else [f"class_{i}" for i in range(int(num_classes or 0))]
        if len(names) < 2:
            raise ValueError(f"A classifier needs at least 2 classes. Received: {names}")
        spec = get(name)
        shape = input_shape or (spec.input_size, spec.input_size, 3)
        previous = keras.config.dtype_policy()
        if mixed_precision:
            keras.config.set_dtype_policy("mixed_bfloat16")
        try:
            backbone = load_pretrained(name, weights=weights, include_top=False, input_shape=shape)
            backbone.name = BACKBONE
            inputs = keras.Input(shape=shape, name="image")
            x = backbone(inputs, training=False)
            x = keras.layers.GlobalAveragePooling2D(name=POOL)(x)
            x = keras.layers.Dropout(dropout, name=DROPOUT)(x)
            init = keras.initializers.GlorotUniform(seed=seed)
            outputs = keras.layers.Dense(len(names), "softmax", kernel_initializer=init, dtype="float32", name=HEAD)(x)
            model = keras.Model(inputs, outputs, name=f"{spec.name}_classifier")
        finally:
            keras.config.set_dtype_policy(previous)
        classifier = cls(model, names, spec.name)
        classifier.freeze()
        return classifier

    # -- structure -------------------------------------------------------------------------------------

    @property
    def backbone(self) -> Any:
        return self.model.get_layer(BACKBONE)

    @property
    def image_size(self) -> tuple[int, int]:
        return inference.input_spec(self.model)[0]

    def freeze(self) -> None:
        """Train only the head."""
        self.backbone.trainable = False

    def unfreeze(self, from_layer: str | int | float | None = None) -> int:
        """Make the backbone trainable from ``from_layer`` up: a layer name, an index, or the top fraction
        (``0.3`` = the last 30% of its layers); ``None`` = all of it. BatchNorm layers stay frozen.

        Returns the number of backbone layers left trainable.
        """
        from ._backend import keras as _keras

        keras = _keras()
        layers = self.backbone.layers
        start = _layer_index(layers, from_layer)
        self.backbone.trainable = True
        trainable = 0
        for index, layer in enumerate(layers):
            layer.trainable = index >= start and not isinstance(layer, keras.layers.BatchNormalization)
            trainable += int(layer.trainable and bool(layer.weights))
        return trainable

    # -- training and use -----------------------------------------------------------------------------

    def compile(self, learning_rate: Any = 1e-3, label_smoothing: float = 0.0, sparse: bool = False) -> None:
        """Adam and cross-entropy; ``sparse`` for integer labels, one-hot otherwise."""
        from ._backend import keras as _keras

        keras = _keras()
        if sparse:
            loss: Any = keras.losses.SparseCategoricalCrossentropy()
            top_k: Any = keras.metrics.SparseTopKCategoricalAccuracy(k=min(5, len(self.class_names)), name="top_k")
        else:
            loss = keras.losses.CategoricalCrossentropy(label_smoothing=label_smoothing)
            top_k = keras.metrics.TopKCategoricalAccuracy(k=min(5, len(self.class_names)), name="top_k")
        self.model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=loss, metrics=["accuracy", top_k])

    def fit(self, train: Any, validation: Any = None, epochs: int = 5, **kwargs: Any) -> Any:
        """Keras ``fit`` on the whole model (compiles with Adam if not compiled); callbacks pass through."""
        if not self.model.compiled:
            self.compile()
        return self.model.fit(train, validation_data=validation, epochs=epochs, **kwargs)

    def fine_tune(self, train: Any, validation: Any = None, **kwargs: Any) -> Any:
        """Two-phase fine-tuning; see :func:`transferkit.finetune.fine_tune` for the arguments."""
        from .finetune import fine_tune

        return fine_tune(self, train, validation, **kwargs)

    def predict(self, images: Any, top: int = 1) -> list[list[inference.Prediction]]:
        """Top-``top`` predictions per image (paths, PIL images or arrays), with this classifier's names."""
        return inference.predict(self, images, top=top)

    def save(self, path: str | os.PathLike[str]) -> None:
        """A ``.keras`` file with the class names, input size, preprocessing and base model inside."""
        from .artifact import save_classifier

        save_classifier(self, path)


def _layer_index(layers: Sequence[Any], where: str | int | float | None) -> int:
    if where is None:
        return 0
    if isinstance(where, bool):
        raise ValueError(f"unfreeze(from_layer=...) takes a layer name, an index or a fraction. Received: {where}")
    if isinstance(where, float):
        if not 0.0 < where <= 1.0:
            raise ValueError(f"A fraction of layers must be in (0, 1]. Received: from_layer={where}")
        return int(round(len(layers) * (1.0 - where)))
    if isinstance(where, int):
        if not -len(layers) <= where < len(layers):
            raise ValueError(f"The backbone has {len(layers)} layers. Received: from_layer={where}")
        return where % len(layers)
    for index, layer in enumerate(layers):
        if layer.name == where:
            return index
    raise SurgeryError(
        f"The backbone has no layer named '{where}'; its layer names are in `classifier.backbone.summary()`."
    )
