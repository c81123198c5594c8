"""keras-preprocessing's own tests of ImageDataGenerator and its iterators (vendored in ``reference/``), run on
transferkit's drop-in and, as the control, on Keras 3's legacy copy: each in a subprocess, since both answer to
the ``keras_preprocessing`` name. Every test the control passes must pass for transferkit; the counts are printed
at the end of the run."""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

REFERENCE = Path(__file__).parent / "reference"
ROOT = Path(__file__).parents[2]


def _start(implementation: str, tmp_path: Path) -> tuple[subprocess.Popen[bytes], Path]:
    report = tmp_path / f"{implementation}.xml"
    env = dict(os.environ, TRANSFERKIT_REFERENCE_IMPL=implementation, OMP_NUM_THREADS="1")
    env.pop("PYTEST_XDIST_WORKER", None)
    command = [sys.executable, "-m", "pytest", str(REFERENCE), "-q", "-p", "no:cacheprovider", "-p", "no:xdist"]
    command += [f"--junitxml={report}", f"--basetemp={tmp_path / implementation}"]
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    return process, report


def _outcomes(report: Path) -> dict[str, str]:
    """``{test id: passed | failed | skipped}`` from a JUnit XML report."""
    outcomes = {}
    for case in ET.parse(report).iter("testcase"):
        failed = case.find("failure") is not None or case.find("error") is not None
        outcome = "failed" if failed else "skipped" if case.find("skipped") is not None else "passed"
        outcomes[f"{case.get('classname')}::{case.get('name')}"] = outcome
    return outcomes


def test_keras_preprocessing_suite_passes_wherever_keras3_does(
    tmp_path: Path, record_property: pytest.RecordProperty
) -> None:
    runs = {implementation: _start(implementation, tmp_path) for implementation in ("transferkit", "keras3")}
    results, logs = {}, {}
    for implementation, (process, report) in runs.items():
        logs[implementation] = process.communicate(timeout=300)[0].decode(errors="replace")
        assert report.exists(), f"the {implementation} run wrote no report:\n{logs[implementation][-3000:]}"
        results[implementation] = _outcomes(report)
    for implementation, outcomes in results.items():
        passed = sum(outcome == "passed" for outcome in outcomes.values())
        record_property("reference_suite", f"{implementation} passes {passed} of {len(outcomes)}")
    ours, control = results["transferkit"], results["keras3"]
    assert set(ours) == set(control)
    regressions = sorted(test for test, outcome in control.items() if outcome == "passed" != ours[test])
    assert not regressions, f"Keras 3 passes, transferkit does not: {regressions}\n{logs['transferkit'][-5000:]}"
    # and the two Keras 3 fails (its iterators have no .next()): transferkit passes the whole suite
    assert all(outcome == "passed" for outcome in ours.values()), logs["transferkit"][-5000:]
