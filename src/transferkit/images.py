"""Decoding and fitting images, at the path the README names (the code is :mod:`transferkit.data.images`)."""

from __future__ import annotations

from .data.images import (
    IMAGE_EXTENSIONS as IMAGE_EXTENSIONS,
    ImageSource as ImageSource,
    as_sources as as_sources,
    describe as describe,
    fit as fit,
    load as load,
    load_many as load_many,
    open_rgb as open_rgb,
    probe as probe,
    resize_bilinear as resize_bilinear,
)
