"""Edits of an exported ONNX graph: folding what Keras's exporter leaves in it and onnxruntime does not fold
itself (:func:`simplify`), and a uint8 input (:func:`uint8_input`).

On the torch backend a frozen BatchNorm is exported as ``Sub``/``Mul``/``Add`` with per-channel constants
after its ``Conv``, and a ``"same"`` padding as a ``Pad`` whose amounts are computed at run time from the
input's shape. onnxruntime runs both as written: four extra passes over every activation, and for int8 a
quantization step between each (which wrecks accuracy). Here the arithmetic is folded into the
convolution's weights and bias, and each computed ``Pad`` amount becomes a constant (the image size is
fixed; the amounts do not depend on the batch, which is checked). The result computes the same function.
"""

from __future__ import annotations

from typing import Any

import numpy as np

_ELEMENTWISE = ("Add", "Sub", "Mul", "Div")


def simplify(model: Any) -> Any:
    """``model`` (an ``onnx.ModelProto``, changed in place and returned) after onnxruntime's portable graph
    optimizations, with BatchNorm arithmetic folded into the convolutions and computed ``Pad`` amounts made
    constant; unused nodes removed."""
    model = _optimized(model)
    _constant_pads(model)
    _fold_into_conv(model)
    _prune(model)
    return model


def uint8_input(model: Any) -> Any:
    """``model`` (changed in place and returned) taking uint8 pixels, cast to float inside: a quarter of the
    bytes per image for a caller that has decoded pixels (Pillow, OpenCV, a browser's canvas)."""
    import onnx

    graph = model.graph
    (graph_input,) = graph.input
    name, as_float = graph_input.name, f"{graph_input.name}/float"
    for node in graph.node:
        node.input[:] = [as_float if value == name else value for value in node.input]
    graph_input.type.tensor_type.elem_type = onnx.TensorProto.UINT8
    graph.node.insert(0, onnx.helper.make_node("Cast", [name], [as_float], to=onnx.TensorProto.FLOAT, name="uint8"))
    return model


def _optimized(model: Any) -> Any:
    """onnxruntime's basic optimizations (constant folding, redundant Cast and Transpose removal), which keep
    to standard ONNX operators, so the file runs anywhere."""
    import tempfile

    import onnx
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_BASIC
    with tempfile.TemporaryDirectory() as folder:
        options.optimized_model_filepath = f"{folder}/optimized.onnx"
        onnxruntime.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
        return onnx.load(options.optimized_model_filepath)


def _fold_into_conv(model: Any) -> None:
    from onnx import numpy_helper

    graph = model.graph
    constants = {init.name: init for init in graph.initializer}
    consumers: dict[str, list[Any]] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    outputs = {o.name for o in graph.output}
    for conv in list(graph.node):
        if conv.op_type != "Conv" or conv.input[1] not in constants:
            continue
        weight = numpy_helper.to_array(constants[conv.input[1]]).astype(np.float64)
        channels = weight.shape[0]
        has_bias = len(conv.input) > 2 and conv.input[2] in constants
        bias = numpy_helper.to_array(constants[conv.input[2]]).astype(np.float64) if has_bias else np.zeros(channels)
        out, chain = conv.output[0], []
        while out not in outputs and len(consumers.get(out, [])) == 1:
            node = consumers[out][0]
            operand = _per_channel(node, out, constants, channels)
            if operand is None:
                break
            if node.op_type in ("Add", "Sub"):
                bias = bias + operand if node.op_type == "Add" else bias - operand
            else:
                scale = operand if node.op_type == "Mul" else 1.0 / operand
                weight, bias = weight * scale.reshape(-1, *([1] * (weight.ndim - 1))), bias * scale
            chain.append(node)
            out = node.output[0]
        if not chain:
            continue
        weight_name, bias_name = f"{conv.name}/folded_weight", f"{conv.name}/folded_bias"
        graph.initializer.extend([
            numpy_helper.from_array(weight.astype(np.float32), weight_name),
            numpy_helper.from_array(bias.astype(np.float32), bias_name),
        ])  # fmt: skip
        conv.input[:] = [conv.input[0], weight_name, bias_name]
        conv.output[0] = out  # the convolution now writes what the chain's last node wrote
        for node in chain:
            graph.node.remove(node)


def _per_channel(node: Any, value: str, constants: dict[str, Any], channels: int) -> np.ndarray | None:
    """The constant operand of an elementwise ``node`` applied to ``value`` as one number per channel (NCHW),
    or None when it is not such a node."""
    from onnx import numpy_helper

    if node.op_type not in _ELEMENTWISE or len(node.input) != 2 or node.input[0] != value:
        return None
    if node.input[1] not in constants:
        return None
    operand = numpy_helper.to_array(constants[node.input[1]]).astype(np.float64)
    if operand.size == 1:
        return np.full(channels, float(operand.reshape(())))
    shape = operand.shape
    if operand.size != channels or len(shape) < 3 or any(d != 1 for d in shape[-2:]) or shape[-3] != channels:
        return None
    return operand.reshape(channels)


def _constant_pads(model: Any) -> None:
    """Replace each ``Pad`` amount computed at run time by its value, when batches of 1 and 2 agree on it."""
    import onnx
    import onnxruntime
    from onnx import numpy_helper

    graph = model.graph
    constants = {init.name for init in graph.initializer}
    computed = [n for n in graph.node if n.op_type == "Pad" and len(n.input) > 1 and n.input[1] not in constants]
    if not computed:
        return
    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    del probe.graph.output[:]
    probe.graph.output.extend(onnx.helper.make_empty_tensor_value_info(node.input[1]) for node in computed)
    session = onnxruntime.InferenceSession(probe.SerializeToString(), providers=["CPUExecutionProvider"])
    (graph_input,) = session.get_inputs()
    shape = [d if isinstance(d, int) else 1 for d in graph_input.shape]
    dtype = np.uint8 if graph_input.type == "tensor(uint8)" else np.float32
    runs = [session.run(None, {graph_input.name: np.zeros([batch, *shape[1:]], dtype)}) for batch in (1, 2)]
    for node, one, two in zip(computed, *runs):
        if np.array_equal(one, two):
            name = f"{node.name}/constant_pads"
            graph.initializer.append(numpy_helper.from_array(np.asarray(one, np.int64), name))
            node.input[1] = name


def _prune(model: Any) -> None:
    """Remove nodes nothing uses, and initializers no node reads (not in graphs with subgraphs: If, Loop)."""
    graph = model.graph
    if any(attr.g.node or attr.graphs for node in graph.node for attr in node.attribute):
        return
    needed = {o.name for o in graph.output}
    keep = []
    for node in reversed(graph.node):
        if any(name in needed for name in node.output):
            keep.append(node)
            needed.update(node.input)
    if len(keep) != len(graph.node):
        kept = list(reversed(keep))
        del graph.node[:]
        graph.node.extend(kept)
    unused = [init for init in graph.initializer if init.name not in needed]
    for init in unused:
        graph.initializer.remove(init)
