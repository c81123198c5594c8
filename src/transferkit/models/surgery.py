"""Model surgery on functional Keras models: add and remove top layers, cut, replace the head, freeze and unfreeze.

Each operation returns a new functional model built on the same layer objects (so weights are shared with
the model it came from, as in Keras's own ``Model(base.input, base.get_layer(name).output)`` idiom); the
result trains, saves as ``.keras`` and loads in safe mode. Freezing changes ``trainable`` flags in place.

Only *top layers* (see :mod:`transferkit.models.graph`) can be removed; the network is ended below them with
:func:`cut`. :func:`freeze` and :func:`unfreeze` take the one vocabulary for "which layers" that
``ImageClassifier`` and the article's models share (:func:`select`): a name pattern, or a starting point
given as a layer name, an index or the top fraction. The article-style in-place models are
:mod:`transferkit.applications`; training is not done here.
"""

from __future__ import annotations

import fnmatch
import re
import warnings
from collections.abc import Sequence
from typing import Any

from .._util.suggest import did_you_mean
from ..errors import SurgeryError
from .graph import (
    all_layers,
    call,
    is_batchnorm,
    is_input,
    nodes_of,
    rebuild,
    shape,
    single_output,
    top_nodes,
    walk,
)
from .heads import head_layers, head_size

#: A glob matched against a whole layer name (``"block6*"``), or a compiled regex searched in it.
Pattern = str | re.Pattern[str]
#: Where a model's trainable top begins: a layer name, an index, or the top fraction of its layers (``0.3``).
Start = str | int | float


def top_layers(model: Any) -> list[Any]:
    """The model's top layers, bottom first (see the module docstring for the definition)."""
    return [node.operation for node in top_nodes(model)]


def add(model: Any, *layers: Any) -> Any:
    """``model`` with ``layers`` applied on top of its output, in order."""
    if not layers:
        raise SurgeryError("add() needs at least one layer, e.g. add(model, keras.layers.Dense(10)).")
    x = single_output(model)
    names = {layer.name for layer in all_layers(model)}
    for layer in layers:
        if layer.name in names:
            raise SurgeryError(
                f"'{model.name}' already has a layer named '{layer.name}': give the new layer another name."
            )
        names.add(layer.name)
        x = call(layer, x, f"adding '{layer.name}' on top of output {shape(x)}")
    return rebuild(model, x)


def pop(model: Any, n: int = 1) -> Any:
    """``model`` without its last ``n`` top layers."""
    chain = top_nodes(model)
    if n < 1 or n > len(chain):
        names = ", ".join(node.operation.name for node in chain)
        has = f"{len(chain)} top layers ({names}); n must be 1 to {len(chain)}" if chain else "nothing to pop"
        raise SurgeryError(
            f"pop(model, {n}): '{model.name}' has {has}. Use cut(model, at=NAME) to end the network at an inner layer."
        )
    return rebuild(model, chain[-n].input_tensors[0])


def remove(model: Any, layer: Any) -> Any:
    """``model`` without one of its top layers (given as the layer, its name or its index in ``model.layers``).

    The layers above it are reconnected; one whose input size changes (a ``Dense`` now fed 1280 features
    instead of 1000) is rebuilt with fresh weights and a warning, as it must be trained again. Removing
    the input layer, or a layer inside the network, raises :class:`SurgeryError` saying what to do instead.
    """
    chain = top_nodes(model)
    target = resolve(model, layer)
    index = next((i for i, node in enumerate(chain) if node.operation is target), None)
    if index is None:
        raise SurgeryError(not_on_top_message(model, target, [n.operation for n in chain]))
    x = chain[index].input_tensors[0]
    above = chain[index + 1 :]
    plan = rewire(
        target.name,
        layers=[node.operation for node in above],
        old_in=[shape(node.input_tensors[0]) for node in above],
        old_out=[shape(node.outputs[0]) for node in above],
        shape=shape(x),
    )
    for new in plan:
        x = call(new, x, f"reconnecting '{new.name}'")
    return rebuild(model, x)


def cut(model: Any, at: Any) -> Any:
    """``model`` ending at the output of layer ``at`` (a name or layer): an intermediate feature map."""
    target = resolve(model, at)
    if is_input(target):
        raise SurgeryError(
            f"cut(at='{target.name}'): '{target.name}' is the input layer, so nothing would be left. "
            "Cut at a layer after it, e.g. the last layer of an early block."
        )
    used = nodes_of(model, target)
    if len(used) != 1 or len(used[0].outputs) != 1:
        raise SurgeryError(
            f"cut(at='{target.name}'): the layer is used {len(used)} times or has several outputs in "
            f"'{model.name}', so its output is ambiguous; cut at a layer before or after it."
        )
    return rebuild(model, used[0].outputs[0])


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
    chain = top_nodes(model)
    x = chain[0].input_tensors[0] if chain else single_output(model)
    replaced = {id(node.operation) for node in chain}
    taken = {layer.name for layer in all_layers(model) if id(layer) not in replaced}
    for layer in head_layers(shape(x), count, dropout=dropout, taken=taken):
        x = call(layer, x, f"adding the head layer '{layer.name}'")
    result = rebuild(model, x)
    if classes is not None:
        result.class_names = list(classes)
    return result


def select(model: Any, pattern: Pattern | None = None, *, from_layer: Start | None = None) -> list[Any]:
    """The layers of ``model`` (nested ones included, in :func:`~transferkit.models.graph.walk` order) that a
    freeze or unfreeze applies to.

    ``pattern``: the layers whose name matches (a glob against the whole name, or a compiled regex searched
    in it; every layer inside a matching nested model counts too). ``from_layer``: a layer and every layer
    after it -- given as its name, its index, or the fraction of the layers at the top (``0.3`` = the last
    30%). Neither: every layer. Input layers are never selected.
    """
    if pattern is not None and from_layer is not None:
        raise SurgeryError(
            f"Pass a pattern or from_layer, not both; received {pattern!r} and from_layer={from_layer!r}."
        )
    if from_layer is None:
        return _matching(model, "*" if pattern is None else pattern)
    layers = all_layers(model)
    return [layer for layer in layers[_start(model, layers, from_layer) :] if not is_input(layer)]


def freeze(model: Any, pattern: Pattern | None = None, *, from_layer: Start | None = None) -> Any:
    """Freeze the layers :func:`select` picks (every layer by default); returns ``model``, changed in place.

    Frozen BatchNormalization layers run in inference mode: their moving statistics are used and never
    updated. Compile again after changing what is trainable.
    """
    for layer in select(model, pattern, from_layer=from_layer):
        layer.trainable = False
    return model


def unfreeze(
    model: Any, pattern: Pattern | None = None, *, from_layer: Start | None = None, include_batchnorm: bool = False
) -> Any:
    """Make the layers :func:`select` picks trainable (every layer by default); returns ``model``, changed in place.

    BatchNormalization layers stay frozen unless ``include_batchnorm``: fine-tuning on small batches
    with batch statistics wrecks a pretrained network's accuracy. Models containing a selected layer become
    trainable themselves (a frozen parent hides its layers' weights) while their other layers keep their
    state. Compile again after changing what is trainable.
    """
    chosen = {id(layer) for layer in select(model, pattern, from_layer=from_layer)}
    desired: dict[int, bool] = {id(layer): layer.trainable for layer, _ in walk(model)}
    for layer, parents in walk(model):
        if id(layer) in chosen or any(id(p) in chosen for p in parents):
            desired[id(layer)] = include_batchnorm or not is_batchnorm(layer)
            for parent in parents:
                desired[id(parent)] = True
    model.trainable = True
    for layer, _ in walk(model):  # parents before children: a parent's setter resets its children
        layer.trainable = desired[id(layer)]
    return model


def _start(model: Any, layers: Sequence[Any], where: Start) -> int:
    """The index in ``layers`` that ``from_layer=where`` names."""
    if isinstance(where, bool) or not isinstance(where, (str, int, float)):
        raise SurgeryError(f"from_layer takes a layer name, an index or a fraction of the layers; received {where!r}.")
    if isinstance(where, float):
        if not 0.0 < where <= 1.0:
            raise SurgeryError(f"A fraction of layers must be in (0, 1]. Received: from_layer={where}")
        return int(round(len(layers) * (1.0 - where)))
    if isinstance(where, int):
        if not -len(layers) <= where < len(layers):
            raise SurgeryError(f"'{model.name}' has {len(layers)} layers. Received: from_layer={where}")
        return where % len(layers)
    for index, layer in enumerate(layers):
        if layer.name == where:
            return index
    raise SurgeryError(_no_such_layer(model, where, [layer.name for layer in layers]))


def _no_such_layer(model: Any, name: str, names: Sequence[str]) -> str:
    return f"'{model.name}' has no layer named '{name}'.{did_you_mean(name, names)} See model.summary() for the names."


# -- helpers shared with the article's in-place models (transferkit.keras2.applications) -----------------------


def resolve(model: Any, layer: Any) -> Any:
    """A layer of ``model`` given as the layer itself, its name, or its index in ``model.layers``."""
    layers = list(model.layers)
    if isinstance(layer, bool) or not isinstance(layer, (int, str)):
        if any(layer is candidate for candidate in all_layers(model)):
            return layer
        raise SurgeryError(f"'{getattr(layer, 'name', layer)}' is not a layer of '{model.name}'.")
    if isinstance(layer, int):
        if not -len(layers) <= layer < len(layers):
            raise SurgeryError(f"'{model.name}' has {len(layers)} layers; index {layer} is out of range.")
        return layers[layer]
    found = {candidate.name: candidate for candidate in all_layers(model)}
    if layer not in found:
        raise SurgeryError(_no_such_layer(model, layer, list(found)))
    return found[layer]


def io_shapes(model: Any, layer: Any) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    """The input and output shape of a single-input layer where ``model`` uses it."""
    (node,) = nodes_of(model, layer)[:1]
    return shape(node.input_tensors[0]), shape(node.outputs[0])


def not_on_top_message(model: Any, target: Any, top: Sequence[Any], call: str = "") -> str:
    """Why ``target`` cannot be removed, and what to do instead (``call``: ``"model."`` for methods)."""
    names = ", ".join(layer.name for layer in top) or "none"
    instead = (
        f"To drop the classifier, remove a top layer ({names}) or call {call}pop(); "
        if top
        else "The model has no classifier on top; "
    )
    if is_input(target):
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
    *,
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


def _matching(model: Any, pattern: Pattern) -> list[Any]:
    """The layers whose name matches ``pattern`` (see :func:`select`), or a message saying what names look like."""
    if isinstance(pattern, re.Pattern):
        matched = [layer for layer, _ in walk(model) if pattern.search(layer.name)]
    elif isinstance(pattern, str):
        matched = [layer for layer, _ in walk(model) if fnmatch.fnmatchcase(layer.name, pattern)]
    else:
        raise SurgeryError(f"pattern must be a glob string or a compiled regex; received {pattern!r}.")
    matched = [layer for layer in matched if not is_input(layer)]
    if not matched:
        shown = pattern.pattern if isinstance(pattern, re.Pattern) else pattern
        sample = ", ".join(layer.name for layer in all_layers(model)[1:6])
        raise SurgeryError(
            f"No layer of '{model.name}' matches '{shown}' (names look like: {sample}, ...). "
            "Globs match the whole name: add '*', e.g. 'block6*'."
        )
    return matched
