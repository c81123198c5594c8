"""Serving a trained classifier over HTTP (reserved: ``transferkit serve`` is built here next).

It will read an exported model's metadata and call :mod:`transferkit.inference`; nothing in transferkit
imports it.
"""
