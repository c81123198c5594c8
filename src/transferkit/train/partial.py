"""The partly unfrozen classifier cut in two: a frozen bottom whose output is cached, and the top that trains.

When only the top of the backbone is trainable, everything below it gives the same output every epoch for
the same input view. :func:`split` cuts the backbone at the deepest point that (a) lies below every
trainable layer and (b) every path from the image to the output passes through -- a tensor, such as a
block's output, that no skip connection jumps over. The bottom runs once per image and view
(:func:`transferkit.train.features.extract`); phase two trains ``top`` (the rest of the backbone, still in
inference mode so BatchNorm keeps its ImageNet statistics, plus the head) on the cached tensors. The layers
are shared with the classifier, so training ``top`` trains the classifier. With the whole backbone frozen the
cut is the backbone's output and ``top`` is the head alone. The bottom runs its BatchNorms folded into the
convolutions before them (:mod:`transferkit.models.fold`: the same outputs, a faster cache).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import keras

from ..models import heads
from ..models.fold import fold, own_calls

if TYPE_CHECKING:
    from ..models.classifier import ImageClassifier


@dataclass
class Split:
    """``bottom``: image -> activations at the ``cut`` layer; ``top``: activations -> probabilities;
    ``pooled``: activations -> the head's pooled features. ``fraction`` is the share of the backbone's
    layers (with weights) below the cut."""

    cut: str
    bottom: Any
    top: Any
    pooled: Any
    fraction: float


def cut_index(backbone: Any) -> int:
    """The index in ``backbone.operations`` of the deepest operation below every trainable layer whose output
    is the only tensor passed on to the operations above it (the input layer, 0, when there is none).
    Operations, not layers: a ``keras.ops`` call in the graph (ConvNeXt's) can carry a skip connection too."""
    layers = backbone.operations
    position = {id(layer): i for i, layer in enumerate(layers)}
    last_use: dict[int, int] = {}  # producer index -> index of its last consumer
    calls = {id(layer): own_calls(backbone, layer) for layer in layers}  # not the folded copies' calls
    for i, layer in enumerate(layers):
        for node in calls[id(layer)]:
            for tensor in node.input_tensors:
                producer = position.get(id(tensor._keras_history[0]))
                if producer is not None:
                    last_use[producer] = max(last_use.get(producer, -1), i)
    first_trainable = next((i for i, op in enumerate(layers) if getattr(op, "trainable_weights", [])), len(layers))
    best, reach = 0, -1  # reach: the furthest consumer of any output produced before layer i
    for i in range(min(first_trainable, len(layers))):
        if reach <= i and len(calls[id(layers[i])]) == 1 and len(calls[id(layers[i])][0].outputs) == 1:
            best = i
        reach = max(reach, last_use.get(i, -1))
    return best


def split(classifier: ImageClassifier) -> Split:
    """Cut ``classifier``'s model below its trainable backbone layers (see the module docstring)."""
    model, backbone = classifier.model, classifier.backbone
    layers = backbone.operations
    index = cut_index(backbone)
    whole = index == len(layers) - 1 or not backbone.trainable_weights
    try:
        below = fold(backbone if whole else keras.Model(backbone.input, layers[index].output))
        above = None if whole else keras.Model(layers[index].output, backbone.output)
    except ValueError:  # a graph this reading does not cover: no cut (fraction 0: phase two trains on images)
        whole, below, above, index = True, backbone, None, 0
    cut_tensor = backbone.output if whole else layers[index].output
    bottom = keras.Model(model.input, below(model.input, training=False), name="bottom")
    inputs = keras.Input(shape=tuple(cut_tensor.shape[1:]), name="activations")
    x = inputs if above is None else above(inputs, training=False)
    x = heads.layer(model, heads.POOL)(x)
    pooled = keras.Model(inputs, x, name="pooled")
    names = {layer.name for layer in model.layers}
    for part in (heads.DROPOUT, heads.HEAD):
        if part in names:
            x = heads.layer(model, part)(x)
    top = keras.Model(inputs, x, name="top")
    weighted = [i for i, op in enumerate(layers) if getattr(op, "weights", [])]
    frozen = sum(1 for i in weighted if i <= index) if index else len(weighted) * (not backbone.trainable_weights)
    return Split(backbone.name if whole else layers[index].name, bottom, top, pooled, frozen / max(1, len(weighted)))
