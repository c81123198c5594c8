"""Test-time augmentation: a prediction averaged over the image and its mirror image.

One definition for the Keras path (:func:`transferkit.inference.predict.probabilities`), the ONNX path
(:meth:`~transferkit.runtime.OnnxClassifier.probabilities`) and ``evaluate --tta``. Only the horizontal flip:
training here flips by default, so the mirror image is as likely as the image. Five crops (corners and
centre at 87.5%, each mirrored too) were measured and left out: on ``python -m bench tta`` (seven kinds of
picture, 210 validation images) none 83.8% / loss 0.774, flip 81.9% / 0.769, flip + crops 78.1% / 0.895
(small photos lose what tells them apart when cropped). TTA is no sure gain, so ``evaluate --tta`` reports
the figures with and without it, for the user's own data to decide. NumPy only.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def views(pixels: np.ndarray) -> list[np.ndarray]:
    """The views averaged for ``(n, height, width, 3)`` pixels: the images, then their mirror images."""
    return [pixels, np.ascontiguousarray(pixels[:, :, ::-1])]


def both(run: Callable[[np.ndarray], np.ndarray], pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(plain, averaged)`` probabilities of ``run`` (pixels -> probabilities): with and without TTA, one
    model call per view."""
    outputs = [np.asarray(run(view), np.float64) for view in views(pixels)]
    return outputs[0], np.mean(outputs, axis=0)


def averaged(run: Callable[[np.ndarray], np.ndarray], pixels: np.ndarray) -> np.ndarray:
    """The probabilities of ``run`` averaged over :func:`views`."""
    return both(run, pixels)[1]
