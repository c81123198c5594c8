"""Serving a classifier over HTTP: ``transferkit serve MODEL`` (FastAPI on uvicorn, the ``serve`` extra).

``app`` holds the routes and the page at ``/``, ``predictor`` adapts a ``.keras`` file, a zoo name or an
``.onnx`` export (which is served without importing Keras or torch), ``batcher`` groups concurrent requests
into batches, ``guard`` enforces the limits and writes the access log, ``server`` runs uvicorn. Builds on
:mod:`transferkit.inference` and :mod:`transferkit.runtime`; nothing in transferkit imports it.
"""

from __future__ import annotations

from .app import Settings as Settings, create_app as create_app
from .predictor import Predictor as Predictor, Problem as Problem, load_predictor as load_predictor
from .server import serve as serve
