"""A multi-label ONNX model served where Keras and torch cannot be imported: the labels ``predict`` gives, and
``min_confidence`` refused with a reason."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from serve_helpers import WITHOUT_KERAS, Served, multipart

from helpers import cli


@pytest.fixture(scope="module")
def server(multi_label_onnx: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    served = Served([sys.executable, "-c", WITHOUT_KERAS, "serve", str(multi_label_onnx)],
                    tmp_path_factory.mktemp("multi-server") / "server.log", wait=120)  # fmt: skip
    yield served
    served.stop()


def test_the_server_returns_the_labels_predict_does(
    multi_label_run: tuple[Path, Path], multi_label_onnx: Path, server: Served
) -> None:
    table, _ = multi_label_run
    images = sorted((table.parent / "images").glob("*.jpg"))[3:7]
    expected = json.loads(cli("predict", "--model", multi_label_onnx, "--json", *images).stdout)
    assert server.json("GET", "/model")["multi_label"] is True
    body, headers = multipart([("image", p.name, p.read_bytes()) for p in images])
    for ours, theirs in zip(server.json("POST", "/predict", body, headers), expected, strict=True):
        assert [p["label"] for p in ours["labels"]] == [p["label"] for p in theirs["labels"]]
        for a, b in zip(ours["labels"], theirs["labels"]):
            assert a["probability"] == pytest.approx(b["probability"], abs=1e-5)
    status, _, answer = server.post("/predict?min_confidence=0.5", images[0].read_bytes())
    assert status == 400 and json.loads(answer)["error"] == "not_for_multi_label"
