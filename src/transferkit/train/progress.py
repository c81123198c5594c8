"""What ``transferkit train`` shows while it works: the plan, one bar per phase, the ETA of the whole run.

Three renderings, chosen by name with :func:`make`: ``"human"`` (a plan block, a header and a bar per phase,
the values at its end), ``"json"`` (``--json-progress``: one JSON object a line, for tools) and ``"quiet"``
(nothing). The ETA covers the whole run: what is left of the current phase (measured seconds per unit, or
the plan's estimate before the first unit) plus the estimates of the later plan steps that are not skipped.

Json events, each a line with ``"event"`` first, flushed at once (NaN and infinities become ``null``)::

    plan      info, steps (name, label, seconds, skipped), eta_s
    start     step, label, total, unit, eta_s            (+ epoch, epochs for an epoch of ``fit``)
    progress  step, done, total, eta_s, values            at most 4 a second, always the last one of a bar
    end       step, done, total, seconds, eta_s, values   closes a bar opened by ``start``
    epoch     step, epoch, epochs, done, total, seconds, eta_s, values   closes an epoch of ``fit`` (its logs)
    note      message
    finish    summary

Keras's :class:`~keras.utils.Progbar` does not fit: it writes to ``sys.stdout`` only, knows one bar's ETA,
and on Linux redraws with backspaces, carriage returns and colour codes even into a pipe or a log file
(its ``_dynamic_display`` is true whenever the ``posix`` module is loaded). So the bar here is a small one:
redrawn in place at most 10 times a second on a terminal; elsewhere one line per bar, at its end.
This module does not decide the plan (:mod:`transferkit.train.plan` does) nor run anything.
"""

from __future__ import annotations

import json
import math
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import Any, TextIO

import keras

from .._util.suggest import did_you_mean

TERMINAL_INTERVAL = 0.1  # seconds between redraws of a bar on a terminal: calm, and cheap next to a batch
LOG_INTERVAL = 60.0  # into a file or a pipe: one line per bar, plus one a minute during a long one
JSON_INTERVAL = 0.25  # seconds between "progress" events
BAR_WIDTH = 24


@dataclass
class Step:
    """One step of the plan: ``name`` is what :meth:`Progress.start` is called with, ``label`` what a person
    reads, ``seconds`` the estimate, ``skipped`` the reason when the plan leaves it out."""

    name: str
    label: str
    seconds: float
    skipped: str | None = None


@dataclass
class _Bar:
    """The phase being shown; ``extra``, ``prior_units`` and ``prior_seconds`` carry a step that spans
    several bars (the epochs of ``fit``), so that its rate and what is left of it count them all."""

    step: str
    label: str
    total: int
    unit: str
    extra: int = 0
    prior_units: int = 0
    prior_seconds: float = 0.0
    epoch: tuple[int, int] | None = None
    done: int = 0
    values: dict[str, float] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)

    def elapsed(self) -> float:
        return time.monotonic() - self.started


class Progress:
    """The quiet rendering, and the bookkeeping the others share: the plan, the open bar and the ETA."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = sys.stdout if stream is None else stream
        self.steps: list[Step] = []
        self._bar: _Bar | None = None
        self._position = -1  # index in the plan of the step started last

    def plan(self, info: dict[str, Any], steps: list[Step]) -> None:
        """Shown once before work starts: what will run, what is skipped and why, and how long it should take."""
        self.steps = list(steps)
        self._position = -1

    def start(self, step: str, total: int, unit: str = "batch", label: str | None = None) -> None:
        """A new phase: its header and a bar of ``total`` units (``label`` defaults to the plan step's)."""
        self._open(_Bar(step, label or self._label(step), total, unit))

    def advance(self, n: int = 1, values: dict[str, float] | None = None) -> None:
        """``n`` more units done; ``values`` (running loss, accuracy ...) are shown on the bar."""
        if self._bar is not None:
            self._bar.done += n
            self._bar.values.update(_floats(values))

    def end(self, values: dict[str, float] | None = None) -> None:
        """Close the current bar and show ``values`` (e.g. ``val_accuracy``)."""
        if self._bar is not None:
            self._bar.values.update(_floats(values))
        self._bar = None

    def note(self, message: str) -> None:
        """A line of its own, e.g. why a phase was skipped."""

    def finish(self, summary: dict[str, Any]) -> None:
        """The final summary: validation accuracy, seconds, where the model is."""

    def callback(
        self, step: str, epochs: int, steps_per_epoch: int, label: str | None = None
    ) -> keras.callbacks.Callback:
        """A Keras callback driving this display from ``Model.fit`` (pass ``verbose=0`` to ``fit``): a header
        and a bar per epoch, the epoch's logs at its end."""
        return _FitDisplay(self, step, epochs, steps_per_epoch, label)

    def eta(self) -> float | None:
        """Seconds left in the whole run, or None before anything can tell (a step outside the plan)."""
        later = sum(s.seconds for s in self.steps[self._position + 1 :] if not s.skipped)
        bar = self._bar
        if bar is None:
            return later
        units_done = bar.prior_units + bar.done
        if units_done > 0:
            per_unit = (bar.prior_seconds + bar.elapsed()) / units_done
            return max(bar.total - bar.done + bar.extra, 0) * per_unit + later
        planned = self._planned(bar.step)
        return None if planned is None else planned.seconds + later

    def _open(self, bar: _Bar) -> None:
        planned = self._planned(bar.step)
        if planned is not None:
            self._position = self.steps.index(planned)
        self._bar = bar
        self._opened(bar)

    def _opened(self, bar: _Bar) -> None:
        """A bar was just opened (a header, a "start" event)."""

    def _planned(self, step: str) -> Step | None:
        """The plan step named ``step``: the current one or a later one first (names may repeat)."""
        start = max(self._position, 0)
        for s in self.steps[start:] + self.steps[:start]:
            if s.name == step:
                return s
        return None

    def _label(self, step: str) -> str:
        planned = self._planned(step)
        return step if planned is None else planned.label


class Human(Progress):
    """For a person: a plan block, a header and a bar per phase with the run's ETA, calm in a log file."""

    def __init__(self, stream: TextIO | None = None) -> None:
        super().__init__(stream)
        isatty = getattr(self.stream, "isatty", None)
        self._terminal = bool(isatty()) if callable(isatty) else False
        self._interval = TERMINAL_INTERVAL if self._terminal else LOG_INTERVAL
        self._last_draw = 0.0
        self._width = 0  # of the bar line drawn in place, to blank what a shorter one leaves

    def plan(self, info: dict[str, Any], steps: list[Step]) -> None:
        super().plan(info, steps)
        lines = [f"plan: {_describe(info)}"]
        shown = [s for s in self.steps if not s.skipped]
        width = max((len(s.label) for s in shown), default=0)
        estimates = {id(s): _duration(s.seconds) for s in shown}
        column = max((len(e) for e in estimates.values()), default=0)
        number = 0
        for s in self.steps:
            if s.skipped:
                lines.append(f"  -  (skipped) {s.label}: {s.skipped}")
            else:
                number += 1
                lines.append(f"  {f'{number}.':<3}{s.label:<{width}}  ~ {estimates[id(s)]:>{column}}")
        total = f"estimated {clock(sum(s.seconds for s in shown))}"
        budget = info.get("budget_s")
        lines.append(f"budget {clock(float(budget))}, {total}" if budget else total)
        self._write("\n".join(lines) + "\n")

    def advance(self, n: int = 1, values: dict[str, float] | None = None) -> None:
        super().advance(n, values)
        bar = self._bar
        now = time.monotonic()
        if bar is not None and (now - self._last_draw >= self._interval or (self._terminal and bar.done >= bar.total)):
            self._draw(bar, final=False)

    def end(self, values: dict[str, float] | None = None) -> None:
        bar = self._bar
        super().end(values)
        if bar is not None:
            self._draw(bar, final=True)
        elif values:
            self._write(f"  {_values(_floats(values))}\n")

    def note(self, message: str) -> None:
        self._clear()
        self._write(f"{message}\n")
        if self._bar is not None and self._terminal:
            self._draw(self._bar, final=False)

    def finish(self, summary: dict[str, Any]) -> None:
        self._clear()
        rest = dict(summary)
        seconds = rest.pop("seconds", None)
        lines = [f"done in {clock(float(seconds))}" if isinstance(seconds, (int, float)) else "done"]
        if isinstance(rest.get("val_accuracy"), (int, float)):  # a training run's summary reads as a sentence
            accuracy, loss, images = rest.pop("val_accuracy"), rest.pop("val_loss", None), rest.pop("val_images", None)
            lines[0] += f": validation accuracy {accuracy:.1%}" + (f" (loss {loss:.3f})" if loss is not None else "")
            lines[0] += f" on {images:,} images" if isinstance(images, int) else ""
            skipped = rest.pop("skipped_files", None)
            lines[0] += f"; {skipped} file(s) skipped" if skipped else ""
        elif isinstance(rest.get("micro_f1"), (int, float)):  # a multi-label run
            f1, ap, images = rest.pop("micro_f1"), rest.pop("mAP", None), rest.pop("val_images", None)
            lines[0] += f": validation micro F1 {f1:.1%}" + (f" (mAP {ap:.1%})" if ap is not None else "")
            lines[0] += f" on {images:,} images" if isinstance(images, int) else ""
        if "model_file" in rest and "report" in rest:
            lines.append(f"model: {rest.pop('model_file')}   report: {rest.pop('report')}")
        lines += [f"  {key}: {_number(value)}" for key, value in rest.items()]
        self._write("\n".join(lines) + "\n")

    def _opened(self, bar: _Bar) -> None:
        self._clear()
        eta = self.eta()
        self._write(bar.label + (f"  (run ETA {clock(eta)})" if eta is not None else "") + "\n")
        self._last_draw = time.monotonic()
        if self._terminal:
            self._draw(bar, final=False)

    def _draw(self, bar: _Bar, *, final: bool) -> None:
        """The bar's line: in place on a terminal, else as a line of its own."""
        self._last_draw = time.monotonic()
        digits = len(f"{bar.total:,}")
        fraction = min(bar.done / bar.total, 1.0) if bar.total > 0 else 1.0
        filled = int(BAR_WIDTH * fraction)
        body = ("=" * filled + (">" if 0 < filled < BAR_WIDTH else "")).ljust(BAR_WIDTH)
        line = f"  {bar.done:>{digits},}/{bar.total:,} [{body}] {fraction:4.0%}"
        elapsed = bar.elapsed()
        if final:
            line += f"  {clock(elapsed)}"
        if bar.done > 0:
            line += f"  {_rate(elapsed / bar.done, bar.unit)}"
        if bar.values:
            line += f"  {_values(bar.values)}"
        eta = None if final else self.eta()
        if eta is not None:
            line += f"  run ETA {clock(eta)}"
        if self._terminal:
            self._write("\r" + line.ljust(self._width) + ("\n" if final else ""))
            self._width = 0 if final else len(line)
        else:
            self._write(line + "\n")

    def _clear(self) -> None:
        """Blank a bar drawn in place, so that a line printed now does not land on top of it."""
        if self._terminal and self._width:
            self._write("\r" + " " * self._width + "\r")
            self._width = 0

    def _write(self, text: str) -> None:
        self.stream.write(text)
        self.stream.flush()


class Json(Progress):
    """For tools (``--json-progress``): one JSON object a line on the stream, flushed at once."""

    def __init__(self, stream: TextIO | None = None) -> None:
        super().__init__(stream)
        self._last_progress = 0.0
        self._pending = False  # a throttled "progress" not yet sent: sent before the bar closes

    def plan(self, info: dict[str, Any], steps: list[Step]) -> None:
        super().plan(info, steps)
        self._emit("plan", info=info, steps=[asdict(s) for s in self.steps], eta_s=self.eta())

    def advance(self, n: int = 1, values: dict[str, float] | None = None) -> None:
        super().advance(n, values)
        bar = self._bar
        if bar is None:
            return
        if time.monotonic() - self._last_progress >= JSON_INTERVAL or bar.done >= bar.total:
            self._progress(bar)
        else:
            self._pending = True

    def end(self, values: dict[str, float] | None = None) -> None:
        bar = self._bar
        if bar is not None and self._pending:
            self._progress(bar)
        eta = self.eta()  # before the bar closes: it knows the epochs still to come
        super().end(values)
        if bar is None:
            self._emit("end", values=_floats(values), eta_s=eta)
            return
        epoch = {} if bar.epoch is None else {"epoch": bar.epoch[0], "epochs": bar.epoch[1]}
        self._emit(
            "end" if bar.epoch is None else "epoch",
            step=bar.step,
            **epoch,
            done=bar.done,
            total=bar.total,
            seconds=bar.elapsed(),
            eta_s=eta,
            values=bar.values,
        )

    def note(self, message: str) -> None:
        self._emit("note", message=message)

    def finish(self, summary: dict[str, Any]) -> None:
        self._emit("finish", summary=summary)

    def _opened(self, bar: _Bar) -> None:
        extra = {} if bar.epoch is None else {"epoch": bar.epoch[0], "epochs": bar.epoch[1]}
        self._emit("start", step=bar.step, label=bar.label, total=bar.total, unit=bar.unit, **extra, eta_s=self.eta())
        self._last_progress, self._pending = 0.0, False

    def _progress(self, bar: _Bar) -> None:
        self._emit("progress", step=bar.step, done=bar.done, total=bar.total, eta_s=self.eta(), values=bar.values)
        self._last_progress, self._pending = time.monotonic(), False

    def _emit(self, event: str, **fields: Any) -> None:
        if "eta_s" in fields and fields["eta_s"] is not None:
            fields["eta_s"] = round(float(fields["eta_s"]), 1)
        if "seconds" in fields:
            fields["seconds"] = round(fields["seconds"], 3)
        self.stream.write(json.dumps({"event": event, **_safe(fields)}, allow_nan=False, default=str) + "\n")
        self.stream.flush()


class _FitDisplay(keras.callbacks.Callback):
    """Drives a :class:`Progress` from ``Model.fit``: one bar per epoch, advanced per batch; the step's ETA
    counts the epochs still to come at the rate measured so far (validation time included)."""

    def __init__(self, progress: Progress, step: str, epochs: int, steps_per_epoch: int, label: str | None) -> None:
        super().__init__()
        self.progress, self.step, self.epochs, self.steps_per_epoch = progress, step, epochs, steps_per_epoch
        self.label = label
        self._began = time.monotonic()
        self._units = 0

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        self._began, self._units = time.monotonic(), 0

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        steps = (self.params or {}).get("steps") or self.steps_per_epoch  # Keras knows it better, when it does
        # fit's epochs count from the run's first (a head phase before it, a resumed run): number this step's
        epoch -= max(0, int((self.params or {}).get("epochs") or self.epochs) - self.epochs)
        label = f"{self.label or self.progress._label(self.step)}: epoch {epoch + 1}/{self.epochs}"
        extra = max(self.epochs - epoch - 1, 0) * steps
        seconds = time.monotonic() - self._began
        self.progress._open(
            _Bar(self.step, label, steps, "batch", extra, self._units, seconds, (epoch + 1, self.epochs))
        )

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        bar = self.progress._bar
        if bar is not None:  # batch is the index in the epoch: steps_per_execution > 1 skips some
            self.progress.advance(max(batch + 1 - bar.done, 0), logs)

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        bar = self.progress._bar
        self._units += bar.done if bar is not None else 0
        self.progress.end(logs)


def make(kind: str = "human", stream: TextIO | None = None) -> Progress:
    """The display named ``kind`` (``"human"``, ``"json"`` or ``"quiet"``), writing to ``stream`` (stdout).

    Raises ValueError for another name."""
    kinds: dict[str, type[Progress]] = {"human": Human, "json": Json, "quiet": Progress}
    if kind not in kinds:
        raise ValueError(
            f"Unknown progress display: use one of {', '.join(map(repr, kinds))}.{did_you_mean(kind, kinds)} "
            f"Received: kind={kind!r}"
        )
    return kinds[kind](stream)


def _floats(values: dict[str, Any] | None) -> dict[str, float]:
    """The numbers among ``values`` as floats (Keras logs may hold tensors or numpy scalars)."""
    out: dict[str, float] = {}
    for key, value in (values or {}).items():
        try:
            out[key] = float(value)
        except (TypeError, ValueError):
            continue
    return out


def _safe(value: Any) -> Any:
    """``value`` with NaN and infinities as None and numpy/tensor scalars as numbers, for ``allow_nan=False``."""
    if isinstance(value, dict):
        return {str(k): _safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_safe(v) for v in value]
    if not isinstance(value, (bool, int, float, str)) and hasattr(value, "item"):
        try:
            value = value.item()
        except (TypeError, ValueError, RuntimeError):
            return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _describe(info: dict[str, Any]) -> str:
    """``efficientnet_lite0 at 224 px, 1,519 training + 380 validation images, 9 classes (20% stratified split)``"""
    head = str(info.get("model", "model"))
    size = info.get("image_size")
    if isinstance(size, (tuple, list)):
        size = size[0] if len(set(size)) == 1 else "x".join(map(str, size))
    parts = [head + (f" at {size} px" if size else "")]
    if "images" in info:
        images = f"{_number(info['images'])} training"
        if info.get("val_images"):
            images += f" + {_number(info['val_images'])} validation"
        parts.append(images + " images")
    if "classes" in info:
        parts.append(f"{_number(info['classes'])} classes")
    text = ", ".join(parts)
    return text + (f" ({info['split']} split)" if info.get("split") else "")


def _values(values: dict[str, float]) -> str:
    """``loss 0.4123  accuracy 0.8750  val_loss ...``: the loss first, validation values after training ones."""
    order = sorted(values, key=lambda k: (k.startswith("val_"), k.removeprefix("val_") != "loss"))
    return "  ".join(f"{key} {_number(values[key])}" for key in order)


def _number(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if not math.isfinite(value) or value == 0:
        return str(value)
    return f"{value:,.4f}" if abs(value) >= 1e-3 else f"{value:.3e}"


def clock(seconds: float) -> str:
    """``2:19``, ``1:02:03``."""
    seconds = max(round(seconds), 0)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def _duration(seconds: float) -> str:
    """A plan estimate: ``41 s`` below 100 seconds, else ``2:19``."""
    return f"{seconds:.0f} s" if seconds < 99.5 else clock(seconds)


def _rate(seconds_per_unit: float, unit: str) -> str:
    if seconds_per_unit <= 0:
        return ""
    if seconds_per_unit < 0.1:
        return f"{1 / seconds_per_unit:,.0f} {unit}/s"
    if seconds_per_unit < 1:
        return f"{1 / seconds_per_unit:.1f} {unit}/s"
    return f"{seconds_per_unit:.1f} s/{unit}"
