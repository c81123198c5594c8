"""``transferkit doctor``: the summary, doctor.json and doctor.html; ``--apply`` as a dry run, then for real."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from helpers import cli


@pytest.fixture(scope="module")
def folder(textures: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two texture classes, five images each, with one exact copy."""
    root = tmp_path_factory.mktemp("cli-doctor") / "data"
    for name in ("brick", "moon"):
        (root / name).mkdir(parents=True)
        for src in sorted((textures[0] / name).iterdir())[:5]:
            shutil.copyfile(src, root / name / src.name)
    shutil.copyfile(root / "moon" / "moon_000.jpg", root / "moon" / "again.jpg")
    return root


def test_doctor_writes_the_json_the_page_and_a_verdict_per_class(
    folder: Path, tmp_path: Path, one_torch_thread: None
) -> None:
    result = cli("doctor", folder, "--out", tmp_path, "--image-size", "96")
    assert result.returncode == 0, result.stderr
    assert "1 duplicate" in result.stdout and "brick" in result.stdout and "moon" in result.stdout
    payload = json.loads((tmp_path / "doctor.json").read_text())
    dup = next(f for f in payload["findings"] if f["kind"] == "duplicate")
    assert sorted(dup["files"]) == [str(folder / "moon" / "again.jpg"), str(folder / "moon" / "moon_000.jpg")]
    page = (tmp_path / "doctor.html").read_text()
    assert "data:image/jpeg;base64," in page and "fixes.json" in page and 'data-file="' in page


def test_apply_is_a_dry_run_until_yes(folder: Path, tmp_path: Path) -> None:
    folder = Path(shutil.copytree(folder, tmp_path / "data"))  # the module's folder stays as it was
    fixes = tmp_path / "fixes.json"
    fixes.write_text(json.dumps({"fixes": [{"file": str(folder / "moon" / "again.jpg"), "action": "delete"}]}))
    dry = cli("doctor", folder, "--apply", fixes)
    assert dry.returncode == 0 and "Dry run" in dry.stdout and (folder / "moon" / "again.jpg").exists()
    done = cli("doctor", folder, "--apply", fixes, "--yes")
    assert done.returncode == 0 and (folder / "_removed" / "moon" / "again.jpg").exists()
    assert not (folder / "moon" / "again.jpg").exists()
    assert "Nothing to do" in cli("doctor", folder, "--apply", fixes, "--yes").stdout


def test_a_bad_fixes_file_is_one_line(folder: Path, tmp_path: Path) -> None:
    (tmp_path / "fixes.json").write_text("not json")
    result = cli("doctor", folder, "--apply", tmp_path / "fixes.json")
    assert result.returncode == 1 and "fixes.json that doctor.html downloads" in result.stderr
