"""Keras's own BatchNormalization test file, run against keras_norms's class.

The installed keras ships `batch_normalization_test.py`; it runs in a
subprocess with `keras.src.layers.BatchNormalization` swapped for ours (the
`keras_swap` plugin), on the backend of this run, and every test in it must
pass.
"""

import os
import subprocess
import sys
import xml.etree.ElementTree as ElementTree

import keras.src

from tests.layers.backend_utils import BACKEND

KERAS_TEST = os.path.join(
    os.path.dirname(keras.src.__file__),
    "layers",
    "normalization",
    "batch_normalization_test.py",
)
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))


def test_keras_test_file_passes_against_ours(tmp_path):
    report = tmp_path / "report.xml"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            KERAS_TEST,
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "tests.layers.keras_swap",
            f"--junitxml={report}",
        ],
        cwd=ROOT,
        env=dict(os.environ, KERAS_BACKEND=BACKEND, TF_CPP_MIN_LOG_LEVEL="3"),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert report.exists(), result.stdout[-3000:] + result.stderr[-3000:]
    outcomes = {}
    for case in ElementTree.parse(report).iter("testcase"):
        kinds = {child.tag for child in case}
        if kinds & {"failure", "error"}:
            outcomes[case.get("name")] = "failed"
        elif "skipped" in kinds:
            outcomes[case.get("name")] = "skipped"
        else:
            outcomes[case.get("name")] = "passed"
    failed = {name for name, outcome in outcomes.items() if outcome == "failed"}
    assert not failed, result.stdout[-5000:]
    # Keras 3.15's file has 33 tests: all of them run and pass.
    passed = [name for name, outcome in outcomes.items() if outcome == "passed"]
    assert len(outcomes) == 33, sorted(outcomes)
    assert len(passed) == 33, outcomes
