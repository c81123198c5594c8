"""Grad-CAM: where in an image a classifier looked for a class, as a heatmap of the image's own size.

Owns the heatmap (:func:`explain`, :func:`grad_cam`) and its picture (:func:`overlay`, :func:`overlay_png`);
not the decoding (:mod:`transferkit.data.images`) nor the graph walking (:mod:`transferkit.models.graph`).

The model is split where its feature map is collapsed into a vector (the input of its first *top layer*:
``avg_pool`` in a zoo model, ``head_pool`` after an :class:`~transferkit.ImageClassifier`'s backbone). The
feature map is computed once without gradients; only the top layers are differentiated, by the backend's own
autograd, so Grad-CAM costs one forward pass plus a matrix product. torch and JAX give the same heatmaps
(tested); TensorFlow takes ``GradientTape``, untested here (not installed). The score is the class's
pre-softmax logit when the last layer is a ``Dense`` with an activation or a softmax layer (the probability
saturates near 1 and its gradient vanishes), else the model's output.

Geometry: the model sees the image fitted as prediction fits it. Without ``crop_pct`` (fine-tuned
classifiers) that is the whole image resized, so the map is resized back over the whole image. With
``crop_pct`` (zoo models) it is a centre crop, so the heat is placed on that crop's box in the image and the
border the model never saw is 0 -- no heat is claimed where nothing was looked at.
"""

from __future__ import annotations

import io
import os
import threading
import weakref
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import keras
import numpy as np
from PIL import Image

from .._util.suggest import did_you_mean
from ..data import images as images_mod
from ..errors import ModelFileError
from ..models import graph
from ..models.preprocess import input_spec
from ..runtime.confidence import apply_temperature
from .predict import class_names, load_model

_ONNX = "explanations need the .keras model (Grad-CAM needs gradients, which an .onnx export has not)"


class Explanation(NamedTuple):
    """:func:`grad_cam`'s answer: the heatmap, the class it explains, and the image it lies over."""

    heatmap: np.ndarray  # float32 (height, width) in [0, 1], the image's own size
    class_index: int
    label: str
    probability: float
    image: Image.Image  # the decoded RGB image, full size


def explain(model: Any, image: Any, class_index: int | None = None) -> np.ndarray:
    """The Grad-CAM heatmap of ``image`` for ``class_index`` (default: the top class): a float32 array of the
    image's own (height, width), 0 where nothing speaks for the class, 1 where most does.

    ``model``: an :class:`~transferkit.ImageClassifier`, a Keras classifier (e.g. from
    :func:`~transferkit.load_pretrained`) or a zoo name; ``image``: a path, a PIL image or an array. Works on
    the torch and JAX backends. Raises :class:`ModelFileError` for an ``.onnx`` file, a model
    without a spatial feature map or a class index out of range, and :class:`ImageError` for an unreadable image.
    """
    return grad_cam(model, image, class_index).heatmap


def grad_cam(model: Any, image: Any, class_index: int | None = None) -> Explanation:
    """:func:`explain` with what a caller shows beside it: the class, its probability (calibrated by the
    classifier's temperature, as :func:`~transferkit.inference.predict.predict` gives it), the decoded image."""
    if isinstance(model, (str, os.PathLike)):
        model = load_explainable(model)  # here, not in _resolve: its temperature is needed too
    keras_model, names = _resolve(model)
    split = _split(keras_model)
    size, crop_pct = input_spec(keras_model)
    pixels = images_mod.load(image, size, crop_pct)  # what predict feeds the model, byte for byte
    whole = images_mod.open_rgb(image)
    features = keras.ops.convert_to_tensor(split.features.predict_on_batch(pixels[None]), dtype="float32")
    scores, outputs = (np.asarray(keras.ops.convert_to_numpy(t), np.float64)[0] for t in split.head(features))
    if getattr(model, "multi_label", False):  # each label's own sigmoid probability: explained one label at a time
        probs = outputs
    else:
        probs = apply_temperature(_probabilities(outputs), getattr(model, "temperature", 1.0))  # predict's figure
    names = names or class_names(keras_model, len(probs))
    index = int(np.argmax(scores)) if class_index is None else _checked(class_index, len(probs))
    maps, grads = _gradient(lambda f: split.head(f)[0][0, index], features)
    cam = np.maximum(np.einsum("hwk,k->hw", maps[0], grads[0].mean(axis=(0, 1))), 0.0)
    cam = cam / cam.max() if cam.max() > 0 else np.zeros_like(cam)
    heatmap = _placed(cam.astype(np.float32), (whole.height, whole.width), size, crop_pct)
    return Explanation(heatmap, index, names[index], float(probs[index]), whole)


def class_index_of(model: Any, name: str) -> int:
    """The output index of the class called ``name`` (a digit string is taken as an index when no class has that
    name), or :class:`ModelFileError` with the closest names."""
    keras_model, names = _resolve(model)
    names = names or class_names(keras_model, int(keras_model.output_shape[-1]))
    if name in names:
        return names.index(name)
    folded = [i for i, known in enumerate(names) if known.casefold() == name.casefold()]
    if len(folded) == 1:
        return folded[0]
    if name.isdigit() and int(name) < len(names):
        return int(name)
    listed = f"Its classes: {', '.join(names)}." if len(names) <= 30 else f"It has {len(names)} classes."
    if len(names) > 30:
        listed += " `transferkit predict IMAGE` shows the names it gives."
    raise ModelFileError(f"The model has no class '{name}'.{did_you_mean(name, names)} {listed}")


def overlay(image: Any, heatmap: np.ndarray, alpha: float = 0.45, cmap: str = "jet") -> Image.Image:
    """``heatmap`` in matplotlib's ``cmap`` colours blended over ``image`` (``alpha`` of colour), at the image's
    size: the picture a person reads a Grad-CAM by. A heatmap of another size is stretched to fit."""
    from matplotlib import colormaps

    rgb = images_mod.open_rgb(image)
    heat = np.asarray(heatmap, np.float32)
    if heat.shape != (rgb.height, rgb.width):
        heat = _resized(heat, (rgb.height, rgb.width))
    colour = colormaps[cmap](np.clip(heat, 0.0, 1.0))[..., :3] * 255.0
    blended = (1.0 - alpha) * np.asarray(rgb, np.float32) + alpha * colour
    return Image.fromarray(np.clip(np.rint(blended), 0, 255).astype(np.uint8))


def overlay_png(image: Any, heatmap: np.ndarray, alpha: float = 0.45, cmap: str = "jet") -> bytes:
    """:func:`overlay` encoded as PNG, for an HTTP response or a file."""
    buffer = io.BytesIO()
    overlay(image, heatmap, alpha, cmap).save(buffer, format="PNG")
    return buffer.getvalue()


# -- the model ------------------------------------------------------------------------------------------------


def load_explainable(name_or_path: str | os.PathLike[str]) -> Any:
    """A saved classifier or a zoo model by name, as :func:`~transferkit.inference.load_model` loads it; an
    ``.onnx`` file is refused with a :class:`ModelFileError` saying to use the ``.keras`` model."""
    if os.fspath(name_or_path).endswith(".onnx"):
        raise ModelFileError(f"'{os.fspath(name_or_path)}': {_ONNX}; pass the .keras file it was exported from.")
    return load_model(name_or_path)


def _resolve(model: Any) -> tuple[Any, list[str] | None]:
    """The Keras model inside ``model`` and the class names it carries (None: read them from the output size)."""
    if isinstance(model, (str, os.PathLike)):
        model = load_explainable(model)
    names = getattr(model, "class_names", None)
    keras_model = getattr(model, "model", model)
    if not isinstance(keras_model, keras.Model):
        if hasattr(model, "session"):  # runtime.OnnxClassifier, not imported: it is a sibling layer's
            raise ModelFileError(f"An ONNX classifier cannot be explained: {_ONNX}.")
        raise ModelFileError(
            f"Grad-CAM explains an ImageClassifier, a Keras model or a zoo name; received {type(keras_model).__name__}."
        )
    return keras_model, list(names) if names is not None else None


class _Split(NamedTuple):
    features: Any  # keras.Model: image -> the last spatial feature map
    head: Callable[[Any], tuple[Any, Any]]  # feature map -> (class scores, model outputs)


_SPLITS: weakref.WeakKeyDictionary[Any, _Split] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()  # a server explains from several threads


def _split(model: Any) -> _Split:
    """The model cut before its top layers, built once per model."""
    with _LOCK:
        if model not in _SPLITS:
            _SPLITS[model] = _cut(model)
        return _SPLITS[model]


def _cut(model: Any) -> _Split:
    try:
        top = graph.top_nodes(model)
    except Exception as exc:  # SurgeryError for a subclassed model, Keras's own for odd graphs
        raise ModelFileError(f"Grad-CAM cannot read the graph of '{model.name}': {exc}") from None
    feature_map = top[0].input_tensors[0] if top else None
    if feature_map is None or len(feature_map.shape) != 4:
        raise ModelFileError(
            f"'{model.name}' has no spatial feature map before a classification head, so Grad-CAM has nothing to "
            "look at; explain a classifier (a zoo model with its top, or an ImageClassifier)."
        )
    inputs = graph.functional(model).inputs
    inputs = inputs[0] if len(inputs) == 1 else inputs  # a one-element list makes Keras warn at every call
    features = keras.Model(inputs, feature_map, name=f"{model.name}_features")
    layers = [node.operation for node in top]
    body, last = layers[:-1], layers[-1]
    pre_activation = _pre_activation(last)

    def head(x: Any) -> tuple[Any, Any]:
        for layer in body:
            x = layer(x, training=False)
        out = last(x, training=False)
        return (pre_activation(x) if pre_activation else out), out

    return _Split(features, head)


def _pre_activation(layer: Any) -> Callable[[Any], Any] | None:
    """The last layer without its activation (the logits), computed without changing the shared layer."""
    kind = type(layer).__name__
    activation = getattr(getattr(layer, "activation", None), "__name__", "linear")
    if kind == "Softmax" or (kind == "Activation" and activation == "softmax"):
        return lambda x: x
    if kind == "Dense" and activation != "linear":
        ops = keras.ops

        def logits(x: Any) -> Any:
            y = ops.matmul(ops.cast(x, layer.kernel.dtype), layer.kernel)
            return y + layer.bias if layer.use_bias else y

        return logits
    return None


def _gradient(score: Callable[[Any], Any], features: Any) -> tuple[np.ndarray, np.ndarray]:
    """The feature map and the gradient of the scalar ``score(features)`` with respect to it, as NumPy."""
    backend = keras.backend.backend()
    if backend == "torch":
        import torch

        leaf = features.detach().float().requires_grad_(True)
        with torch.enable_grad():
            (grad,) = torch.autograd.grad(score(leaf), leaf)
        return leaf.detach().cpu().numpy(), grad.detach().float().cpu().numpy()
    if backend == "jax":
        import jax

        return np.asarray(features, np.float32), np.asarray(jax.grad(score)(features), np.float32)
    if backend == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            tape.watch(features)
            value = score(features)
        return np.asarray(features, np.float32), np.asarray(tape.gradient(value, features), np.float32)
    raise ModelFileError(f"Grad-CAM needs gradients, which the '{backend}' backend does not give here.")


def _probabilities(outputs: np.ndarray) -> np.ndarray:
    """The model's outputs as probabilities (softmax applied to logits), by predict's rule."""
    if outputs.min() < 0 or not np.isclose(outputs.sum(), 1.0, atol=1e-3):
        outputs = np.exp(outputs - outputs.max())
        outputs = outputs / outputs.sum()
    return outputs


def _checked(class_index: Any, count: int) -> int:
    if isinstance(class_index, bool) or not isinstance(class_index, (int, np.integer)):
        raise ModelFileError(f"class_index must be an integer; received {class_index!r}.")
    if not 0 <= class_index < count:
        raise ModelFileError(
            f"class_index {class_index} is out of range: the model has {count} classes (0-{count - 1})."
        )
    return int(class_index)


# -- geometry -------------------------------------------------------------------------------------------------


def crop_box(image_size: tuple[int, int], size: tuple[int, int], crop_pct: float | None) -> tuple[int, int, int, int]:
    """The (left, top, right, bottom) box of an image of ``image_size`` = (height, width) that
    :func:`transferkit.data.images.fit` shows the model: the whole image without ``crop_pct``."""
    height, width = image_size
    if crop_pct is None:
        return 0, 0, width, height
    scale = max(size) / crop_pct / min(height, width)  # fit's arithmetic, mapped back to the image
    new_w, new_h = max(size[1], round(width * scale)), max(size[0], round(height * scale))
    left, top = (new_w - size[1]) // 2, (new_h - size[0]) // 2
    sx, sy = width / new_w, height / new_h
    box = round(left * sx), round(top * sy), round((left + size[1]) * sx), round((top + size[0]) * sy)
    return box[0], box[1], max(box[2], box[0] + 1), max(box[3], box[1] + 1)


def _placed(cam: np.ndarray, image_size: tuple[int, int], size: tuple[int, int], crop_pct: float | None) -> np.ndarray:
    left, top, right, bottom = crop_box(image_size, size, crop_pct)
    heatmap = np.zeros(image_size, np.float32)
    heatmap[top:bottom, left:right] = _resized(cam, (bottom - top, right - left))
    return np.clip(heatmap, 0.0, 1.0)


def _resized(array: np.ndarray, size: Sequence[int]) -> np.ndarray:
    """Bilinear resize of a float 2-D map to (height, width)."""
    plane = Image.fromarray(np.ascontiguousarray(array, np.float32))
    return np.asarray(plane.resize((int(size[1]), int(size[0])), Image.Resampling.BILINEAR), np.float32)
