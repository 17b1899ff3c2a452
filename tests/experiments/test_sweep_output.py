"""What a sweep prints at its end: the results table."""

import statistics

from experiments.execution import configuration_label, results_table, run_label, varying


def _config(norm, seed, lr=1e-3, stats_batch=None):
    config = {"task": "cnn", "norm": norm, "batch_size": 32, "lr": lr, "seed": seed}
    return {**config, "stats_batch": stats_batch}


def _outcome(config, *result, axes=()):
    return (configuration_label(config, axes), *result)


def test_the_results_table_has_a_row_per_configuration_over_its_seeds():
    outcomes = [
        _outcome(_config("batch", 0), "test_accuracy", 0.80, "done"),
        _outcome(_config("batch", 1), "test_accuracy", 0.84, "done"),
        _outcome(_config("batch", 2), "test_accuracy", None, "diverged"),
        _outcome(_config("none", 0), "test_accuracy", 0.70, "done"),
        _outcome(_config("none", 0, lr=1e-2), "test_accuracy", None, "failed"),
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


def test_labels_name_every_param_the_sweep_varies():
    grid = {"seed": [0, 1], "stats_batch": [2, None], "norm": ["batch"], "lr": [1e-3, 1e-2]}
    axes = varying(grid)
    assert axes == ("seed", "stats_batch", "lr")
    ghost = _config("batch", 1, stats_batch=2)
    assert run_label(ghost, axes) == "cnn · batch · bs32 · lr1e-3 · stats_batch=2 · seed 1"
    assert configuration_label(ghost) == "cnn · batch · bs32 · lr1e-3"
    # Long labels widen the table's first column rather than running into the next.
    long = configuration_label(_config("batch", 0, stats_batch=16), ("stats_batch",) * 3)
    header, row = results_table([(long, "test_accuracy", 0.8, "done")]).splitlines()
    assert row.startswith(long + " ") and header.index("metric") == row.index("test_accuracy")
