"""Model surgery on functional Keras models, at the path the README names (code: :mod:`transferkit.models.surgery`)."""

from __future__ import annotations

from .models.surgery import (
    Pattern as Pattern,
    Start as Start,
    add as add,
    cut as cut,
    freeze as freeze,
    pop as pop,
    remove as remove,
    replace_head as replace_head,
    select as select,
    top_layers as top_layers,
    unfreeze as unfreeze,
)

__all__ = [
    "Pattern",
    "Start",
    "add",
    "cut",
    "freeze",
    "pop",
    "remove",
    "replace_head",
    "select",
    "top_layers",
    "unfreeze",
]
