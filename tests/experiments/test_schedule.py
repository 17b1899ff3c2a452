"""The tasks' learning-rate schedule."""

import numpy as np

from experiments.tasks.schedule import learning_rate


def test_cosine_decays_the_learning_rate_from_lr_to_zero_over_the_run():
    schedule = learning_rate({"lr": 0.1, "lr_schedule": "cosine"}, steps=100)
    values = [float(schedule(step)) for step in (0, 50, 100, 150)]
    np.testing.assert_allclose(values, [0.1, 0.05, 0.0, 0.0], atol=1e-7)
    assert learning_rate({"lr": 0.1, "lr_schedule": "constant"}, steps=100) == 0.1
