"""``transferkit serve model.onnx`` in a process where Keras and torch cannot be imported: the same answers as
``transferkit predict --model model.onnx --json``, Grad-CAM refused with a reason, the streaming limits and the
request timeout, and several worker processes."""

from __future__ import annotations

import http.client
import json
import sys
import time
from pathlib import Path

import pytest
from serve_helpers import SIZE, Served, multipart

from helpers import cli


def test_the_onnx_model_is_served_without_keras_or_torch(onnx_server: Served, onnx_file: Path) -> None:
    model = onnx_server.json("GET", "/model")
    assert (
        model["format"] == "onnx" and model["name"] == "textures.onnx" and model["base_model"] == "efficientnet_lite0"
    )
    assert model["classes"] == ["brick", "grass", "gravel", "moon"] and model["input_size"] == [SIZE, SIZE]
    assert model["explain"] is False


def test_onnx_predictions_equal_the_cli(
    onnx_server: Served, onnx_file: Path, textures: tuple[Path, Path], served_photos: dict[str, Path]
) -> None:
    paths = [*sorted(textures[1].glob("*/*.jpg"))[::6], served_photos["cat"]]
    printed = cli("predict", "--model", onnx_file, "--json", "--top", "2", *paths)
    assert printed.returncode == 0, printed.stderr
    expected = json.loads(printed.stdout)
    for start in range(0, len(paths), 4):  # the server takes at most 4 images a request
        chunk = paths[start : start + 4]
        body, headers = multipart([("image", p.name, p.read_bytes()) for p in chunk])
        served = onnx_server.json("POST", "/predict?top=2", body, headers)
        for ours, theirs in zip(served, expected[start : start + 4], strict=True):
            assert ours["image"] == Path(theirs["image"]).name
            assert [p["label"] for p in ours["predictions"]] == [p["label"] for p in theirs["predictions"]]
            for a, b in zip(ours["predictions"], theirs["predictions"]):
                assert a["probability"] == pytest.approx(b["probability"], abs=1e-5)
            assert ours["ood_score"] == pytest.approx(theirs["ood_score"], abs=1e-4)
            assert ours["unfamiliar"] == theirs["unfamiliar"]
            assert ours["unfamiliar"] or ours["image"] != served_photos["cat"].name  # a cat among textures
    moon = onnx_server.json("POST", "/predict?tta=true", sorted((textures[1] / "moon").glob("*.jpg"))[0].read_bytes())
    assert moon[0]["predictions"][0]["label"] == "moon"


def test_explain_on_an_onnx_model_says_to_serve_the_keras_file(
    onnx_server: Served, served_photos: dict[str, Path]
) -> None:
    status, _, body = onnx_server.post("/explain", served_photos["cat"].read_bytes())
    error = json.loads(body)
    assert status == 501 and error["error"] == "cannot_explain" and ".keras" in error["detail"]


def test_too_many_images_and_a_streamed_body_over_the_limit(
    onnx_server: Served, served_photos: dict[str, Path]
) -> None:
    cat = served_photos["cat"].read_bytes()
    status, _, body = onnx_server.post("/predict", *multipart([("image", f"{i}.jpg", cat) for i in range(5)]))
    assert status == 413 and json.loads(body)["error"] == "too_many_images"

    connection = http.client.HTTPConnection("127.0.0.1", onnx_server.port, timeout=30)
    connection.putrequest("POST", "/predict")
    connection.putheader("Transfer-Encoding", "chunked")  # no length to refuse it by: counted as it arrives
    connection.endheaders()
    chunk = b"x" * 65536
    for _ in range(20):  # 1.3 MB, over the 1 MB limit
        connection.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
    answer = connection.getresponse()
    assert answer.status == 413 and json.loads(answer.read())["error"] == "body_too_large"
    connection.close()
    assert onnx_server.json("POST", "/predict", cat)[0]["predictions"]


def test_a_body_that_does_not_arrive_times_out(onnx_server: Served, served_photos: dict[str, Path]) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", onnx_server.port, timeout=30)
    connection.putrequest("POST", "/predict")
    connection.putheader("Content-Length", "10000")
    connection.endheaders()
    connection.send(b"\xff\xd8\xff" + b"\0" * 100)  # then nothing: the server's 3 s timeout answers
    start = time.monotonic()
    answer = connection.getresponse()
    assert answer.status == 408 and json.loads(answer.read())["error"] == "request_timeout"
    assert 2 < time.monotonic() - start < 20
    connection.close()
    assert onnx_server.json("POST", "/predict", served_photos["cat"].read_bytes())[0]["predictions"]


def test_several_workers_share_the_port(onnx_file: Path, tmp_path: Path, served_photos: dict[str, Path]) -> None:
    server = Served([sys.executable, "-m", "transferkit", "serve", str(onnx_file), "--workers", "2"], tmp_path / "log")
    try:
        cat = served_photos["cat"].read_bytes()
        for _ in range(4):
            assert onnx_server_top(server, cat) in ("brick", "grass", "gravel", "moon")
        deadline = time.monotonic() + 30
        while server.logged().count("Application startup complete") < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert server.logged().count("Application startup complete") == 2
    finally:
        server.stop()
    assert server.process.returncode == 0, server.logged()[-2000:]


def onnx_server_top(server: Served, image: bytes) -> str:
    label: str = server.json("POST", "/predict?top=1", image)[0]["predictions"][0]["label"]
    return label


def test_the_keras_file_it_was_exported_from_is_served_with_its_classes(onnx_file: Path, coffee: Path) -> None:
    from transferkit.data import images
    from transferkit.serve import load_predictor
    from transferkit.serve.predictor import Upload

    predictor = load_predictor(str(onnx_file.with_suffix(".keras")))
    assert (predictor.format, predictor.name, predictor.base_model) == ("keras", "textures.keras", "efficientnet_lite0")
    assert predictor.class_names == ["brick", "grass", "gravel", "moon"] and predictor.can_explain
    pixels = predictor.pixels(Upload("coffee.jpg", coffee.read_bytes()))
    assert (pixels == images.load(coffee, (SIZE, SIZE))).all()  # decoded as the CLI decodes the file
    probs, _ = predictor.outputs(pixels[None], tta=False)
    assert probs.shape == (1, 4) and abs(probs.sum() - 1) < 1e-5
