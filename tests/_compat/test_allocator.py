"""Once transferkit imports Keras, memory a process frees is reused instead of faulted in again."""

from __future__ import annotations

import json

import pytest

from helpers import python
from transferkit._compat.allocator import glibc

pytestmark = pytest.mark.skipif(glibc() is None, reason="the setting is glibc's")

# Page faults of allocating (and touching) 64 MiB five times, after transferkit's Keras import.
FAULTS = """
import json, resource
import numpy as np
from transferkit._compat.backend import import_keras
import_keras()
faults = []
for _ in range(5):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    buffer = np.ones(16 << 20, np.float32)
    del buffer
    faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
print(json.dumps(faults))
"""


def faults(**env: str) -> list[int]:
    run = python(FAULTS, KERAS_BACKEND="torch", **env)
    assert run.returncode == 0, run.stderr
    return list(json.loads(run.stdout.strip().splitlines()[-1]))


def test_freed_memory_is_reused() -> None:
    first, *again = faults()
    assert first > 100  # touching 64 MiB of new memory faults its pages in
    assert max(again) < first / 10, (first, again)


@pytest.mark.parametrize(
    "env", [{"TRANSFERKIT_KEEP_FREED_MEMORY": "0"}, {"MALLOC_MMAP_THRESHOLD_": "131072"}], ids=["off", "users-own"]
)
def test_switched_off_or_the_users_own_setting_left_alone(env: dict[str, str]) -> None:
    """glibc as it ships (or as asked: serve 128 KiB and more by mmap) hands each 64 MiB buffer back to the
    kernel: every allocation faults its pages in again."""
    first, *again = faults(**env)
    assert min(again) > first / 2, (first, again)
