"""``ImageClassifier``: a pretrained backbone with a new head for your classes, BatchNorm-safe.

The Keras model inside is ``image -> backbone(training=False) -> head_pool -> head_dropout -> predictions``
(the head of :mod:`transferkit.models.heads`). The backbone (with its
:class:`~transferkit.models.preprocess.Preprocess` layer) is called in inference mode, so its BatchNorm
layers use their ImageNet statistics whether frozen or not -- the classic way fine-tuning goes wrong in
Keras (issue 9214) cannot happen -- and BatchNorm layers stay frozen when the rest is unfrozen.

:meth:`~ImageClassifier.fine_tune`, :meth:`~ImageClassifier.predict` and :meth:`~ImageClassifier.save` are
facades over :mod:`transferkit.train`, :mod:`transferkit.inference` and :mod:`transferkit.export`, imported
inside the method (Keras's own ``Model.export`` pattern): those packages build on this one, not the reverse.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import keras

from ..errors import ModelFileError
from ..zoo import registry
from . import heads, surgery
from .preprocess import input_spec
from .pretrained import load_pretrained

if TYPE_CHECKING:
    from ..inference.predict import Prediction
    from ..runtime.familiar import Familiarity
    from ..train.finetune import FineTuneResult

BACKBONE = "backbone"


class ImageClassifier:
    """A Keras model plus what it needs to be used later: class names, the registry name it came from and
    the ``temperature`` that calibrates its probabilities (1.0: none; ``transferkit train`` fits it, see
    :mod:`transferkit.runtime.confidence`). The Keras model's own output is never scaled: ``predict`` and
    the exports apply the temperature. ``thresholds``: per-class probability floors below which ``predict``
    answers ``unsure`` (``train --target-precision``; None: none). ``familiar``: the training images' features
    that give each prediction an out-of-distribution score (:mod:`transferkit.runtime.familiar`; None: none)."""

    def __init__(
        self,
        model: Any,
        class_names: Sequence[str],
        base_model: str,
        temperature: float = 1.0,
        thresholds: Sequence[float | None] | None = None,
        familiar: Familiarity | None = None,
    ) -> None:
        """``multi_label`` is read from the head: a sigmoid head is a multi-label classifier, whose
        ``thresholds`` are each label's decision threshold (absent: 0.5) instead of "unsure" floors."""
        self.model = model
        self.class_names = list(class_names)
        self.base_model = base_model
        self.temperature = float(temperature)
        self.thresholds = None if thresholds is None else list(thresholds)
        self.familiar = familiar
        self._with_features: Any = None

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
        multi_label: bool = False,
    ) -> ImageClassifier:
        """The backbone ``name`` without its ImageNet top, and a new softmax head for ``classes`` (a sigmoid
        one with ``multi_label=True``: any number of labels per image).

        ``mixed_precision=True`` computes in bfloat16 (variables and the softmax stay float32): faster on
        GPUs and on CPUs with bfloat16 units (AVX512-BF16/AMX), slower on CPUs without them. ``seed``
        fixes the new head's initial weights (``fine_tune(seed=...)`` fixes the rest of a run).
        Raises :class:`SurgeryError` without two or more classes, and what :func:`load_pretrained` raises.
        """
        count = heads.head_size(num_classes, classes, dropout)
        names = list(classes) if classes is not None else [f"class_{i}" for i in range(count)]
        spec = registry.get(name)
        shape = input_shape or (spec.input_size, spec.input_size, 3)
        previous = keras.config.dtype_policy()
        if mixed_precision:
            keras.config.set_dtype_policy("mixed_bfloat16")
        try:
            backbone = load_pretrained(spec.name, weights=weights, include_top=False, input_shape=shape)
            backbone.name = BACKBONE
            inputs = keras.Input(shape=shape, name="image")
            x = backbone(inputs, training=False)
            taken = (BACKBONE, "image")
            for layer in heads.head_layers(
                x.shape, count, dropout=dropout, taken=taken, seed=seed, multi_label=multi_label
            ):
                x = layer(x)
            model = keras.Model(inputs, x, name=f"{spec.name}_classifier")
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
        return input_spec(self.model)[0]

    @property
    def multi_label(self) -> bool:
        """Whether the head is a sigmoid one: any number of labels per image (``from_pretrained(multi_label=True)``)."""
        return heads.is_multi_label(self.model)

    @property
    def with_features(self) -> Any:
        """The model with a second output: the features the head classifies (its input), for the
        out-of-distribution score. Shares the model's layers; built once."""
        if self._with_features is None:
            head_input = heads.layer(self.model, heads.HEAD).input
            self._with_features = keras.Model(self.model.inputs, [self.model.outputs[0], head_input])
        return self._with_features

    def freeze(self) -> None:
        """Train only the head."""
        self.backbone.trainable = False

    def unfreeze(self, from_layer: surgery.Start | None = None, *, pattern: surgery.Pattern | None = None) -> int:
        """Make exactly part of the backbone trainable: from ``from_layer`` up (a layer name, an index, or the
        top fraction, ``0.3`` = the last 30% of its layers), or the layers matching ``pattern``; neither = all
        of it. BatchNorm layers stay frozen. The vocabulary is :func:`transferkit.surgery.select`'s.

        Returns the number of backbone layers with weights left trainable.
        """
        backbone = self.backbone
        surgery.freeze(backbone)
        surgery.unfreeze(backbone, pattern, from_layer=from_layer)
        return sum(int(layer.trainable and bool(layer.weights)) for layer in backbone.layers)

    # -- training and use -----------------------------------------------------------------------------

    def compile(
        self, learning_rate: Any = 1e-3, label_smoothing: float = 0.0, sparse: bool = False, pos_weight: Any = None
    ) -> None:
        """Adam and cross-entropy; ``sparse`` for integer labels, one-hot otherwise (multi-hot, binary
        cross-entropy, for a multi-label classifier, each label's positives weighted by ``pos_weight``)."""
        args = heads.compile_args(len(self.class_names), sparse, label_smoothing, self.multi_label, pos_weight)
        self.model.compile(optimizer=keras.optimizers.Adam(learning_rate), **args)

    def fit(self, train: Any, validation: Any = None, epochs: int = 5, **kwargs: Any) -> Any:
        """Keras ``fit`` on the whole model (compiles with Adam if not compiled); callbacks pass through."""
        if not self.model.compiled:
            self.compile()
        return self.model.fit(train, validation_data=validation, epochs=epochs, **kwargs)

    def fine_tune(self, train: Any, validation: Any = None, **kwargs: Any) -> FineTuneResult:
        """Two-phase fine-tuning; see :func:`transferkit.train.fine_tune` for the arguments."""
        from ..train.finetune import fine_tune

        return fine_tune(self, train, validation, **kwargs)

    def predict(self, images: Any, top: int = 1, tta: bool = False) -> list[list[Prediction]]:
        """Top-``top`` predictions per image (paths, PIL images or arrays), with this classifier's names;
        ``tta`` averages each with its mirror image's."""
        from ..inference.predict import predict

        return predict(self, images, top=top, tta=tta)

    def export(self, path: str | os.PathLike[str], format: str = "onnx", **kwargs: Any) -> Any:
        """Write this classifier for use without Keras: ``format="onnx"`` (see
        :func:`transferkit.export.export_onnx`, which ``kwargs`` go to); returns the parity figures."""
        from ..export.onnx import export_onnx

        if format != "onnx":
            raise ModelFileError(f"Unknown export format {format!r}: transferkit exports 'onnx'.")
        return export_onnx(self, path, **kwargs)

    def save(self, path: str | os.PathLike[str]) -> None:
        """A ``.keras`` file with the class names, input size, preprocessing and base model inside."""
        from ..export.keras_file import save_classifier

        save_classifier(self, path)
