"""tensorflow-addons' own FilterResponseNormalization tests, run against ours.

tensorflow-addons does not import under Keras 3 and its wheel ships no
tests, so its test file is read from a checkout of tensorflow/addons named by
`KERAS_NORMS_TFA_SOURCE` (e.g. `git clone https://github.com/tensorflow/addons`
at its last release); without one this test is skipped. The file runs in a
subprocess with the `tfa_swap` plugin, which makes
`tensorflow_addons.layers.normalizations` hold keras_norms's classes.
Its tests call TensorFlow directly, so this runs on the TensorFlow backend.
"""

import os

import pytest

from tests.layers.backend_utils import BACKEND
from tests.layers.foreign_tests import run_test_file

SOURCE = os.environ.get("KERAS_NORMS_TFA_SOURCE", "")
TEST_FILE = os.path.join(SOURCE, "tensorflow_addons", "layers", "tests", "normalizations_test.py")

# The file's FilterResponseNormalization tests.
FRN_TESTS = (
    "test_with_beta or test_with_gamma or test_with_epsilon or "
    "test_keras_model or test_serialization or test_eps_gards or "
    "test_filter_response_normalization_save or "
    "test_filter_response_norm_compute_output_shape"
)

# The ones that fail, each for a stated reason.
EXPECTED_FAILURES = {
    # Its reference computes in float16, rounding after every operation;
    # ours computes in float32 and rounds once, so some outputs differ by
    # one float16 ulp (ours are the closer to the exact result, see
    # test_filter_response_normalization.py).
    *(
        f"{test}[{mode}-float16]"
        for test in ("test_with_beta", "test_with_gamma", "test_with_epsilon")
        for mode in ("eager_mode", "tf_function")
    ),
    # It saves with `save_format="tf"`, a Keras 2 argument that Keras 3's
    # `Model.save` refuses whatever the layers (the `.h5` save before it
    # passes).
    "test_filter_response_normalization_save[eager_mode]",
    "test_filter_response_normalization_save[tf_function]",
}


@pytest.mark.skipif(BACKEND != "tensorflow", reason="tensorflow-addons' tests call TensorFlow")
@pytest.mark.skipif(
    not os.path.isfile(TEST_FILE),
    reason="set KERAS_NORMS_TFA_SOURCE to a tensorflow/addons checkout",
)
def test_tfa_filter_response_normalization_tests_pass_against_ours(tmp_path):
    outcomes, output = run_test_file(
        TEST_FILE,
        "tests.layers.tfa_swap",
        "tensorflow",
        tmp_path / "report.xml",
        "--import-mode=importlib",
        "-k",
        FRN_TESTS,
    )
    failed = {name for name, outcome in outcomes.items() if outcome == "failed"}
    assert failed == EXPECTED_FAILURES, output
    # tensorflow-addons 0.23's file: 37 FRN test cases, all run.
    assert len(outcomes) == 37, sorted(outcomes)
    assert "skipped" not in outcomes.values(), outcomes
