"""Small helpers every layer may use: atomic writes, "Did you mean" suggestions, argument checks.

Imports only :mod:`transferkit.errors` and the standard library; nothing here knows of models or images.
"""
