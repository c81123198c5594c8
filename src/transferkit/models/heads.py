"""The one classification head: global pooling (for a feature map), dropout and a softmax ``Dense`` (sigmoid for
multi-label classifiers: each label on or off by itself).

:class:`~transferkit.models.classifier.ImageClassifier`, :func:`surgery.replace_head
<transferkit.models.surgery.replace_head>` and the article's ``model.replace_head`` all build it here, so
its layers always have the names :data:`POOL`, :data:`DROPOUT` and :data:`HEAD` (with a suffix only where
the model already uses the name). The ``Dense`` computes in float32 so its softmax stays exact under mixed
precision. :func:`compile_args` is the loss and metrics every head is trained with.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import keras

from ..errors import SurgeryError

POOL, DROPOUT, HEAD = "head_pool", "head_dropout", "predictions"
#: Names classifiers saved before transferkit 0.2 gave their head layers.
_OLD_NAMES = {POOL: "avg_pool"}


def head_size(num_classes: int | None, classes: Sequence[str] | None = None, dropout: float = 0.0) -> int:
    """The number of classes a new head needs, from ``num_classes`` or the class names, checking the arguments."""
    if classes is not None:
        names = list(classes)
        if num_classes is not None and num_classes != len(names):
            raise SurgeryError(f"num_classes={num_classes} but {len(names)} class names were given: pass one.")
        if len(set(names)) != len(names):
            raise SurgeryError(f"Class names must be unique; received {names}.")
        num_classes = len(names)
    if num_classes is None or isinstance(num_classes, bool) or int(num_classes) != num_classes or num_classes < 2:
        raise SurgeryError(
            "A classifier head needs at least 2 classes: pass num_classes >= 2 or a list of class names "
            f"(classes=[...]); received {classes if classes is not None else num_classes!r}."
        )
    if not 0.0 <= dropout < 1.0:
        raise SurgeryError(f"dropout must be in [0, 1); received {dropout}.")
    return int(num_classes)


def head_layers(
    shape: Sequence[Any], num_classes: int, *, dropout: float = 0.2, taken: Iterable[str] = (), seed: int | None = None,
    multi_label: bool = False,
) -> list[Any]:  # fmt: skip
    """The head's layers for an input of ``shape``: pooling only for a feature map (3-D or 4-D), dropout only
    when ``dropout > 0``; named to avoid the ``taken`` names. ``seed`` fixes the initial weights."""
    used = set(taken)

    def name(base: str) -> str:
        candidate, i = base, 1
        while candidate in used:
            candidate, i = f"{base}_{i}", i + 1
        used.add(candidate)
        return candidate

    layers: list[Any] = []
    if len(shape) == 4:
        layers.append(keras.layers.GlobalAveragePooling2D(name=name(POOL)))
    elif len(shape) == 3:
        layers.append(keras.layers.GlobalAveragePooling1D(name=name(POOL)))
    if dropout > 0:
        layers.append(keras.layers.Dropout(dropout, name=name(DROPOUT)))
    init = keras.initializers.GlorotUniform(seed=seed)
    activation = "sigmoid" if multi_label else "softmax"
    layers.append(
        keras.layers.Dense(num_classes, activation, kernel_initializer=init, dtype="float32", name=name(HEAD))
    )
    return layers


def layer(model: Any, part: str) -> Any:
    """The head layer ``part`` (:data:`POOL`, :data:`DROPOUT` or :data:`HEAD`) of a classifier model, also in a
    classifier saved under the older names."""
    names = {layer.name for layer in model.layers}
    return model.get_layer(part if part in names or part not in _OLD_NAMES else _OLD_NAMES[part])


def is_multi_label(model: Any) -> bool:
    """Whether a classifier model's head is a sigmoid one (labels on or off each by itself)."""
    try:
        activation = getattr(layer(model, HEAD), "activation", None)
    except (ValueError, AttributeError):  # not a model with transferkit's head
        return False
    return getattr(activation, "__name__", "") == "sigmoid"


class WeightedBinaryCrossentropy(keras.losses.Loss):
    """Binary cross-entropy on probabilities with each label's positive images weighted by ``pos_weight`` (as
    PyTorch's ``BCEWithLogitsLoss(pos_weight=...)``): rare labels count. Used while training only; the model is
    saved compiled with the plain loss, so loading it needs nothing registered."""

    def __init__(self, pos_weight: Sequence[float], label_smoothing: float = 0.0, name: str = "weighted_bce") -> None:
        super().__init__(name=name)
        self.pos_weight = [float(w) for w in pos_weight]
        self.label_smoothing = float(label_smoothing)

    def call(self, y_true: Any, y_pred: Any) -> Any:
        ops = keras.ops
        y_true = ops.cast(y_true, y_pred.dtype)
        y_true = y_true * (1.0 - self.label_smoothing) + 0.5 * self.label_smoothing
        p = ops.clip(y_pred, 1e-7, 1.0 - 1e-7)
        weight = ops.convert_to_tensor(self.pos_weight, dtype=y_pred.dtype)
        return -ops.mean(weight * y_true * ops.log(p) + (1.0 - y_true) * ops.log(1.0 - p), axis=-1)

    def get_config(self) -> dict[str, Any]:
        return {"pos_weight": self.pos_weight, "label_smoothing": self.label_smoothing, "name": self.name}


def compile_args(
    num_classes: int,
    sparse: bool,
    label_smoothing: float = 0.0,
    multi_label: bool = False,
    pos_weight: Sequence[float] | None = None,
) -> dict[str, Any]:
    """``loss`` and ``metrics`` for ``Model.compile``: cross-entropy on integer (``sparse``) or one-hot labels,
    accuracy and top-k accuracy (k = 5, or fewer classes); for ``multi_label``, binary cross-entropy, the
    share of labels right (``accuracy``) and micro F1 at 0.5 (``f1``, what early stopping follows); with
    ``pos_weight``, each label's positives weighted (:class:`WeightedBinaryCrossentropy`)."""
    if multi_label:
        f1 = keras.metrics.F1Score(average="micro", threshold=0.5, name="f1")
        right = keras.metrics.BinaryAccuracy(name="accuracy")  # the string "accuracy" would be categorical here
        loss: Any = (
            keras.losses.BinaryCrossentropy(label_smoothing=label_smoothing)
            if pos_weight is None
            else WeightedBinaryCrossentropy(pos_weight, label_smoothing)
        )
        return {"loss": loss, "metrics": [right, f1]}
    k = min(5, num_classes)
    if sparse:
        loss = keras.losses.SparseCategoricalCrossentropy()
        top_k: Any = keras.metrics.SparseTopKCategoricalAccuracy(k=k, name="top_k")
    else:
        loss = keras.losses.CategoricalCrossentropy(label_smoothing=label_smoothing)
        top_k = keras.metrics.TopKCategoricalAccuracy(k=k, name="top_k")
    return {"loss": loss, "metrics": ["accuracy", top_k]}
