"""Using exported models without Keras or torch: an ``.onnx`` classifier with onnxruntime, NumPy and Pillow.

Imports none of transferkit's Keras layers (only :mod:`transferkit.errors`), so ``transferkit predict --model
x.onnx`` starts in a fraction of the time ``import keras`` takes, and the module can be copied into any project.
"""

from __future__ import annotations

from .onnx import OnnxClassifier as OnnxClassifier
