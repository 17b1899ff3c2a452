"""The report's arithmetic on hand-made run tables: several seeds and learning
rates, a diverged run, grouping by configuration."""

import math

import numpy as np
import pandas
import pytest

from experiments.report import tables
from experiments.tasks.base import ReportView

VIEW = ReportView(
    ("test_accuracy",),
    higher_is_better=True,
    curve_metric="val_accuracy",
    target=0.75,
    references={"floor": {"test_accuracy": "floor_accuracy"}},
)
NAN = float("nan")

# (run id, lr, norm, seed, test accuracy, diverged, val_accuracy by epoch, seconds by epoch)
RUNS = [
    (
        "a0",
        "0.001",
        "batch",
        "0",
        0.80,
        None,
        {1: 0.70, 2: 0.76, 3: 0.80},
        {1: 10.0, 2: 1.0, 3: 2.0},
    ),
    (
        "a1",
        "0.001",
        "batch",
        "1",
        0.82,
        None,
        {1: 0.76, 2: 0.78, 3: 0.82},
        {1: 9.0, 2: 3.0, 3: 3.0},
    ),
    (
        "a2",
        "0.001",
        "batch",
        "2",
        0.84,
        None,
        {1: 0.50, 2: 0.60, 3: 0.70},
        {1: 8.0, 2: 1.0, 3: 2.0},
    ),
    ("b0", "0.001", "none", "0", 0.70, None, {1: 0.60, 2: 0.70}, {1: 5.0, 2: 2.0}),
    ("b1", "0.001", "none", "1", 0.74, None, {1: 0.65, 2: 0.74}, {1: 5.0, 2: 4.0}),
    ("c0", "0.1", "none", "0", 0.50, None, {1: 0.50, 2: 0.52}, {1: 5.0, 2: 4.0}),
    ("c1", "0.1", "none", "1", NAN, "true", {1: NAN}, {1: 100.0, 2: 100.0}),
    ("c2", "0.1", "none", "2", 0.60, None, {1: 0.55, 2: 0.80}, {1: 5.0, 2: 6.0}),
    ("d0", "0.1", "batch", "0", 0.90, None, {1: 0.90}, {1: 7.0}),
]


def _table():
    runs = pandas.DataFrame(
        [
            {
                "run_id": run_id,
                "params.lr": lr,
                "params.norm": norm,
                "params.seed": seed,
                "params.task": "cnn",
                "params.epochs": "3",
                "params.data_dir": None,
                "params.keras_version": "3.15.0",
                "params.optimizer_name": "adam",
                "metrics.test_accuracy": accuracy,
                "metrics.floor_accuracy": 0.1 if lr == "0.001" else 0.2,
                "tags.diverged": diverged,
            }
            for run_id, lr, norm, seed, accuracy, diverged, _, _ in RUNS
        ]
    )
    histories = {
        run_id: {"val_accuracy": curve, "epoch_time_s": seconds}
        for run_id, *_, curve, seconds in RUNS
    }
    return runs, histories


def _rows():
    runs, histories = _table()
    names, rows, references = tables.summarize(runs, histories, VIEW)
    return names, {(row.config, row.norm): row for row in rows}, references


def test_runs_group_by_the_params_that_vary_other_than_norm_and_seed():
    names, rows, _ = _rows()
    assert names == ["lr"]
    # Configurations in order, the norms of each in the vocabulary's order.
    assert list(rows) == [
        (("0.001",), "none"),
        (("0.001",), "batch"),
        (("0.1",), "none"),
        (("0.1",), "batch"),
    ]
    assert [row.runs for row in rows.values()] == [2, 3, 3, 1]


def test_mean_and_std_are_over_seeds():
    _, rows, _ = _rows()
    mean, std = rows[("0.001",), "batch"].metrics["test_accuracy"]
    assert mean == pytest.approx(0.82) and std == pytest.approx(0.02)  # sample std
    mean, std = rows[("0.001",), "none"].metrics["test_accuracy"]
    assert mean == pytest.approx(0.72) and std == pytest.approx(math.sqrt(0.0008))
    assert rows[("0.1",), "batch"].metrics["test_accuracy"] == (0.90, 0.0)
    assert tables.format_mean_std((0.82, 0.02)) == "0.8200 ± 0.0200"
    assert tables.format_mean_std((0.9, 0.0)) == "0.9000"


def test_a_diverged_run_is_counted_and_left_out_of_every_statistic():
    _, rows, _ = _rows()
    row = rows[("0.1",), "none"]
    assert (row.runs, row.diverged) == (3, 1)
    mean, std = row.metrics["test_accuracy"]
    assert mean == pytest.approx(0.55) and std == pytest.approx(math.sqrt(0.005))
    assert row.seconds_per_epoch == pytest.approx(5.0)  # not the diverged run's 100 s
    assert row.epochs_to_target == (2, 1, 2)  # of the two runs that did not diverge
    assert tables.format_runs(row) == "3 (1/3 diverged)"
    assert tables.format_runs(rows[("0.001",), "batch"]) == "3"


def test_a_configuration_where_every_run_diverged_has_no_statistics():
    runs, histories = _table()
    runs.loc[runs["run_id"] == "d0", "tags.diverged"] = "true"
    _, rows, _ = tables.summarize(runs, histories, VIEW)
    [row] = [row for row in rows if row.config == ("0.1",) and row.norm == "batch"]
    assert (row.runs, row.diverged, row.metrics["test_accuracy"]) == (1, 1, None)
    assert (row.epochs_to_target, row.seconds_per_epoch, row.curve) == (None, None, None)
    assert tables.format_runs(row) == "1 (1/1 diverged)"
    assert tables.format_mean_std(None) == tables.format_epochs_to(None) == "-"


def test_epochs_to_target_is_the_mean_over_runs_that_reach_it():
    _, rows, _ = _rows()
    # Seed 0 reaches 0.75 at epoch 2, seed 1 at epoch 1, seed 2 never.
    assert rows[("0.001",), "batch"].epochs_to_target == (1.5, 2, 3)
    assert tables.format_epochs_to((1.5, 2, 3)) == "1.5 (2/3 runs)"
    assert rows[("0.001",), "none"].epochs_to_target == (None, 0, 2)
    assert tables.format_epochs_to((None, 0, 2)) == "never"
    assert tables.format_epochs_to((1.0, 1, 1)) == "1.0"
    lower = ReportView(("test_mse",), higher_is_better=False, curve_metric="val_mse", target=0.1)
    assert tables.epochs_to({1: 0.3, 2: 0.1, 3: 0.05}, lower.target, False) == 2


def test_seconds_per_epoch_leave_out_each_runs_first_epoch():
    _, rows, _ = _rows()
    # Epochs 2 and 3 of three runs: 1, 2, 3, 3, 1, 2.
    assert rows[("0.001",), "batch"].seconds_per_epoch == pytest.approx(2.0)
    assert rows[("0.1",), "batch"].seconds_per_epoch is None  # one epoch: nothing left


def test_curves_average_the_epochs_every_run_has():
    _, rows, _ = _rows()
    epochs, means, stds = rows[("0.001",), "batch"].curve
    assert epochs == [1, 2, 3]
    assert means == pytest.approx(
        [(0.70 + 0.76 + 0.50) / 3, (0.76 + 0.78 + 0.60) / 3, (0.80 + 0.82 + 0.70) / 3]
    )
    assert stds == pytest.approx(
        [
            np.std(epoch, ddof=1)
            for epoch in ([0.70, 0.76, 0.50], [0.76, 0.78, 0.60], [0.80, 0.82, 0.70])
        ]
    )
    epochs, means, _ = rows[("0.1",), "none"].curve
    assert epochs == [1, 2] and means == pytest.approx([0.525, 0.66])


def test_reference_rows_are_per_configuration_over_the_runs_that_did_not_diverge():
    _, _, references = _rows()
    assert references == [
        (("0.001",), "floor", {"test_accuracy": (0.1, 0.0)}),
        (("0.1",), "floor", {"test_accuracy": (0.2, 0.0)}),
    ]


def test_params_restating_the_norm_are_not_a_configuration():
    runs, histories = _table()
    runs["params.g_norm"] = runs["params.norm"]
    names, _, _ = tables.summarize(runs, histories, VIEW, norm_params=("g_norm",))
    assert names == ["lr"]
    assert tables.configuration_params(runs) == ["lr", "g_norm"]


def test_the_training_loop_does_not_make_a_configuration():
    runs = pandas.DataFrame(
        {
            "run_id": ["a", "b", "c"],
            "params.norm": ["batch", "batch", "none"],
            "params.lr": ["0.001", "0.01", "0.001"],
            "params.steps_per_execution": ["32", "1", "32"],
            "params.jit_compile": ["True", "False", "True"],
        }
    )
    assert tables.configuration_params(runs) == ["lr"]
