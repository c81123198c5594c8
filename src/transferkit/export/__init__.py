"""The formats a trained classifier is written to and read back from: one ``.keras`` file with transferkit's
metadata inside (``keras_file``), and ONNX with the same metadata and a parity gate (``onnx``; the ``export``
extra).

Built on :mod:`transferkit.models` (and :mod:`transferkit.keras2`, whose article models a saved file may
hold); importing it imports Keras.
"""

from __future__ import annotations

from .._compat.backend import import_keras

import_keras()

from .keras_file import (  # noqa: E402
    load_classifier as load_classifier,
    read_metadata as read_metadata,
    save_classifier as save_classifier,
)
from .onnx import (  # noqa: E402
    Parity as Parity,
    check_parity as check_parity,
    export_onnx as export_onnx,
    read_onnx_metadata as read_onnx_metadata,
    run_validation as run_validation,
)
