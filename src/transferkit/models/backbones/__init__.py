"""Architectures Keras does not have, as functional Keras builders (``build(variant, include_top=...)``)."""
