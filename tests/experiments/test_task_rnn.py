"""The rnn task end to end into a temporary store: sequential images, the adding problem."""

import mlflow
import numpy as np
import pytest

import keras_norms  # noqa: F401  (registers the layers the logged models hold)
from experiments.cli import main
from experiments.data.sequences import adding_problem
from experiments.tasks import TASKS
from experiments.tasks.base import SPLIT_STREAM

TINY = {"epochs": 1, "batch_size": 32, "train_size": 128, "val_size": 64, "test_size": 128}


@pytest.fixture
def tiny_rnn(tiny_data, monkeypatch):
    monkeypatch.setattr(TASKS["rnn"], "quick_settings", TINY)


def test_sequential_images_log_accuracy_datasets_and_model(store, tiny_rnn, runs_of, metric_steps):
    argv = ["run", "--task", "rnn", "--norm", "batch", "--hidden", "8", "--quick"]
    assert main(argv) == 0

    [run] = runs_of("rnn")
    assert run.info.status == "FINISHED"
    params = run.data.params
    assert (params["dataset"], params["cell"], params["hidden"], params["seq_len"]) == (
        "fashion_mnist",
        "lstm",
        "8",
        "28",
    )
    assert 0.0 <= run.data.metrics["test_accuracy"] <= 1.0
    for metric in ("loss", "accuracy", "val_accuracy", "epoch_time_s"):
        assert metric_steps(run, metric) == [1], metric
    assert {i.tags[0].value for i in run.inputs.dataset_inputs} == {
        "training",
        "validation",
        "test",
    }
    assert len(run.outputs.model_outputs) == 1


def test_adding_problem_logs_mse_and_the_baseline_the_report_shows(
    store, tiny_rnn, runs_of, tmp_path, capsys, monkeypatch
):
    # Generated data: a test set large enough for the baseline to be near 1/6.
    monkeypatch.setattr(TASKS["rnn"], "quick_settings", {**TINY, "test_size": 1024})
    argv = [
        "sweep",
        "--task",
        "rnn",
        "--dataset",
        "adding",
        "--seq-len",
        "10",
        "--cell",
        "gru",
        "--hidden",
        "8",
        "--norms",
        "none,weight",
        "--quick",
        "--study",
        "adding",
        "--workers",
        "1",
    ]
    assert main(argv) == 0

    runs = runs_of("rnn", run_kind="train")
    assert sorted(r.data.params["norm"] for r in runs) == ["none", "weight"]
    for run in runs:
        assert run.info.status == "FINISHED"
        assert run.data.params["seq_len"] == "10" and run.data.params["cell"] == "gru"
        assert run.data.metrics["test_mse"] >= 0.0
        # Predicting the training mean scores about the variance of a sum of two U(0, 1).
        assert run.data.metrics["baseline_mse"] == pytest.approx(1 / 6, abs=0.03)
    # Every run is scored on the same test sequences: the baselines agree.
    assert len({r.data.metrics["baseline_mse"] for r in runs}) == 1

    # The logged weight-norm model loads back through MLflow and scores what the run logged.
    [weight_run] = [r for r in runs if r.data.params["norm"] == "weight"]
    [output] = weight_run.outputs.model_outputs
    model = mlflow.keras.load_model(f"models:/{output.model_id}")
    assert any(type(layer).__name__ == "WeightNormalization" for layer in model.layers)
    inputs, targets = adding_problem(1024, 10, seed=[0, SPLIT_STREAM["test"]])
    mse = float(np.mean((model.predict(inputs, verbose=0) - targets) ** 2))
    assert mse == pytest.approx(weight_run.data.metrics["test_mse"], rel=1e-5)

    capsys.readouterr()
    assert main(["report", "--out", str(tmp_path), "--study", "adding"]) == 0
    report = (tmp_path / "report.md").read_text()
    baseline = f"{runs[0].data.metrics['baseline_mse']:.4f}"
    assert "| norm | runs | test_mse | epochs to val_mse ≤ 0.05 | s/epoch |" in report
    assert f"| mean predictor (baseline) | - | {baseline} |" in report
    assert "| weight | 1 |" in report and "| none | 1 |" in report
    assert "test_accuracy" not in report
    assert list(tmp_path.glob("rnn_adding_val_mse*.png"))


BAD_INPUTS = [
    (
        ["--norm", "none", "--seq-len", "1", "--dataset", "adding"],
        "argument --seq-len: must be an integer >= 2, got '1'",
    ),
    (["--norm", "none", "--seq-len", "50"], "--seq-len applies to --dataset adding only"),
    (["--norm", "group"], "argument --norm: invalid choice 'group' (choose from none, batch"),
    (["--norm", "weight_meanbn"], "argument --norm: invalid choice 'weight_meanbn'"),
    (
        ["--norm", "none", "--g-norm", "batch"],
        "--g-norm is an option of --task gan, not of --task rnn",
    ),
    (["--norm", "none", "--cell", "rnn"], "argument --cell: invalid choice 'rnn'"),
    (
        ["--norm", "layer", "--no-data-init"],
        "--no-data-init applies to weight norm only, got norm='layer'",
    ),
    (
        ["--norm", "recurrent_layer", "--step-statistics"],
        "--step-statistics applies to norm recurrent_batch only, got norm='recurrent_layer'",
    ),
    (
        ["--norm", "none", "--dataset", "adding", "--permuted"],
        "--permuted applies to image datasets, got --dataset adding",
    ),
    (
        ["--norm", "recurrent_layer", "--cell", "gru"],
        "norm='recurrent_layer' normalizes inside an LSTM cell, got cell='gru'",
    ),
    (["--norm", "none", "--hidden", "0"], "argument --hidden: must be a positive integer"),
]


@pytest.mark.parametrize("argv, message", BAD_INPUTS, ids=[" ".join(a) for a, _ in BAD_INPUTS])
def test_bad_input_is_refused_before_anything_is_logged(argv, message, store, runs_of, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["run", "--task", "rnn", *argv])
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err
    assert runs_of("rnn") == []


@pytest.mark.parametrize(
    "task, option", [("cnn", "--seq-len"), ("translate", "--cell"), ("gan", "--hidden")]
)
def test_rnn_options_are_refused_with_other_tasks(task, option, store, capsys):
    with pytest.raises(SystemExit):
        main(["run", "--task", task, "--norm", "none", option, "3"])
    assert f"{option} is an option of --task rnn, not of --task {task}" in capsys.readouterr().err
