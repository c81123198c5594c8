"""``transferkit serve`` with a zoo model, as a real process on loopback: the same answers as ``transferkit predict
--json``, concurrent requests batched, every bad request one 4xx JSON error after which the server goes on,
Grad-CAM as PNG and JSON, one access-log line per request, a page that needs no network."""

from __future__ import annotations

import base64
import http.client
import io
import json
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from serve_helpers import Served, multipart

from helpers import cli

CATS = ("tabby", "tiger cat", "Egyptian cat", "Persian cat", "Siamese cat")


def predictions(answer: list[dict[str, Any]]) -> list[list[tuple[str, int, float]]]:
    return [[(p["label"], p["class_index"], p["probability"]) for p in row["predictions"]] for row in answer]


def assert_same(served: list[dict[str, Any]], printed: list[dict[str, Any]]) -> None:
    """Labels, indices and order equal; probabilities equal up to float rounding (batches differ in size)."""
    for ours, theirs in zip(predictions(served), predictions(printed), strict=True):
        assert [p[:2] for p in ours] == [p[:2] for p in theirs]
        np.testing.assert_allclose([p[2] for p in ours], [p[2] for p in theirs], rtol=1e-4, atol=1e-6)


def test_health_and_model(lite0_server: Served) -> None:
    health = lite0_server.json("GET", "/health")
    assert health["status"] == "ok" and health["model"] == "efficientnet_lite0"
    model = lite0_server.json("GET", "/model")
    assert model["format"] == "zoo" and model["base_model"] == "efficientnet_lite0"
    assert model["input_size"] == [224, 224] and model["num_classes"] == len(model["classes"]) == 1000
    assert model["classes"][281] == "tabby" and model["explain"] is True


def test_predictions_equal_the_cli(lite0_server: Served, served_photos: dict[str, Path]) -> None:
    paths = [served_photos["cat"], served_photos["coffee"], served_photos["astronaut"]]
    printed = cli("predict", "--json", "--top", "5", *paths)
    assert printed.returncode == 0, printed.stderr
    expected = json.loads(printed.stdout)

    body, headers = multipart([("images", p.name, p.read_bytes()) for p in paths])
    served = lite0_server.json("POST", "/predict?top=5", body, headers)
    assert [row["image"] for row in served] == [p.name for p in paths]  # the file names sent, in order
    assert_same(served, expected)

    raw = lite0_server.json("POST", "/predict", paths[0].read_bytes(), {"Content-Type": "image/jpeg"})
    assert raw[0]["image"] == "image"
    assert_same(raw, expected[:1])
    assert predictions(raw)[0][0][0] in CATS


def test_tta_is_the_librarys(lite0_server: Served, served_photos: dict[str, Path], lite0: Any) -> None:
    from transferkit.inference import predict

    path = served_photos["cat"]
    expected = predict(lite0, [path], top=3, tta=True)
    served = lite0_server.json("POST", "/predict?top=3&tta=true", path.read_bytes())
    assert [p[:2] for p in predictions(served)[0]] == [(p.label, p.class_index) for p in expected[0]]
    np.testing.assert_allclose([p[2] for p in predictions(served)[0]], [p.probability for p in expected[0]], atol=1e-5)
    plain = lite0_server.json("POST", "/predict?top=3", path.read_bytes())
    assert predictions(plain)[0][0][2] != predictions(served)[0][0][2]


def test_min_confidence_answers_unsure_below_it(lite0_server: Served, served_photos: dict[str, Path]) -> None:
    path = served_photos["cat"]
    plain = lite0_server.json("POST", "/predict?top=2", path.read_bytes())
    assert "answer" not in plain[0]
    top = plain[0]["predictions"][0]
    sure = lite0_server.json("POST", f"/predict?top=2&min_confidence={top['probability'] / 2}", path.read_bytes())
    assert sure[0]["answer"] == {**top, "unsure": False} and sure[0]["predictions"] == plain[0]["predictions"]
    unsure = lite0_server.json("POST", "/predict?min_confidence=1", path.read_bytes())
    assert unsure[0]["answer"] == {"label": "unsure", "class_index": None, "probability": top["probability"],
                                   "unsure": True}  # fmt: skip
    status, _, _ = lite0_server.request("POST", "/predict?min_confidence=2", path.read_bytes())
    assert status == 422


def test_concurrent_requests_all_succeed_and_are_batched(lite0_server: Served, served_photos: dict[str, Path]) -> None:
    before = lite0_server.json("GET", "/health")["batching"]["sizes"]
    data, clients = served_photos["cat"].read_bytes(), 16
    start = threading.Barrier(clients)
    answers: list[tuple[int, bytes]] = []

    def client() -> None:
        start.wait()
        status, _, body = lite0_server.post("/predict?top=1", data)
        answers.append((status, body))

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(answers) == clients and {status for status, _ in answers} == {200}
    assert {json.loads(body)[0]["predictions"][0]["label"] for _, body in answers} <= set(CATS)
    after = lite0_server.json("GET", "/health")["batching"]["sizes"]
    new = {int(size): count - before.get(size, 0) for size, count in after.items() if count > before.get(size, 0)}
    assert sum(size * count for size, count in new.items()) == clients
    assert max(new) > 1, f"no batch of more than one image among {new}"


def _png(width: int, height: int) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("L", (width, height)).save(buffer, format="PNG")
    return buffer.getvalue()


def _bad_requests(cat: bytes) -> dict[str, tuple[str, bytes, dict[str, str], int, str]]:
    """name: (path, body, headers, status, error code)."""
    return {
        "empty body": ("/predict", b"", {}, 400, "empty_body"),
        "not an image": ("/predict", b"just some text, not a picture\n" * 20, {}, 415, "not_an_image"),
        "truncated JPEG": ("/predict", cat[: len(cat) // 2], {}, 400, "corrupt_image"),
        "wrong field name": ("/predict", *multipart([("file", "cat.jpg", cat)]), 422, "no_image_field"),
        "text instead of a file": ("/predict", *multipart([("image", "", b"cat.jpg")]), 422, "not_a_file"),
        "empty file": ("/predict", *multipart([("image", "cat.jpg", b"")]), 400, "empty_image"),
        "too many images": (
            "/predict",
            *multipart([("image", f"{i}.jpg", cat) for i in range(33)]),
            413,
            "too_many_images",
        ),  # fmt: skip
        "too many pixels": ("/predict", _png(2100, 2000), {}, 413, "too_many_pixels"),
        "bad parameter": ("/predict?top=0", cat, {}, 422, "bad_parameter"),
        "broken multipart": (
            "/predict",
            b"--x\r\nnonsense",
            {"Content-Type": "multipart/form-data"},
            400,
            "bad_multipart",
        ),  # fmt: skip
        "unknown class": ("/explain?class=unicorn", cat, {}, 422, "bad_class"),
        "class out of range": ("/explain?class_index=1000", cat, {}, 422, "bad_class"),
        "two images to explain": ("/explain", *multipart([("image", "a.jpg", cat)] * 2), 413, "too_many_images"),
        "unknown path": ("/nowhere", cat, {}, 404, "not_found"),
    }


@pytest.mark.parametrize("case", list(_bad_requests(b"")))
def test_each_bad_request_is_a_4xx_json_error_and_the_server_goes_on(
    lite0_server: Served, served_photos: dict[str, Path], case: str
) -> None:
    cat = served_photos["cat"].read_bytes()
    path, body, headers, status, code = _bad_requests(cat)[case]
    got, answer_headers, answer = lite0_server.post(path, body, headers)
    assert (got, answer_headers["content-type"]) == (status, "application/json"), answer[:300]
    error = json.loads(answer)
    assert error["status"] == status and error["error"] == code and len(error["detail"]) > 20
    good = lite0_server.json("POST", "/predict?top=1", cat)
    assert good[0]["predictions"][0]["label"] in CATS


def test_a_body_over_the_limit_is_refused_before_it_is_read(lite0_server: Served) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", lite0_server.port, timeout=30)
    connection.putrequest("POST", "/predict")
    connection.putheader("Content-Length", str(21_000_000))  # over the default 20 MB; nothing is sent
    connection.endheaders()
    answer = connection.getresponse()
    assert answer.status == 413 and json.loads(answer.read())["error"] == "body_too_large"
    connection.close()
    assert lite0_server.get("/health")[0] == 200


def test_explain_answers_a_png_or_json(lite0_server: Served, served_photos: dict[str, Path]) -> None:
    from PIL import Image

    cat = served_photos["cat"].read_bytes()
    top = lite0_server.json("POST", "/predict?top=1", cat)[0]["predictions"][0]
    status, headers, png = lite0_server.post("/explain", cat)
    assert status == 200 and headers["content-type"] == "image/png"
    assert int(headers["x-class-index"]) == top["class_index"]
    assert headers["x-class-label"] == top["label"].replace(" ", "%20")
    assert Image.open(io.BytesIO(png)).size == (451, 300)  # the photo's own size (under 640 px a side)

    shown = lite0_server.json("POST", "/explain?format=json&class=tabby", cat)
    assert shown["label"] == "tabby" and shown["class_index"] == 281 and 0 < shown["probability"] < 1
    assert Image.open(io.BytesIO(base64.b64decode(shown["png_base64"]))).size == (451, 300)


def test_every_request_is_one_access_log_line(lite0_server: Served, served_photos: dict[str, Path]) -> None:
    def logged_posts() -> list[dict[str, Any]]:
        lines = [json.loads(line) for line in lite0_server.logged().splitlines() if line.startswith("{")]
        return [line for line in lines if line["path"] == "/predict"]

    before = len(logged_posts())
    body, headers = multipart([("image", "a.jpg", served_photos["cat"].read_bytes())] * 2)
    lite0_server.post("/predict?top=1", body, headers)
    lite0_server.post("/predict", b"")
    deadline = time.monotonic() + 10  # the line is written once the answer has gone: it may trail the answer
    while len(logged_posts()) < before + 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    posts = logged_posts()[before:]
    assert all({"method", "path", "status", "images", "ms", "client"} <= set(line) for line in posts)
    assert sorted((line["status"], line["images"]) for line in posts) == [(200, 2), (400, 0)]
    assert all(line["ms"] > 0 for line in posts)


def test_the_page_and_docs_need_no_network(lite0_server: Served) -> None:
    status, headers, page = lite0_server.get("/")
    assert status == 200 and headers["content-type"].startswith("text/html")
    assert b'src="static/app.js"' in page and b'href="static/style.css"' in page
    for text in (page, lite0_server.get("/static/app.js")[2], lite0_server.get("/static/style.css")[2]):
        assert b"http://" not in text and b"https://" not in text and b"//cdn" not in text
    spec = lite0_server.json("GET", "/openapi.json")
    assert {"/predict", "/explain", "/health", "/model"} <= set(spec["paths"])
    assert lite0_server.get("/docs")[0] == 200
