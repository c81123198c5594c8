"""The progress display of ``transferkit train``: JSON lines that parse in order, epochs of a real ``fit``,
an ETA for the whole run, skipped steps with their reason, calm output on a terminal and in a log file."""

from __future__ import annotations

import io
import json
from typing import Any

import numpy as np
import pytest

from transferkit.train.progress import Progress, Step, make

INFO = {"model": "efficientnet_lite0", "images": 1519, "val_images": 380, "classes": 9, "split": "20% stratified"}
TWO_STEPS = [Step("cache", "caching features: 1,899 images", 40.0), Step("head", "head (logistic regression)", 10.0)]


class Terminal(io.StringIO):
    """A stream that says it is a terminal, as a console does."""

    def isatty(self) -> bool:
        return True


def _events(stream: io.StringIO) -> list[dict[str, Any]]:
    def refuse(constant: str) -> None:
        raise AssertionError(f"not strict JSON: {constant}")

    return [json.loads(line, parse_constant=refuse) for line in stream.getvalue().splitlines()]


def _fit(progress: Progress, label: str = "fine-tuning top 30%") -> None:
    """A real two-epoch ``fit`` of a tiny Dense model, displayed through the progress callback."""
    import keras

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    rng = np.random.default_rng(0)
    x, y = rng.random((64, 4), dtype=np.float32), rng.integers(0, 3, 64)
    callback = progress.callback("fine_tune", epochs=2, steps_per_epoch=4, label=label)
    model.fit(x, y, batch_size=16, epochs=2, validation_data=(x, y), verbose=0, callbacks=[callback])


def test_json_lines_parse_and_come_in_order() -> None:
    stream = io.StringIO()
    progress = make("json", stream)
    progress.plan(INFO, TWO_STEPS)
    progress.start("cache", 5, unit="image")
    for _ in range(5):
        progress.advance(values={"loss": 0.5})
    progress.end({"val_accuracy": 0.9})
    progress.finish({"val_accuracy": 0.9, "seconds": 12.5, "model": "runs/a/model.keras"})
    events = _events(stream)
    names = [e["event"] for e in events]
    assert names[:2] == ["plan", "start"] and names[-2:] == ["end", "finish"]
    assert set(names[2:-2]) == {"progress"}
    assert events[0]["steps"][0] == {"name": "cache", "label": TWO_STEPS[0].label, "seconds": 40.0, "skipped": None}
    assert events[1]["step"] == "cache" and events[1]["total"] == 5 and events[1]["unit"] == "image"
    assert events[-2]["values"] == {"loss": 0.5, "val_accuracy": 0.9}
    assert events[-1]["summary"]["model"] == "runs/a/model.keras"


def test_json_progress_is_throttled_but_keeps_the_last_one() -> None:
    stream = io.StringIO()
    progress = make("json", stream)
    progress.start("cache", 2000)
    for _ in range(1999):
        progress.advance()
    progress.end()  # one unit short of the total: the throttled last "progress" is sent before "end"
    progress_events = [e for e in _events(stream) if e["event"] == "progress"]
    assert 1 <= len(progress_events) < 50
    assert progress_events[-1]["done"] == 1999


def test_json_turns_nan_and_infinity_into_null() -> None:
    stream = io.StringIO()
    progress = make("json", stream)
    progress.start("head", 1)
    progress.advance(values={"loss": float("nan")})
    progress.end({"val_loss": float("inf"), "val_accuracy": np.float32(0.5)})
    end = _events(stream)[-1]
    assert end["values"] == {"loss": None, "val_loss": None, "val_accuracy": 0.5}


def test_callback_in_a_real_fit_shows_epoch_headers() -> None:
    stream = io.StringIO()
    _fit(make("human", stream))
    out = stream.getvalue()
    assert "fine-tuning top 30%: epoch 1/2" in out and "fine-tuning top 30%: epoch 2/2" in out
    assert out.index("epoch 1/2") < out.index("epoch 2/2")
    assert "val_accuracy" in out and "4/4" in out


def test_callback_in_a_real_fit_emits_epoch_events_with_the_logs() -> None:
    stream = io.StringIO()
    _fit(make("json", stream))
    events = _events(stream)
    epochs = [e for e in events if e["event"] == "epoch"]
    assert [(e["epoch"], e["epochs"]) for e in epochs] == [(1, 2), (2, 2)]
    for e in epochs:
        assert set(e["values"]) == {"loss", "accuracy", "val_loss", "val_accuracy"}
        assert e["done"] == e["total"] == 4
    first = events.index(epochs[0])
    assert events[0]["event"] == "start" and events[first - 1]["event"] == "progress"
    assert events[first + 1]["event"] == "start" and events[first + 1]["label"] == "fine-tuning top 30%: epoch 2/2"


def test_quiet_writes_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    stream = io.StringIO()
    for progress in (make("quiet", stream), make("quiet")):
        progress.plan(INFO, TWO_STEPS)
        progress.start("cache", 3)
        progress.advance(3)
        progress.end({"val_accuracy": 1.0})
        progress.note("nothing to say")
        _fit(progress)
        progress.finish({"seconds": 1.0})
    assert stream.getvalue() == ""
    assert capsys.readouterr().out == ""


def test_the_eta_covers_the_later_steps() -> None:
    stream = io.StringIO()
    progress = make("json", stream)
    progress.plan(INFO, TWO_STEPS)
    progress.start("cache", 10)
    progress.advance(5)
    progress.end()
    start, progress_event, end = _events(stream)[1:]
    assert start["eta_s"] == pytest.approx(50.0)  # nothing done yet: both estimates
    assert progress_event["eta_s"] >= TWO_STEPS[1].seconds  # half measured, plus the head still to come
    assert end["eta_s"] >= TWO_STEPS[1].seconds


def test_the_eta_leaves_out_skipped_steps() -> None:
    stream = io.StringIO()
    progress = make("json", stream)
    progress.plan(INFO, [TWO_STEPS[0], Step("fine_tune", "fine-tuning", 500.0, skipped="no time")])
    progress.start("cache", 10)
    assert _events(stream)[0]["eta_s"] == _events(stream)[1]["eta_s"] == pytest.approx(40.0)


def test_human_plan_shows_the_steps_and_the_skipped_ones_with_their_reason() -> None:
    stream = io.StringIO()
    progress = make("human", stream)
    skipped = Step("fine_tune", "fine-tuning top 30%", 540.0, skipped="one epoch needs ~9 min, budget left 2 min")
    progress.plan({**INFO, "image_size": 224, "budget_s": 300.0}, [*TWO_STEPS, skipped])
    lines = stream.getvalue().splitlines()
    assert lines[0] == (
        "plan: efficientnet_lite0 at 224 px, 1,519 training + 380 validation images, 9 classes (20% stratified split)"
    )
    assert lines[1].startswith("  1. caching features") and lines[1].endswith("~ 40 s")
    assert lines[2].startswith("  2. head") and lines[2].endswith("~ 10 s")
    assert lines[3] == "  -  (skipped) fine-tuning top 30%: one epoch needs ~9 min, budget left 2 min"
    assert lines[4] == "budget 5:00, estimated 0:50"


def test_human_header_shows_the_eta_of_the_run() -> None:
    stream = io.StringIO()
    progress = make("human", stream)
    progress.plan(INFO, TWO_STEPS)
    progress.start("cache", 1_899, unit="image")
    assert stream.getvalue().splitlines()[-1] == "caching features: 1,899 images  (run ETA 0:50)"


def test_human_in_a_log_file_writes_one_line_per_bar() -> None:
    stream = io.StringIO()
    progress = make("human", stream)
    progress.start("cache", 2_000, unit="image")
    for _ in range(2_000):
        progress.advance(values={"loss": 0.25})
    progress.end({"val_accuracy": 0.875})
    lines = stream.getvalue().splitlines()
    assert "\r" not in stream.getvalue()
    assert lines[0] == "cache"  # no plan: the step's name
    assert len(lines) == 2 and lines[1].startswith("  2,000/2,000 [") and "100%" in lines[1]
    assert "loss 0.2500" in lines[1] and "val_accuracy 0.8750" in lines[1]


def test_human_on_a_terminal_redraws_in_place_and_calmly() -> None:
    stream = Terminal()
    progress = make("human", stream)
    progress.start("cache", 20_000, unit="image")
    for _ in range(20_000):
        progress.advance()
    progress.note("a note lands on a line of its own")
    progress.end()
    out = stream.getvalue()
    assert 2 <= out.count("\r") < 100  # redrawn in place, never more than ~10 times a second
    assert "\na note lands on a line of its own\n" in out.replace("\r", "\n")
    assert out.endswith("\n") and "20,000/20,000" in out


def test_default_stream_is_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    make("json").note("hello")
    assert json.loads(capsys.readouterr().out) == {"event": "note", "message": "hello"}


def test_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match=r"Did you mean 'json'\?.*Received: kind='jsn'"):
        make("jsn")
