"""Every TRANSFERKIT_* variable is read in one place, and a bad value is one clear error naming it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from transferkit import config
from transferkit.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]


def test_every_variable_is_in_the_readme_and_read_nowhere_else() -> None:
    readme = (ROOT / "README.md").read_text()
    names = [v.name for v in config.VARIABLES]
    assert len(names) == 7
    for name in names:
        assert f"`{name}" in readme, name
    reads = re.compile(r"(environ|getenv)\b[^\n]*TRANSFERKIT_")
    for path in (ROOT / "src" / "transferkit").rglob("*.py"):
        if path.name != "config.py":
            assert not reads.search(path.read_text()), f"{path} reads a TRANSFERKIT_ variable itself"


@pytest.mark.parametrize(
    ("name", "value", "reader", "message"),
    [
        ("TRANSFERKIT_MAX_PIXELS", "lots", config.max_pixels, "positive whole number of pixels.*'lots'"),
        ("TRANSFERKIT_MAX_PIXELS", "0", config.max_pixels, "positive whole number"),
        ("TRANSFERKIT_DOWNLOAD_TIMEOUT", "soon", config.download_timeout, "positive number of seconds.*'soon'"),
        ("TRANSFERKIT_DOWNLOAD_TIMEOUT", "inf", config.download_timeout, "positive number of seconds"),
        ("TRANSFERKIT_OFFLINE", "maybe", config.offline, "1 or 0.*'maybe'"),
        ("TRANSFERKIT_KERAS_FIXES", "nope", config.keras_fixes, "1 or 0.*'nope'"),
        ("TRANSFERKIT_KEEP_FREED_MEMORY", "2", config.keep_freed_memory, "1 or 0.*'2'"),
    ],
)
def test_a_bad_value_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, reader: object, message: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=f"^{name} .*{message}") as info:
        reader()  # type: ignore[operator]
    assert isinstance(info.value, ValueError) and "Unset it" in str(info.value)
    with pytest.raises(ConfigError, match=name):
        config.check()


def test_good_values_and_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for variable in config.VARIABLES:
        monkeypatch.delenv(variable.name, raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    assert (config.offline(), config.keras_fixes(), config.keep_freed_memory()) == (False, True, True)
    assert config.weights_mirror() is None
    assert config.max_pixels() == 89_478_485 and config.download_timeout() == 30.0
    assert config.cache_dir() == tmp_path / "keras" / "models"
    monkeypatch.setenv("TRANSFERKIT_OFFLINE", " Yes ")
    monkeypatch.setenv("TRANSFERKIT_MAX_PIXELS", "200_000_000")
    monkeypatch.setenv("TRANSFERKIT_WEIGHTS_MIRROR", str(tmp_path))
    monkeypatch.setenv("TRANSFERKIT_CACHE_DIR", "~/weights")
    assert config.offline() and config.max_pixels() == 200_000_000
    assert config.weights_mirror() == tmp_path.resolve().as_uri()
    assert config.cache_dir() == Path("~/weights").expanduser()
    config.check()
