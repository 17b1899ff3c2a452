"""The command line end to end, into a temporary SQLite store."""

import json
import math
import os
import signal
import socket
import subprocess
import sys
import time
import types
import urllib.request
from pathlib import Path

import keras
import mlflow
import pytest

from experiments.cli import main
from experiments.data import images as data
from experiments.tasks import TASKS
from experiments.tasks.base import Task
from tests.experiments import processes
from tests.experiments.conftest import TINY_SETTINGS
from tests.experiments.ports import free_port

REPO = Path(__file__).resolve().parents[2]

COMMON_PARAMS = {
    "task",
    "norm",
    "dataset",
    "epochs",
    "batch_size",
    "lr",
    "seed",
    "quick",
    "train_size",
    "val_size",
    "test_size",
    "data_dir",
    "depth",
    "optimizer",
    "keras_version",
    "tensorflow_version",
    "keras_norms_version",
}


def _runs(uri, **filters):
    mlflow.set_tracking_uri(uri)
    if mlflow.get_experiment_by_name("keras-norms-cnn") is None:
        return []
    runs = mlflow.MlflowClient().search_runs(
        [mlflow.get_experiment_by_name("keras-norms-cnn").experiment_id]
    )
    return [r for r in runs if all(r.data.tags.get(k) == v for k, v in filters.items())]


@pytest.fixture(scope="module")
def quick_batch_run(tiny_tfds_dir, tmp_path_factory):
    """The store of one `--quick` run of the CNN with batch norm at rate 0.002,
    MLflow's system metrics sampled often enough that a run of a few seconds
    on a fast machine has several. The tests below check different things of
    this one run, which trains once for them all."""
    uri = f"sqlite:///{tmp_path_factory.mktemp('quick_batch_run') / 'store' / 'mlflow.db'}"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(data, "network_reachable", lambda url, timeout=None: False)
        patch.setenv("MLFLOW_TRACKING_URI", uri)
        patch.setenv("TFDS_DATA_DIR", str(tiny_tfds_dir))
        patch.setattr(TASKS["cnn"], "quick_settings", TINY_SETTINGS)
        patch.setenv("MLFLOW_SYSTEM_METRICS_SAMPLING_INTERVAL", "0.5")
        patch.setenv("MLFLOW_ENABLE_SYSTEM_METRICS_LOGGING", "true")  # off by default
        argv = ["run", "--task", "cnn", "--norm", "batch", "--quick", "--lr", "0.002"]
        assert main([*argv, "--study", "e2e"]) == 0
    return uri


def test_quick_run_logs_params_epoch_metrics_dataset_model_and_figure(quick_batch_run, tiny_cnn):
    store = quick_batch_run
    [run] = _runs(store)
    assert run.info.status == "FINISHED"
    assert COMMON_PARAMS <= set(run.data.params)
    assert run.data.params["norm"] == "batch" and run.data.params["epochs"] == "2"
    assert run.data.tags["study"] == "e2e"
    assert len(run.data.tags["mlflow.source.git.commit"]) == 40
    client = mlflow.MlflowClient()
    for metric in (
        "loss",
        "accuracy",
        "val_loss",
        "val_accuracy",
        "epoch_time_s",
        "examples_per_s",
    ):
        steps = [m.step for m in client.get_metric_history(run.info.run_id, metric)]
        assert sorted(steps) == [1, 2], metric
    assert 0.0 <= run.data.metrics["test_accuracy"] <= 1.0
    contexts = {i.tags[0].value for i in run.inputs.dataset_inputs}
    assert contexts == {"training", "validation", "test"}
    assert "learning_curves.png" in {a.path for a in client.list_artifacts(run.info.run_id)}

    # The model loads back (the library's layers registered by its import) and
    # scores on the test split what the run logged.
    import keras_norms  # noqa: F401  (registers the layers the logged model holds)
    from experiments.data.images import load_images

    [output] = run.outputs.model_outputs
    model = mlflow.keras.load_model(f"models:/{output.model_id}")
    test = load_images(
        "fashion_mnist", batch_size=32, seed=0, train_size=256, val_size=128, test_size=128
    ).test
    accuracy = model.evaluate(test, return_dict=True, verbose=0)["accuracy"]
    assert math.isclose(accuracy, run.data.metrics["test_accuracy"], abs_tol=1e-6)


def test_a_run_has_a_readable_name_system_metrics_and_its_scores_on_its_logged_model(
    quick_batch_run,
):
    [run] = _runs(quick_batch_run)
    assert run.info.run_name == "cnn · batch · bs32 · lr2e-3 · seed 0"
    description = run.data.tags["mlflow.note.content"]
    assert description.startswith("**cnn**: ResNet-style image classifier")
    assert (
        "Normalization `batch`, on fashion_mnist (256 training examples), 2 epochs, "
        "batch size 32, learning rate 0.002, seed 0, a quick run."
    ) in description

    # MLflow's system metrics, sampled while the run trained.
    for metric in ("system/cpu_utilization_percentage", "system/system_memory_usage_megabytes"):
        assert metric in run.data.metrics, metric
        assert mlflow.MlflowClient().get_metric_history(run.info.run_id, metric)

    # The logged model carries the run's test scores, its last epoch's metrics
    # and its config, and is found by them.
    [output] = run.outputs.model_outputs
    assert output.step == 2  # the epoch of its weights
    model = mlflow.get_logged_model(output.model_id)
    assert model.name == "model-batch" and model.source_run_id == run.info.run_id
    scores = {m.key: m.value for m in model.metrics}
    for key in ("test_loss", "test_accuracy", "loss", "accuracy", "val_loss", "val_accuracy"):
        assert scores[key] == run.data.metrics[key], key
    assert model.params["norm"] == "batch" and model.params["lr"] == "0.002"
    found = mlflow.search_logged_models(
        experiment_ids=[run.info.experiment_id],
        output_format="list",
        filter_string=f"metrics.test_accuracy >= {run.data.metrics['test_accuracy']}",
    )
    assert [m.model_id for m in found] == [output.model_id]
    # Linking left the run's own history alone: one test score, one point.
    history = mlflow.MlflowClient().get_metric_history(run.info.run_id, "test_accuracy")
    assert len(history) == 1


def test_sweep_makes_a_parent_and_a_child_per_configuration_then_a_report(
    store, tiny_cnn, tmp_path, capsys, monkeypatch
):
    argv = [
        "sweep",
        "--task",
        "cnn",
        "--norms",
        "none,layer",
        "--epochs",
        "1",
        "--quick",
        "--study",
        "two",
        "--workers",
        "1",
    ]
    assert main(argv) == 0
    out, err = capsys.readouterr()
    assert "run 1/2" in out and "run 2/2" in out and "left" in out
    # A line per run with its primary metric, a table at the end, where to look next.
    assert "done: cnn · none · bs32 · lr1e-3 · seed 0: test_accuracy 0." in out
    assert any(
        line.startswith("cnn · layer · bs32 · lr1e-3 ") and "test_accuracy" in line
        for line in out.splitlines()
    )
    assert "report --study two" in out and " ui " in out
    # Quiet: no Keras progress bars, no MLflow INFO lines (without -v).
    assert "━" not in out and "INFO mlflow.system_metrics" not in err
    assert keras.config.is_interactive_logging_enabled()  # given back after the sweep

    [parent] = _runs(store, run_kind="sweep")
    children = _runs(store, run_kind="train")
    assert parent.info.status == "FINISHED"
    assert parent.info.run_name == "cnn sweep · two"
    assert parent.data.tags["mlflow.note.content"].startswith(
        "**cnn sweep** of 2 runs, one per combination of seed: 0; batch_size: 32; "
        "lr: 0.001; norm: none, layer."
    )
    assert sorted(c.info.run_name for c in children) == [
        "cnn · layer · bs32 · lr1e-3 · seed 0",
        "cnn · none · bs32 · lr1e-3 · seed 0",
    ]
    assert sorted(c.data.params["norm"] for c in children) == ["layer", "none"]
    assert {c.data.tags["mlflow.parentRunId"] for c in children} == {parent.info.run_id}
    assert all(c.info.status == "FINISHED" for c in children)
    # One colour per norm in the UI; the source is the task, not a worker's script.
    assert len({c.data.tags["mlflow.runColor"] for c in children}) == 2
    assert {c.data.tags["mlflow.source.name"] for c in children} == {"experiments/tasks/cnn.py"}

    # The parent carries the comparison: the report, the per-norm aggregates,
    # each norm's best configuration on validation, a table of them on its page.
    client = mlflow.MlflowClient()
    report_files = {a.path for a in client.list_artifacts(parent.info.run_id, "report")}
    assert {"report/report.md", "report/report.html"} <= report_files
    assert any(path.endswith(".png") for path in report_files)
    assert "norm_aggregates.json" in {a.path for a in client.list_artifacts(parent.info.run_id)}
    # Where load_table looks; not set_experiment, whose choice would outlive this test.
    monkeypatch.setenv("MLFLOW_EXPERIMENT_ID", parent.info.experiment_id)
    table = mlflow.load_table("norm_aggregates.json", run_ids=[parent.info.run_id])
    assert sorted(table["norm"]) == ["layer", "none"]
    assert set(table["validation_metric"]) == {"val_accuracy"}
    assert table["best_on_validation"].all()  # one configuration per norm
    ended = client.get_run(parent.info.run_id)
    for norm in ("none", "layer"):
        assert 0 <= ended.data.metrics[f"{norm}/test_accuracy_mean"] <= 1
        assert ended.data.metrics[f"{norm}/runs_diverged"] == 0
    assert "| none | - |" in ended.data.tags["mlflow.note.content"]
    # Links that open the runs by norm, in model-training mode, and the parent's report.
    experiment = parent.info.experiment_id
    assert (
        f"http://127.0.0.1:5000/#/experiments/{experiment}/runs?workflowType=machine_learning"
        "&viewStateShareKey=by-norm-two"
    ) in out
    assert f"/runs/{parent.info.run_id}/artifactPath/report/report.html" in out

    assert main(["report", "--out", str(tmp_path / "report"), "--study", "two"]) == 0
    printed = capsys.readouterr().out
    report = (tmp_path / "report" / "report.md").read_text()
    for text in (report, printed):
        assert "| none |" in text and "| layer |" in text and "test_accuracy" in text
    figures = list((tmp_path / "report").glob("*.png"))
    assert len(figures) == 1 and figures[0].name in report


def test_a_failing_run_ends_failed_with_the_error_as_a_tag(store, tiny_cnn, monkeypatch):
    def boom(config):
        raise RuntimeError("diverged into the void")

    monkeypatch.setattr(tiny_cnn, "run", boom)
    with pytest.raises(RuntimeError):
        main(["run", "--task", "cnn", "--norm", "none", "--quick"])
    [run] = _runs(store)
    assert run.info.status == "FAILED"
    assert run.data.tags["error"] == "RuntimeError: diverged into the void"


def test_a_failing_child_fails_the_sweep_but_not_its_siblings(store, tiny_cnn, monkeypatch):
    def fail_for_group(config):
        if config["norm"] == "group":
            raise ValueError("group failed")
        mlflow.log_metric("test_accuracy", 0.5)

    monkeypatch.setattr(tiny_cnn, "run", fail_for_group)
    assert (
        main(["sweep", "--task", "cnn", "--norms", "group,none", "--quick", "--workers", "1"]) == 1
    )
    statuses = {r.data.params.get("norm", "parent"): r.info.status for r in _runs(store)}
    assert statuses == {"group": "FAILED", "none": "FINISHED", "parent": "FAILED"}
    assert not [r for r in _runs(store) if r.info.status == "RUNNING"]


BAD_INPUTS = [
    (["run", "--task", "tsp", "--norm", "batch"], "--task: invalid choice 'tsp' (choose from cnn"),
    (
        ["run", "--task", "cnn", "--norm", "spectral"],
        "--norm: invalid choice 'spectral' (choose from none, batch, batch_renorm, instance, "
        "weight",
    ),
    (
        ["run", "--task", "cnn", "--norm", "batch", "--dataset", "imagenet"],
        "--dataset: invalid choice 'imagenet' (choose from fashion_mnist, mnist, cifar10",
    ),
    (
        ["run", "--task", "cnn", "--norm", "batch", "--epochs", "0"],
        "--epochs: must be a positive integer, got '0'",
    ),
    (
        ["run", "--task", "cnn", "--norm", "batch", "--batch-size", "-8"],
        "--batch-size: must be a positive integer, got '-8'",
    ),
    (
        ["run", "--task", "cnn", "--norm", "batch", "--lr", "0"],
        "--lr: must be a positive number, got '0'",
    ),
    (
        ["run", "--task", "cnn", "--norm", "batch", "--lr", "nan"],
        "--lr: must be a positive number, got 'nan'",
    ),
    (["sweep", "--task", "cnn", "--norms", "batch,bogus"], "--norms: invalid choice 'bogus'"),
    (
        ["sweep", "--task", "cnn", "--norms", "batch", "--batch-sizes", "8,0"],
        "--batch-sizes: must be a positive integer, got '0'",
    ),
    (
        ["sweep", "--task", "cnn", "--norms", "batch", "--lrs", "1e-3,-1"],
        "--lrs: must be a positive number, got '-1'",
    ),
    (
        ["sweep", "--task", "cnn", "--norms", "batch", "--epochs", "-2"],
        "--epochs: must be a positive integer, got '-2'",
    ),
    (
        ["run", "--task", "cnn", "--norm", "batch", "--depth", "0"],
        "--depth: must be a positive integer, got '0'",
    ),
    (
        ["run", "--task", "cnn", "--norm", "group", "--stats-batch", "4"],
        "--stats-batch applies to batch norm only, got stats_batch=4 with norm='group'",
    ),
    (
        ["run", "--task", "cnn", "--norm", "batch", "--batch-size", "32", "--stats-batch", "5"],
        "--stats-batch must divide the batch size (32) and the last batch of an epoch (0 "
        "examples), got stats_batch=5",
    ),
    (
        [
            "sweep",
            "--task",
            "cnn",
            "--norms",
            "batch",
            "--batch-size",
            "32",
            "--train-size",
            "100",
            "--stats-batch",
            "8",
        ],
        "--stats-batch must divide the batch size (32) and the last batch of an epoch (4 "
        "examples), got stats_batch=8",
    ),
    (
        ["run", "--task", "cnn", "--norm", "instance", "--architecture", "mlp"],
        "--architecture mlp takes the norms none, batch, batch_renorm, weight, "
        "weight_meanbn, layer (a dense layer's output has no positions to normalize "
        "over), got norm='instance'",
    ),
    (
        ["run", "--task", "cnn", "--norm", "batch", "--architecture", "mlp", "--no-shortcuts"],
        "--no-shortcuts applies to --architecture resnet, got architecture='mlp'",
    ),
    (
        ["run", "--task", "cnn", "--norm", "batch", "--architecture", "vgg"],
        "--architecture: invalid choice 'vgg' (choose from resnet, mlp, resmlp)",
    ),
    (
        ["run", "--task", "cnn", "--norm", "group", "--architecture", "resmlp"],
        "--architecture resmlp takes the norms none, batch, batch_renorm, weight, "
        "weight_meanbn, layer (a dense layer's output has no positions to normalize "
        "over), got norm='group'",
    ),
    (
        ["run", "--task", "cnn", "--norm", "batch", "--init", "scaled"],
        "--init applies to --architecture mlp and resmlp, got init='scaled' with "
        "architecture='resnet'",
    ),
    (
        ["run", "--task", "cnn", "--norm", "none", "--architecture", "mlp"]
        + ["--init", "depth-scaled"],
        "--init depth-scaled applies to --architecture resmlp, got architecture='mlp'",
    ),
    (
        ["run", "--task", "cnn", "--norm", "batch", "--activation", "gelu"],
        "--activation: invalid choice 'gelu' (choose from relu, sigmoid, tanh)",
    ),
    (
        ["run", "--task", "cnn", "--norm", "batch", "--lr-schedule", "step"],
        "--lr-schedule: invalid choice 'step' (choose from constant, cosine)",
    ),
    (
        ["sweep", "--task", "cnn", "--norms", "batch", "--seeds", "0"],
        "--seeds: must be a count N >= 1 (seeds 0..N-1) or a comma-separated list of seeds "
        "such as 0,4,7, got '0'",
    ),
    (
        ["sweep", "--task", "cnn", "--norms", "batch", "--seeds", "1,-1"],
        "--seeds: must be a non-negative integer, got '-1'",
    ),
]


@pytest.mark.parametrize("argv, message", BAD_INPUTS, ids=[" ".join(a[3:]) for a, _ in BAD_INPUTS])
def test_bad_input_is_refused_before_anything_is_logged(argv, message, store, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err
    assert _runs(store) == []


class _OtherTask(Task):
    name = "other"
    norms = ("none",)
    datasets = ("noise",)

    def add_arguments(self, parser):
        parser.add_argument("--leaves", type=int, default=8)


def test_an_option_of_another_task_is_refused_naming_its_task(monkeypatch, capsys):
    monkeypatch.setitem(TASKS, "other", _OtherTask())
    with pytest.raises(SystemExit):
        main(["run", "--task", "cnn", "--norm", "none", "--leaves", "3"])
    assert "--leaves is an option of --task other, not of --task cnn" in capsys.readouterr().err


def test_unreachable_tracking_server_is_reported_fast_before_training(
    monkeypatch, tiny_cnn, capsys
):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:9")  # discard port: closed
    monkeypatch.setattr(tiny_cnn, "run", lambda config: pytest.fail("trained anyway"))
    start = time.perf_counter()
    assert main(["run", "--task", "cnn", "--norm", "none", "--quick"]) == 1
    assert time.perf_counter() - start < 15
    assert "Cannot reach the MLflow tracking store http://127.0.0.1:9" in capsys.readouterr().err


def test_report_without_runs_says_what_to_run(store, tmp_path, capsys):
    assert main(["report", "--out", str(tmp_path)]) == 1
    assert "python -m experiments quick" in capsys.readouterr().err


def test_an_unknown_keras_backend_is_refused_by_name():
    environment = {**os.environ, "KERAS_BACKEND": "numpy"}
    result = subprocess.run(
        [sys.executable, "-m", "experiments", "run", "--help"],
        capture_output=True,
        text=True,
        env=environment,
        timeout=60,
    )
    assert result.returncode == 1
    assert "Received: KERAS_BACKEND='numpy'" in result.stderr


def test_a_run_diverging_in_its_only_epoch_ends_failed_and_the_report_counts_it(
    store, tiny_cnn, tmp_path, capsys
):
    argv = [
        "sweep",
        "--task",
        "cnn",
        "--norms",
        "none",
        "--lrs",
        "1e-3,1e30",
        "--seeds",
        "0,1",
        "--epochs",
        "1",
        "--quick",
        "--study",
        "diverge",
        "--workers",
        "1",
    ]
    assert main(argv) == 0  # a divergence is a finding, not a failed sweep
    assert "diverged: training diverged at epoch 1, step" in capsys.readouterr().out

    children = _runs(store, run_kind="train")
    by_lr = {}
    for run in children:
        by_lr.setdefault(float(run.data.params["lr"]), []).append(run)
    for run in by_lr[1e30]:
        assert run.info.status == "FAILED"
        assert (run.data.tags["diverged"], run.data.tags["diverged_epoch"]) == ("true", "1")
        assert run.data.tags["error"].startswith("TrainingDiverged: training diverged at epoch 1")
    assert all(r.info.status == "FINISHED" and "diverged" not in r.data.tags for r in by_lr[1e-3])
    [parent] = _runs(store, run_kind="sweep")
    assert parent.info.status == "FINISHED"

    assert main(["report", "--out", str(tmp_path), "--study", "diverge"]) == 0
    report = (tmp_path / "report.md").read_text()
    accuracies = [r.data.metrics["test_accuracy"] for r in by_lr[1e-3]]
    mean = sum(accuracies) / 2
    assert "| lr | norm | runs | test_accuracy |" in report
    assert "| 1e+30 | none | 2 (2/2 diverged) | - | - | - |" in report
    assert f"| 0.001 | none | 2 | {mean:.4f} ± " in report


def test_a_data_dir_is_read_and_logged_as_the_source(store, tiny_cnn, tiny_idx_dir, capsys):
    argv = [
        "run",
        "--task",
        "cnn",
        "--norm",
        "none",
        "--quick",
        "--epochs",
        "1",
        "--data-dir",
        str(tiny_idx_dir),
    ]
    assert main(argv) == 0
    [run] = _runs(store)
    assert run.data.params["data_dir"] == str(tiny_idx_dir)
    sources = {i.dataset.source for i in run.inputs.dataset_inputs}
    assert len(sources) == 1 and str(tiny_idx_dir) in sources.pop()


def _last_line(err):
    """The error line: the last one, after only MLflow's notes on creating a fresh store."""
    *before, last = err.strip().splitlines()
    assert all("mlflow.store.db.utils" in line for line in before), before
    return last


ONE_LINE_ERRORS = [
    (
        ["run", "--task", "cnn", "--norm", "none", "--quick", "--train-size", "600"],
        "run: error: --train-size 600 is more than the 512 training examples of fashion_mnist "
        "left beside its 128 validation ones. Use --train-size 512 or fewer",
    ),
    (
        ["run", "--task", "cnn", "--norm", "none", "--quick", "--data-dir", "{empty}"],
        "run: error: --data-dir {empty} has no train-images-idx3-ubyte.gz: it must hold the four "
        "IDX files of fashion_mnist (train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, "
        "t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz)",
    ),
]


@pytest.mark.parametrize("argv, message", ONE_LINE_ERRORS, ids=["train-size", "empty-data-dir"])
def test_data_errors_are_one_line_before_anything_is_logged(
    argv, message, store, tiny_cnn, tmp_path, capsys
):
    empty = tmp_path / "empty"
    empty.mkdir()
    argv = [arg.format(empty=empty) for arg in argv]
    assert main(argv) == 1
    assert _last_line(capsys.readouterr().err) == "python -m experiments " + message.format(
        empty=empty
    )
    assert _runs(store) == []


def test_report_out_naming_a_file_is_refused(store, tmp_path, capsys):
    (tmp_path / "taken").write_text("")
    with pytest.raises(SystemExit) as exit_:
        main(["report", "--out", str(tmp_path / "taken")])
    assert exit_.value.code == 2
    assert (
        f"argument --out: {tmp_path / 'taken'} is a file; give a directory"
        in capsys.readouterr().err
    )


@pytest.mark.parametrize("port", ["0", "70000", "http"])
def test_ui_refuses_a_port_outside_1_to_65535(port, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["ui", "--port", port])
    assert exit_.value.code == 2
    assert (
        f"argument --port: must be a port number in 1-65535, got '{port}'"
        in capsys.readouterr().err
    )


def test_ui_on_a_taken_port_exits_non_zero_in_one_line(store, capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["ui", "--port", str(port)]) == 1
    assert _last_line(capsys.readouterr().err) == (
        f"python -m experiments ui: error: port {port} on 127.0.0.1 is taken "
        "(another MLflow UI?): stop what uses it, or pass --port with a free one"
    )


def test_ui_serves_the_store_on_loopback_then_stops(store):
    port = free_port()
    server = processes.start(
        [sys.executable, "-m", "experiments", "ui", "--port", str(port)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        for line in server.stdout:  # after the server's own notes
            if line.startswith("MLflow UI on"):
                break
        assert line.strip() == f"MLflow UI on http://127.0.0.1:{port} (Ctrl-C stops it)"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=10) as answer:
            assert answer.status == 200
        # The experiments it lists are the store's (the REST API behind the UI).
        with urllib.request.urlopen(
            f"http://127.0.0.1:{port}/api/2.0/mlflow/experiments/search?max_results=10", timeout=10
        ) as answer:
            assert [e["name"] for e in json.load(answer)["experiments"]] == ["Default"]
        server.send_signal(signal.SIGINT)
        out, err = server.communicate(timeout=60)
        assert server.returncode == 0
        assert "MLflow UI stopped" in out and "Traceback" not in err
        with pytest.raises(OSError):
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2)
    finally:
        processes.kill_group(server)  # the MLflow server too, should the test fail


@pytest.mark.parametrize(
    "text, seeds",
    [("3", [0, 1, 2]), ("1", [0]), ("0,4,7", [0, 4, 7]), ("5,", [5]), ("2,2,0", [2, 0])],
)
def test_sweep_seeds_are_a_count_or_a_list(text, seeds, store, monkeypatch):
    """A count N is seeds 0..N-1, a comma-separated list names the seeds."""
    from experiments import execution

    trained = []

    def prepared(task, base, grid, experiment, *args, **kwargs):
        trained.append(grid["seed"])
        return types.SimpleNamespace(
            task=task, configs=[], experiment=experiment or task.experiment_name
        )

    monkeypatch.setattr(execution, "prepared_sweep", prepared)
    monkeypatch.setattr(execution, "run_sweeps", lambda *args, **kwargs: [])
    argv = ["sweep", "--task", "cnn", "--norms", "none", "--workers", "1", "--seeds", text]
    assert main(argv) == 0
    assert trained == [seeds]


@pytest.mark.parametrize("text", ["5", "0,1,2,3,4"])
def test_study_seeds_take_the_same_forms(text, store, monkeypatch, tmp_path):
    """The same count or list, where it names the seeds the scale declares
    (others are refused: `test_studies`)."""
    from experiments.studies import report, runner

    trained = []
    monkeypatch.setattr(
        runner,
        "run_study",
        lambda study, scale, seeds, *args, **kwargs: trained.append(
            runner.sweep_grid(study, scale, seeds)["seed"]
        ),
    )
    monkeypatch.setattr(report, "write_page", lambda *args: tmp_path / "page.md")
    argv = ["study", "rnn", "--scale", "small", "--workers", "1", "--out", str(tmp_path)]
    assert main([*argv, "--seeds", text]) == 0
    assert trained == [[0, 1, 2, 3, 4]]
