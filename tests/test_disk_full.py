"""A full disk (``small_disk``: a 3 MB tmpfs mounted for the test): saving a
model and a training run end with one line naming the folder and the size, leave no partial file, and keep the
previous good file; the converted-weights cache is skipped with a warning (the model still loads). A download
on a full disk: ``tests/zoo/test_weights.py``."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers import cli


def test_a_model_save_that_runs_out_of_space_keeps_the_previous_file(small_disk: Path, lite0: object) -> None:
    from transferkit import DiskFullError, ImageClassifier

    target = small_disk / "model.keras"
    target.write_bytes(b"the previous good model")
    classifier = ImageClassifier.from_pretrained(classes=["a", "b"], input_shape=(64, 64, 3), seed=0)
    with pytest.raises(DiskFullError, match=f"No space left in '{small_disk}' for 'model.keras': it needs more than"):
        classifier.save(target)
    assert target.read_bytes() == b"the previous good model"
    assert sorted(p.name for p in small_disk.iterdir()) == ["model.keras"]  # no partial file


def test_training_and_the_weights_cache_on_a_full_disk_are_one_line(
    small_disk: Path, textures: tuple[Path, Path]
) -> None:
    out = small_disk / "run"
    result = cli("train", textures[0], "--out", out, "--image-size", 64, "--fine-tune-epochs", 1, "--quiet")
    assert result.returncode != 0 and len(result.stderr.strip().splitlines()) == 1, result.stderr[-2000:]
    assert "No space left in" in result.stderr and "Traceback" not in result.stderr
    assert not [p for p in out.rglob("*") if ".tmp" in p.name]


def test_a_full_weights_cache_only_costs_a_warning(small_disk: Path, coffee: Path) -> None:
    cache = small_disk / "cache"
    result = cli("predict", coffee, "--top", "1", env={"TRANSFERKIT_CACHE_DIR": str(cache)})
    assert result.returncode == 0 and "espresso" in result.stdout, result.stderr[-2000:]
    assert f"no space left in '{cache}" in result.stderr.lower() and "not cached" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert not [p for p in cache.rglob("*") if ".tmp" in p.name]
