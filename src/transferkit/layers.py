"""The preprocessing layer at the path the README names (the code is :mod:`transferkit.models.preprocess`)."""

from __future__ import annotations

from .models.preprocess import Preprocess as Preprocess

__all__ = ["Preprocess"]
