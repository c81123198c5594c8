"""Reading a functional Keras model's graph: its nodes, its top layers, its nested layers.

Keras 3 exposes a functional model's graph only through Node objects (``_nodes_by_depth``,
``_inbound_nodes``, ``_keras_history``); this module is the one place that touches them, for
:mod:`~transferkit.models.surgery` now and for explanations (Grad-CAM) later.

*Top layers* are the part of the linear chain of single-input layers ending at the model's output (followed
back until a layer with more than one input or consumer, or the input) that starts where the feature map is
collapsed into a vector (global pooling, ``Flatten``): ``flatten, fc1, fc2, predictions`` in VGG;
``avg_pool, predictions`` in ResNet and Inception; ``global_average_pooling2d ... predictions`` (a 1x1
convolution top) in MobileNet; ``avg_pool, top_dropout, predictions`` in EfficientNet-Lite; none in a
model without its top.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import keras

from ..errors import SurgeryError


def functional(model: Any) -> Any:
    """The functional graph of ``model`` (a built Sequential wraps one), or :class:`SurgeryError`."""
    graph = getattr(model, "_functional", model)  # a built Sequential wraps a Functional
    if graph is None or not hasattr(graph, "_nodes_by_depth"):
        raise SurgeryError(
            f"'{model.name}' is not a functional model (or not built): surgery needs a model built from "
            "keras.Input, e.g. one from transferkit.load_pretrained."
        )
    return graph


def nodes(model: Any) -> list[Any]:
    """Every node of the model's graph (one per layer call)."""
    return [node for depth in functional(model)._nodes_by_depth.values() for node in depth]


def nodes_of(model: Any, layer: Any) -> list[Any]:
    """The nodes where ``model`` calls ``layer``."""
    own = set(nodes(model))
    return [node for node in layer._inbound_nodes if node in own]


def top_nodes(model: Any) -> list[Any]:
    """The nodes of the top layers, bottom first.

    Shapes alone cannot tell a head from the body (at 32x32 pixels VGG's last feature map is 1x1 too), so
    the head starts at the first layer of the output's linear chain that collapses the feature map into a
    vector: a global pooling layer, ``Flatten``, or any layer taking a 3-D+ input to a vector.
    """
    consumers: dict[int, int] = {}
    uses: dict[int, int] = {}
    for node in nodes(model):
        uses[id(node.operation)] = uses.get(id(node.operation), 0) + 1
        for tensor in node.input_tensors:
            consumers[id(tensor)] = consumers.get(id(tensor), 0) + 1
    tensor = single_output(model)
    chain: list[Any] = []
    while True:
        op, node_index, _ = tensor._keras_history
        node = op._inbound_nodes[node_index]
        if (
            is_input(op)
            or len(node.input_tensors) != 1
            or len(node.outputs) != 1
            or uses[id(op)] != 1
            or (chain and consumers.get(id(tensor), 0) != 1)
        ):
            break
        chain.append(node)
        tensor = node.input_tensors[0]
    chain.reverse()
    start = next((i for i, node in enumerate(chain) if _collapses(node)), len(chain))
    return chain[start:]


def _collapses(node: Any) -> bool:
    kind = type(node.operation).__name__
    rank_in, rank_out = len(node.input_tensors[0].shape), len(node.outputs[0].shape)
    return kind.startswith("Global") or kind == "Flatten" or (rank_in >= 3 and rank_out <= 2)


def single_output(model: Any) -> Any:
    outputs = functional(model).outputs
    if len(outputs) != 1:
        raise SurgeryError(f"'{model.name}' has {len(outputs)} outputs; surgery works on single-output models.")
    return outputs[0]


def rebuild(model: Any, outputs: Any) -> Any:
    """A functional model from ``model``'s inputs to ``outputs``, named as ``model``."""
    return keras.Model(functional(model).inputs, outputs, name=model.name)


def call(layer: Any, x: Any, what: str) -> Any:
    try:
        return layer(x)
    except Exception as exc:
        raise SurgeryError(f"{what} failed: {exc}") from None


def shape(tensor: Any) -> tuple[Any, ...]:
    return tuple(tensor.shape)


def is_input(layer: Any) -> bool:
    return type(layer).__name__ == "InputLayer"


def is_batchnorm(layer: Any) -> bool:
    return "BatchNormalization" in type(layer).__name__


def walk(layer: Any, parents: tuple[Any, ...] = ()) -> Iterator[tuple[Any, tuple[Any, ...]]]:
    """Every layer below ``layer`` (nested models included) with its enclosing models, parents first."""
    for child in getattr(layer, "layers", []):
        yield child, parents + (layer,)
        yield from walk(child, parents + (layer,))


def all_layers(model: Any) -> list[Any]:
    return [layer for layer, _ in walk(model)]
