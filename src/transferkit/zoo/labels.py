"""ImageNet-1k class names, shipped inside the package (no download at run time)."""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources


@lru_cache(maxsize=1)
def _classes() -> list[list[str]]:
    text = resources.files(__package__).joinpath("_resources/imagenet_classes.json").read_text("utf-8")
    classes: list[list[str]] = json.loads(text)["classes"]
    return classes


def imagenet_labels() -> list[str]:
    """The 1000 short class names in model output order (``281`` is ``"tabby cat"``)."""
    return [c[1] for c in _classes()]
