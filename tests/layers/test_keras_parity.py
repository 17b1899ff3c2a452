"""Keras's own BatchNormalization test file, run against keras_norms's class.

The installed keras ships `batch_normalization_test.py`; it runs in a
subprocess with `keras.src.layers.BatchNormalization` swapped for ours (the
`keras_swap` plugin), on the backend of this run, and every test in it must
pass.
"""

import os

import keras.src

from tests.layers.backend_utils import BACKEND
from tests.layers.foreign_tests import run_test_file

KERAS_TEST = os.path.join(
    os.path.dirname(keras.src.__file__),
    "layers",
    "normalization",
    "batch_normalization_test.py",
)


def test_keras_test_file_passes_against_ours(tmp_path):
    outcomes, output = run_test_file(
        KERAS_TEST, "tests.layers.keras_swap", BACKEND, tmp_path / "report.xml"
    )
    # Whatever the installed Keras's file holds: every case runs, none fails.
    assert outcomes, output
    assert {name for name, outcome in outcomes.items() if outcome != "passed"} == set(), output
