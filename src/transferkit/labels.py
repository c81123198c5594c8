"""ImageNet-1k class names, shipped inside the package (no download at run time)."""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources


@lru_cache(maxsize=1)
def _classes() -> list[list[str]]:
    text = resources.files("transferkit").joinpath("_resources/imagenet_classes.json").read_text("utf-8")
    classes: list[list[str]] = json.loads(text)["classes"]
    return classes


def imagenet_labels() -> list[str]:
    """The 1000 short class names in model output order (``281`` is ``"tabby cat"``)."""
    return [c[1] for c in _classes()]


def imagenet_wnids() -> list[str]:
    """The WordNet ids of the 1000 classes (``n02123045`` ...), as Keras's ``decode_predictions`` gives them."""
    return [c[0] for c in _classes()]
