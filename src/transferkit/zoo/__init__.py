"""The model zoo as data: what each pretrained model is, where its weights come from, and the cache.

``specs`` (the :class:`ModelSpec` vocabulary), ``catalog`` (the 43 entries), ``registry`` (lookup by name),
``weights`` (fetch and verify one file), ``cache`` (the cache by model name, for the CLI) and ``labels``
(ImageNet's class names). Nothing here imports Keras, so listing the zoo is instant; building a model is
:mod:`transferkit.models`' job. Imports only :mod:`transferkit.config`, :mod:`transferkit.errors` and
:mod:`transferkit._util` (and :mod:`transferkit._compat` when a builder is imported).
"""

from __future__ import annotations

from .cache import describe as describe
from .labels import imagenet_labels as imagenet_labels
from .registry import all_specs as all_specs, get as get, register as register, temporary as temporary
from .specs import (
    ModelSpec as ModelSpec,
    Normalization as Normalization,
    PackageWeights as PackageWeights,
    WeightFile as WeightFile,
)
