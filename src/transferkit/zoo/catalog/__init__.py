"""Every pretrained model transferkit knows, as data: the Keras applications first, then EfficientNet-Lite.

Each family module only declares :class:`~transferkit.zoo.specs.ModelSpec` entries (it imports nothing but
``specs``); :mod:`transferkit.zoo.registry` registers them. Adding a model is adding an entry here.
"""

from __future__ import annotations

from ..specs import ModelSpec
from . import keras_apps, lite

SPECS: tuple[ModelSpec, ...] = (*keras_apps.SPECS, *lite.SPECS)
