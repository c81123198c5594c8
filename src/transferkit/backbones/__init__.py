"""Backbones that Keras itself lacks. Everything in ``keras.applications`` is used as Keras ships it."""
