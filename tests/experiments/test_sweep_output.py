"""What a sweep prints at its end: the results table."""

import statistics

from experiments.execution import results_table


def _config(norm, seed, lr=1e-3):
    return {"task": "cnn", "norm": norm, "batch_size": 32, "lr": lr, "seed": seed}


def test_the_results_table_has_a_row_per_configuration_over_its_seeds():
    outcomes = [
        (_config("batch", 0), "test_accuracy", 0.80, "done"),
        (_config("batch", 1), "test_accuracy", 0.84, "done"),
        (_config("batch", 2), "test_accuracy", None, "diverged"),
        (_config("none", 0), "test_accuracy", 0.70, "done"),
        (_config("none", 0, lr=1e-2), "test_accuracy", None, "failed"),
    ]
    lines = results_table(outcomes).splitlines()
    assert lines[0].split() == ["configuration", "metric", "mean", "std", "runs"]
    rows = {line[:44].strip(): line[44:].split(maxsplit=3) for line in lines[1:]}
    spread = statistics.stdev([0.80, 0.84])
    assert rows == {
        "cnn · batch · bs32 · lr1e-3": ["test_accuracy", "0.82", f"{spread:.2g}", "3, 1 diverged"],
        "cnn · none · bs32 · lr1e-3": ["test_accuracy", "0.7", "-", "1"],
        "cnn · none · bs32 · lr1e-2": ["test_accuracy", "-", "-", "1, 1 failed"],
    }
