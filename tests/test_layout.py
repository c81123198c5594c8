"""The package's shape: imports run one way with no circle (the import-linter contracts in pyproject.toml), every
package says what it holds, and the public names and module paths the README shows all resolve."""

from __future__ import annotations

import importlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import transferkit

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "transferkit"
LINT_IMPORTS = str(Path(sys.executable).parent / "lint-imports")


def lint_imports(src: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The contracts of ``cwd/pyproject.toml`` checked on the ``transferkit`` package found in ``src``."""
    env = {**os.environ, "PYTHONPATH": str(src)}
    return subprocess.run([LINT_IMPORTS, "--no-cache"], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_imports_run_one_way_with_no_circle() -> None:
    result = lint_imports(ROOT / "src", ROOT)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "2 kept, 0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "statement", "broken"),
    [
        ("zoo/specs.py", "from ..models import surgery", "Subpackages import one way"),  # a lower layer, upwards
        ("data/scan.py", "from .datasets import image_folder", "No import circle"),  # scan <-> datasets
        ("report/metrics.py", "from ..serve import __doc__", "Subpackages import one way"),
    ],
)
def test_the_contracts_catch_an_import_against_the_grain(
    tmp_path: Path, module: str, statement: str, broken: str
) -> None:
    """The same check on a copy of the package with one bad import added fails, naming the contract."""
    copy = tmp_path / "src" / "transferkit"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    target = copy / module
    target.write_text(target.read_text() + f"\n{statement}  # noqa\n")
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    result = lint_imports(tmp_path / "src", tmp_path)
    assert result.returncode != 0
    assert f"{broken}" in result.stdout and "BROKEN" in result.stdout, result.stdout[-3000:]


SUBPACKAGES = sorted(p.parent.name for p in PACKAGE.glob("*/__init__.py"))


def test_the_layout_is_the_code_map() -> None:
    assert SUBPACKAGES == [
        "_compat", "_util", "cli", "data", "doctor", "export", "inference", "keras2", "models", "report", "runtime",
        "serve", "train", "zoo",
    ]  # fmt: skip
    readme = (ROOT / "README.md").read_text()
    for name in SUBPACKAGES:
        assert f"`{name}/`" in readme, f"the README's code map does not mention {name}/"


@pytest.mark.parametrize("name", SUBPACKAGES)
def test_every_package_says_what_it_holds(name: str) -> None:
    doc = (PACKAGE / name / "__init__.py").read_text().split('"""')
    assert len(doc) >= 3 and len(doc[1].split()) >= 20, f"{name}/__init__.py needs a docstring saying what lives there"


def test_every_public_name_resolves() -> None:
    for name in transferkit.__all__:
        assert getattr(transferkit, name) is not None, name
    readme = {"ImageClassifier", "ImageDataGenerator", "load_classifier", "load_pretrained", "predict", "data"}
    assert readme | {"applications", "surgery", "layers", "images", "TransferkitError"} <= set(transferkit.__all__)
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        transferkit.nope  # noqa: B018


@pytest.mark.parametrize(
    ("path", "names"),
    [
        ("transferkit.applications", ["EfficientNetLite0", "InceptionV3", "Inception", "PretrainedModel"]),
        ("transferkit.surgery", ["add", "pop", "remove", "cut", "replace_head", "freeze", "unfreeze", "select"]),
        ("transferkit.layers", ["Preprocess"]),
        ("transferkit.images", ["open_rgb", "load", "fit", "IMAGE_EXTENSIONS"]),
        ("transferkit.data", ["image_folder", "image_table", "class_weights", "ImageDataset", "SkippedFileWarning"]),
        ("transferkit.report", ["write_report", "compute_metrics"]),
    ],
)
def test_the_module_paths_the_readme_names_import(path: str, names: list[str]) -> None:
    module = importlib.import_module(path)
    for name in names:
        assert hasattr(module, name), f"{path}.{name}"


def test_errors_and_warnings_all_live_in_one_module() -> None:
    from transferkit import errors

    raised = {name for name, value in vars(errors).items() if isinstance(value, type) and issubclass(value, Exception)}
    assert raised - {"Exception"} <= set(transferkit.__all__)
    for name in raised - {"SkippedFileWarning"}:
        assert issubclass(getattr(errors, name), errors.TransferkitError), name
