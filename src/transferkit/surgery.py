"""Model surgery on functional Keras models: add and remove top layers, cut, replace the head, freeze by name.

Each operation returns a new functional model built on the same layer objects (so weights are shared with
the model it came from, as in Keras's own ``Model(base.input, base.get_layer(name).output)`` idiom); the
result trains, saves as ``.keras`` and loads in safe mode. Freezing changes ``trainable`` flags in place.

*Top layers* are the part of the linear chain of single-input layers ending at the model's output (followed
back until a layer with more than one input or consumer, or the input) that starts where the feature map is
collapsed into a vector (global pooling, ``Flatten``): ``flatten, fc1, fc2, predictions`` in VGG;
``avg_pool, predictions`` in ResNet and Inception; ``global_average_pooling2d ... predictions`` (a 1x1
convolution top) in MobileNet; ``avg_pool, top_dropout, predictions`` in EfficientNet-Lite; none in a
model without its top. Only top layers can be removed; the network is ended below them with :func:`cut`.
The article-style in-place models are :mod:`transferkit.applications`; training is not done here.
"""

from __future__ import annotations

import difflib
import fnmatch
import re
import warnings
from collections.abc import Iterator, Sequence
from typing import Any

from .errors import SurgeryError

Pattern = str | re.Pattern[str]


def top_layers(model: Any) -> list[Any]:
    """The model's top layers, bottom first (see the module docstring for the definition)."""
    return [node.operation for node in _top_nodes(model)]


def add(model: Any, *layers: Any) -> Any:
    """``model`` with ``layers`` applied on top of its output, in order."""
    if not layers:
        raise SurgeryError("add() needs at least one layer, e.g. add(model, keras.layers.Dense(10)).")
    x = _single_output(model)
    names = {layer.name for layer in _all_layers(model)}
    for layer in layers:
        if layer.name in names:
            raise SurgeryError(
                f"'{model.name}' already has a layer named '{layer.name}': give the new layer another name."
            )
        names.add(layer.name)
        x = _call(layer, x, f"adding '{layer.name}' on top of output {_shape(x)}")
    return _model(model, x)


def pop(model: Any, n: int = 1) -> Any:
    """``model`` without its last ``n`` top layers."""
    chain = _top_nodes(model)
    if n < 1 or n > len(chain):
        names = ", ".join(node.operation.name for node in chain)
        has = f"{len(chain)} top layers ({names}); n must be 1 to {len(chain)}" if chain else "nothing to pop"
        raise SurgeryError(
            f"pop(model, {n}): '{model.name}' has {has}. Use cut(model, at=NAME) to end the network at an inner layer."
        )
    return _model(model, chain[-n].input_tensors[0])


def remove(model: Any, layer: Any) -> Any:
    """``model`` without one of its top layers (given as the layer, its name or its index in ``model.layers``).

    The layers above it are reconnected; one whose input size changes (a ``Dense`` now fed 1280 features
    instead of 1000) is rebuilt with fresh weights and a warning, as it must be trained again. Removing
    the input layer, or a layer inside the network, raises :class:`SurgeryError` saying what to do instead.
    """
    chain = _top_nodes(model)
    target = resolve(model, layer)
    index = next((i for i, node in enumerate(chain) if node.operation is target), None)
    if index is None:
        raise SurgeryError(not_on_top_message(model, target, [n.operation for n in chain]))
    x = chain[index].input_tensors[0]
    above = chain[index + 1 :]
    plan = rewire(
        target.name,
        [node.operation for node in above],
        [_shape(node.input_tensors[0]) for node in above],
        [_shape(node.outputs[0]) for node in above],
        _shape(x),
    )
    for new in plan:
        x = _call(new, x, f"reconnecting '{new.name}'")
    return _model(model, x)


def cut(model: Any, at: Any) -> Any:
    """``model`` ending at the output of layer ``at`` (a name or layer): an intermediate feature map."""
    target = resolve(model, at)
    if _is_input(target):
        raise SurgeryError(
            f"cut(at='{target.name}'): '{target.name}' is the input layer, so nothing would be left. "
            "Cut at a layer after it, e.g. the last layer of an early block."
        )
    nodes = _nodes_of(model, target)
    if len(nodes) != 1 or len(nodes[0].outputs) != 1:
        raise SurgeryError(
            f"cut(at='{target.name}'): the layer is used {len(nodes)} times or has several outputs in "
            f"'{model.name}', so its output is ambiguous; cut at a layer before or after it."
        )
    return _model(model, nodes[0].outputs[0])


def replace_head(
    model: Any,
    num_classes: int | None = None,
    *,
    classes: Sequence[str] | None = None,
    dropout: float = 0.2,
) -> Any:
    """``model`` with every top layer replaced by a new head: global pooling (if needed), dropout, softmax.

    Pass ``num_classes`` or ``classes`` (class names, kept as ``result.class_names``).
    """
    count = head_size(num_classes, classes, dropout)
    chain = _top_nodes(model)
    x = chain[0].input_tensors[0] if chain else _single_output(model)
    replaced = {id(node.operation) for node in chain}
    taken = {layer.name for layer in _all_layers(model) if id(layer) not in replaced}
    for layer in head_layers(_shape(x), count, dropout, taken):
        x = _call(layer, x, f"adding the head layer '{layer.name}'")
    result = _model(model, x)
    if classes is not None:
        result.class_names = list(classes)
    return result


def freeze(model: Any, pattern: Pattern = "*") -> Any:
    """Freeze every layer (and nested model) whose name matches ``pattern``; returns ``model``, changed in place.

    ``pattern``: a glob matched against the whole name (``"block[1-5]*"``) or a compiled regular expression
    searched in it (``re.compile(r"block[1-5]")``). Frozen BatchNormalization layers run in inference mode:
    their moving statistics are used and never updated. Compile again after changing what is trainable.
    """
    for layer in _matching(model, pattern):
        layer.trainable = False
    return model


def unfreeze(model: Any, pattern: Pattern = "*", *, include_batchnorm: bool = False) -> Any:
    """Make every layer whose name matches ``pattern`` trainable (in place); returns ``model``.

    BatchNormalization layers stay frozen unless ``include_batchnorm``: fine-tuning on small batches
    with batch statistics wrecks a pretrained network's accuracy. Models containing a matched layer become
    trainable themselves (a frozen parent hides its layers' weights) while their other layers keep their
    state. Compile again after changing what is trainable.
    """
    matched = _matching(model, pattern)
    desired: dict[int, bool] = {id(layer): layer.trainable for layer, _ in _walk(model)}
    for layer, parents in _walk(model):
        if any(m is layer or any(m is p for p in parents) for m in matched):
            desired[id(layer)] = include_batchnorm or not _is_batchnorm(layer)
            for parent in parents:
                desired[id(parent)] = True
    model.trainable = True
    for layer, _ in _walk(model):  # parents before children: a parent's setter resets its children
        layer.trainable = desired[id(layer)]
    return model


# -- helpers shared with transferkit.applications ----------------------------------------------------------


def resolve(model: Any, layer: Any) -> Any:
    """A layer of ``model`` given as the layer itself, its name, or its index in ``model.layers``."""
    layers = list(model.layers)
    if isinstance(layer, bool) or not isinstance(layer, (int, str)):
        if any(layer is candidate for candidate in _all_layers(model)):
            return layer
        raise SurgeryError(f"'{getattr(layer, 'name', layer)}' is not a layer of '{model.name}'.")
    if isinstance(layer, int):
        if not -len(layers) <= layer < len(layers):
            raise SurgeryError(f"'{model.name}' has {len(layers)} layers; index {layer} is out of range.")
        return layers[layer]
    found = {candidate.name: candidate for candidate in _all_layers(model)}
    if layer not in found:
        close = difflib.get_close_matches(layer, list(found), n=3)
        hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        raise SurgeryError(f"'{model.name}' has no layer named '{layer}'.{hint} See model.summary() for the names.")
    return found[layer]


def io_shapes(model: Any, layer: Any) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    """The input and output shape of a single-input layer where ``model`` uses it."""
    (node,) = _nodes_of(model, layer)[:1]
    return _shape(node.input_tensors[0]), _shape(node.outputs[0])


def not_on_top_message(model: Any, target: Any, top: Sequence[Any], call: str = "") -> str:
    """Why ``target`` cannot be removed, and what to do instead (``call``: ``"model."`` for methods)."""
    names = ", ".join(layer.name for layer in top) or "none"
    instead = (
        f"To drop the classifier, remove a top layer ({names}) or call {call}pop(); "
        if top
        else "The model has no classifier on top; "
    )
    if _is_input(target):
        return (
            f"'{target.name}' is the input layer of '{model.name}' (model.layers[0] in Keras 3 is the input, not "
            f"the first fully-connected layer) and cannot be removed. {instead}"
            f"to end the network at an inner layer, use {call}cut(at=NAME)."
        )
    return (
        f"'{target.name}' is inside '{model.name}', not on top of it (top layers: {names}); removing it would "
        f"disconnect the layers after it. {instead}to end the network at an inner layer, "
        f"use {call}cut(at='{target.name}')."
    )


def rewire(
    removed: str,
    layers: Sequence[Any],
    old_in: Sequence[tuple[Any, ...]],
    old_out: Sequence[tuple[Any, ...]],
    shape: Any,
) -> list[Any]:
    """The layers to stack on ``shape`` in place of ``layers``: fresh copies where the input size changes."""
    plan, rebuilt = [], []
    shape = tuple(shape)
    for layer, before, after in zip(layers, old_in, old_out):
        if shape == tuple(before):
            plan.append(layer)
            shape = tuple(after)
            continue
        if len(shape) != len(before):
            raise SurgeryError(
                f"Removing '{removed}' would feed '{layer.name}' a {len(shape)}-D tensor {shape} instead of the "
                f"{len(before)}-D {tuple(before)} it was built for. Remove '{layer.name}' and the layers above it "
                "as well (pop(n)), then add new layers."
            )
        new = type(layer).from_config(layer.get_config()) if layer.weights else layer
        if new is not layer:
            rebuilt.append(f"'{layer.name}' ({tuple(before)} -> {shape})")
        try:
            shape = tuple(new.compute_output_shape(shape))
        except Exception as exc:
            raise SurgeryError(
                f"Removing '{removed}' changes the input of '{layer.name}' from {tuple(before)} to {shape}, which it "
                f"cannot take ({exc}). Remove it too (pop(n)), then add new layers."
            ) from None
        plan.append(new)
    if rebuilt:
        warnings.warn(
            f"Removing '{removed}' changed the input size of {', '.join(rebuilt)}: re-initialised with fresh "
            "weights, train before use.",
            stacklevel=3,
        )
    return plan


def head_size(num_classes: int | None, classes: Sequence[str] | None, dropout: float) -> int:
    """The number of classes a new head needs, checking the arguments."""
    if classes is not None:
        names = list(classes)
        if num_classes is not None and num_classes != len(names):
            raise SurgeryError(f"num_classes={num_classes} but {len(names)} class names were given: pass one.")
        if len(set(names)) != len(names):
            raise SurgeryError(f"Class names must be unique; received {names}.")
        num_classes = len(names)
    if num_classes is None or isinstance(num_classes, bool) or int(num_classes) != num_classes or num_classes < 2:
        raise SurgeryError(f"A new head needs num_classes >= 2 or a list of class names; received {num_classes!r}.")
    if not 0.0 <= dropout < 1.0:
        raise SurgeryError(f"dropout must be in [0, 1); received {dropout}.")
    return int(num_classes)


def head_layers(shape: Sequence[Any], num_classes: int, dropout: float, taken: set[str]) -> list[Any]:
    """Global pooling (for a feature map), dropout and a softmax ``Dense``, named to avoid ``taken`` names."""
    import keras

    def name(base: str) -> str:
        candidate, i = base, 1
        while candidate in taken:
            candidate, i = f"{base}_{i}", i + 1
        taken.add(candidate)
        return candidate

    layers: list[Any] = []
    if len(shape) == 4:
        layers.append(keras.layers.GlobalAveragePooling2D(name=name("head_pool")))
    elif len(shape) == 3:
        layers.append(keras.layers.GlobalAveragePooling1D(name=name("head_pool")))
    if dropout > 0:
        layers.append(keras.layers.Dropout(dropout, name=name("head_dropout")))
    layers.append(keras.layers.Dense(num_classes, activation="softmax", name=name("predictions")))
    return layers


# -- graph access --------------------------------------------------------------------------------------------
# Keras 3 exposes a functional model's graph only through Node objects (``_nodes_by_depth``, ``_inbound_nodes``,
# ``_keras_history``); they are confined to these helpers.


def _graph(model: Any) -> Any:
    functional = getattr(model, "_functional", model)  # a built Sequential wraps a Functional
    if functional is None or not hasattr(functional, "_nodes_by_depth"):
        raise SurgeryError(
            f"'{model.name}' is not a functional model (or not built): surgery needs a model built from "
            "keras.Input, e.g. one from transferkit.load_pretrained."
        )
    return functional


def _nodes(model: Any) -> list[Any]:
    return [node for nodes in _graph(model)._nodes_by_depth.values() for node in nodes]


def _nodes_of(model: Any, layer: Any) -> list[Any]:
    nodes = set(_nodes(model))
    return [node for node in layer._inbound_nodes if node in nodes]


def _top_nodes(model: Any) -> list[Any]:
    """The nodes of the top layers, bottom first.

    Shapes alone cannot tell a head from the body (at 32x32 pixels VGG's last feature map is 1x1 too), so
    the head starts at the first layer of the output's linear chain that collapses the feature map into a
    vector: a global pooling layer, ``Flatten``, or any layer taking a 3-D+ input to a vector.
    """
    nodes = _nodes(model)
    consumers: dict[int, int] = {}
    uses: dict[int, int] = {}
    for node in nodes:
        uses[id(node.operation)] = uses.get(id(node.operation), 0) + 1
        for tensor in node.input_tensors:
            consumers[id(tensor)] = consumers.get(id(tensor), 0) + 1
    tensor = _single_output(model)
    chain: list[Any] = []
    while True:
        op, node_index, _ = tensor._keras_history
        node = op._inbound_nodes[node_index]
        if (
            _is_input(op)
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


def _single_output(model: Any) -> Any:
    outputs = _graph(model).outputs
    if len(outputs) != 1:
        raise SurgeryError(f"'{model.name}' has {len(outputs)} outputs; surgery works on single-output models.")
    return outputs[0]


def _model(model: Any, outputs: Any) -> Any:
    import keras

    return keras.Model(_graph(model).inputs, outputs, name=model.name)


def _call(layer: Any, x: Any, what: str) -> Any:
    try:
        return layer(x)
    except Exception as exc:
        raise SurgeryError(f"{what} failed: {exc}") from None


def _shape(tensor: Any) -> tuple[Any, ...]:
    return tuple(tensor.shape)


def _is_input(layer: Any) -> bool:
    return type(layer).__name__ == "InputLayer"


def _is_batchnorm(layer: Any) -> bool:
    return "BatchNormalization" in type(layer).__name__


def _walk(layer: Any, parents: tuple[Any, ...] = ()) -> Iterator[tuple[Any, tuple[Any, ...]]]:
    """Every layer below ``layer`` (nested models included) with its enclosing models, parents first."""
    for child in getattr(layer, "layers", []):
        yield child, parents + (layer,)
        yield from _walk(child, parents + (layer,))


def _all_layers(model: Any) -> list[Any]:
    return [layer for layer, _ in _walk(model)]


def _matching(model: Any, pattern: Pattern) -> list[Any]:
    if isinstance(pattern, re.Pattern):
        matched = [layer for layer, _ in _walk(model) if pattern.search(layer.name)]
    elif isinstance(pattern, str):
        matched = [layer for layer, _ in _walk(model) if fnmatch.fnmatchcase(layer.name, pattern)]
    else:
        raise SurgeryError(f"pattern must be a glob string or a compiled regex; received {pattern!r}.")
    matched = [layer for layer in matched if not _is_input(layer)]
    if not matched:
        shown = pattern.pattern if isinstance(pattern, re.Pattern) else pattern
        sample = ", ".join(layer.name for layer in _all_layers(model)[1:6])
        raise SurgeryError(
            f"No layer of '{model.name}' matches '{shown}' (names look like: {sample}, ...). "
            "Globs match the whole name: add '*', e.g. 'block6*'."
        )
    return matched
