"""``transferkit.doctor``: planted duplicates, leaks and label errors are found; fixes move exactly what was chosen."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

WRONG = {"brick_001.jpg": "grass", "grass_002.jpg": "moon", "gravel_003.jpg": "brick"}


@pytest.fixture(scope="module")
def planted(
    textures: tuple[Path, Path], chelsea: Path, tmp_path_factory: pytest.TempPathFactory, one_torch_thread: None
) -> Any:
    """The texture folder copied, with an exact copy in its class, one in another class, a resized re-encoded
    copy in the validation folder, three files moved into a wrong class and a cat among the textures; and its
    diagnosis."""
    from transferkit.doctor import diagnose

    root = tmp_path_factory.mktemp("doctor")
    train, val = root / "train", root / "val"
    shutil.copytree(textures[0], train)
    shutil.copytree(textures[1], val)
    shutil.copyfile(train / "moon" / "moon_004.jpg", train / "moon" / "copy.jpg")
    shutil.copyfile(train / "grass" / "grass_005.jpg", train / "gravel" / "grass_copy.jpg")
    with Image.open(train / "brick" / "brick_006.jpg") as img:
        img.resize((70, 70)).save(val / "brick" / "leak.jpg", quality=75)
    with Image.open(chelsea) as img:
        img.convert("RGB").resize((96, 96)).save(train / "moon" / "cat.jpg")
    for name, wrong in WRONG.items():
        shutil.move(train / name.split("_")[0] / name, train / wrong / name)
    return train, val, diagnose(train, val, image_size=96)


def _groups(diagnosis: Any, kind: str) -> list[set[str]]:
    return [set(f.files) for f in diagnosis.of_kind(kind)]


def test_exact_copies_are_found_within_and_across_classes(planted: Any) -> None:
    train, _, diagnosis = planted
    groups = _groups(diagnosis, "duplicate")
    assert {str(train / "moon" / "moon_004.jpg"), str(train / "moon" / "copy.jpg")} in groups
    across = next(f for f in diagnosis.of_kind("duplicate") if str(train / "gravel" / "grass_copy.jpg") in f.files)
    assert sorted(across.labels) == ["grass", "gravel"] and "conflicting labels" in across.reason


def test_a_resized_copy_in_validation_is_a_leak(planted: Any) -> None:
    train, val, diagnosis = planted
    pair = {str(train / "brick" / "brick_006.jpg"), str(val / "brick" / "leak.jpg")}
    assert any(pair <= g for g in _groups(diagnosis, "leak"))


def test_files_in_the_wrong_class_are_top_label_errors_with_their_class(planted: Any) -> None:
    train, _, diagnosis = planted
    top = diagnosis.of_kind("label_error")[: 2 * len(WRONG)]
    found = {Path(f.files[0]).name: f.suggested_class for f in top}
    hits = [name for name in WRONG if name in found]
    assert len(hits) >= 2
    assert all(found[name] == name.split("_")[0] for name in hits)


def test_a_photo_unlike_every_class_is_an_outlier(planted: Any) -> None:
    train, _, diagnosis = planted
    assert str(train / "moon" / "cat.jpg") in [f.files[0] for f in diagnosis.of_kind("outlier")]


def test_json_has_the_documented_fields_and_a_verdict_per_class(planted: Any) -> None:
    import json

    _, _, diagnosis = planted
    payload = json.loads(json.dumps(diagnosis.as_json()))
    assert {"kind", "files", "suggested_class", "score"} <= set(payload["findings"][0])
    assert set(payload["summary"]["verdicts"]) == {"brick", "grass", "gravel", "moon"}


def _folder(root: Path, textures: tuple[Path, Path]) -> Path:
    for name in ("brick", "grass"):
        (root / name).mkdir(parents=True)
        for src in sorted((textures[0] / name).iterdir())[:2]:
            shutil.copyfile(src, root / name / src.name)
    return root


def test_apply_moves_exactly_the_chosen_files_and_is_idempotent(textures: tuple[Path, Path], tmp_path: Path) -> None:
    from transferkit.doctor import apply_fixes

    root = _folder(tmp_path / "data", textures)
    before = sorted(p.relative_to(root) for p in root.rglob("*") if p.is_file())
    fixes = [
        {"file": str(root / "brick" / "brick_000.jpg"), "action": "move", "to": "grass"},
        {"file": str(root / "grass" / "grass_000.jpg"), "action": "delete"},
        {"file": str(root / "grass" / "grass_001.jpg"), "action": "keep"},
    ]
    dry = apply_fixes(fixes, [root])
    assert (
        not any(m.done for m in dry) and sorted(p.relative_to(root) for p in root.rglob("*") if p.is_file()) == before
    )
    apply_fixes(fixes, [root], dry_run=False)
    after = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
    assert after == [
        "_removed/grass/grass_000.jpg",
        "brick/brick_001.jpg",
        "grass/brick_000.jpg",
        "grass/grass_001.jpg",
    ]
    again = apply_fixes(fixes, [root], dry_run=False)
    assert not any(m.done for m in again)
    assert sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()) == after


def test_apply_never_overwrites_and_refuses_files_outside_the_folder(
    textures: tuple[Path, Path], tmp_path: Path
) -> None:
    from transferkit.doctor import apply_fixes
    from transferkit.errors import DoctorError

    root = _folder(tmp_path / "data", textures)
    shutil.copyfile(root / "brick" / "brick_001.jpg", root / "grass" / "brick_000.jpg")  # the name is taken
    apply_fixes(
        [{"file": str(root / "brick" / "brick_000.jpg"), "action": "move", "to": "grass"}], [root], dry_run=False
    )
    assert (root / "grass" / "brick_000-1.jpg").exists() and (root / "grass" / "brick_000.jpg").exists()
    with pytest.raises(DoctorError, match="not inside"):
        apply_fixes([{"file": str(tmp_path / "elsewhere.jpg"), "action": "delete"}], [root])
    with pytest.raises(DoctorError, match="class"):
        apply_fixes([{"file": str(root / "grass" / "grass_000.jpg"), "action": "move", "to": "../x"}], [root])
