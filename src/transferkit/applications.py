"""The article's model constructors at the path the README names (the code is :mod:`transferkit.keras2.applications`).

``from transferkit.applications import InceptionV3, Inception, EfficientNetLite0, PretrainedModel`` ...
"""

from __future__ import annotations

from .keras2 import applications as _applications
from .keras2.applications import *  # noqa: F403  (every zoo model's constructor, by its Keras class name)

__all__ = _applications.__all__
__getattr__ = _applications.__getattr__
