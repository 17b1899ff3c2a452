"""Runs another project's test file against keras_norms's classes.

The file runs in a pytest subprocess with a plugin that swaps the other
project's class for ours (`keras_swap`, `tfa_swap`); its JUnit report says
how each test case ended.
"""

import os
import subprocess
import sys
import xml.etree.ElementTree as ElementTree

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))


def run_test_file(test_file, plugin, backend, report, *pytest_args):
    """Runs `test_file` with the pytest plugin module `plugin` on the Keras
    `backend`, writing its JUnit report to `report`; returns
    `({test case: "passed" | "failed" | "skipped"}, the run's output)`."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            test_file,
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            plugin,
            *pytest_args,
            f"--junitxml={report}",
        ],
        cwd=ROOT,
        env=dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3"),
        capture_output=True,
        text=True,
        timeout=600,
    )
    output = result.stdout[-5000:] + result.stderr[-3000:]
    assert os.path.exists(report), output
    outcomes = {}
    for case in ElementTree.parse(report).iter("testcase"):
        kinds = {child.tag for child in case}
        if kinds & {"failure", "error"}:
            outcomes[case.get("name")] = "failed"
        elif "skipped" in kinds:
            outcomes[case.get("name")] = "skipped"
        else:
            outcomes[case.get("name")] = "passed"
    return outcomes, output
