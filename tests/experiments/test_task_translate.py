"""The translate task end to end into a temporary store, at batch size 1."""

import mlflow
import numpy as np
import pytest

import keras_norms  # noqa: F401  (registers the layers the logged models hold)
from experiments.cli import main
from experiments.models import translate as translate_models
from experiments.tasks import TASKS

TINY = {"epochs": 2, "batch_size": 8, "train_size": 24, "val_size": 16, "test_size": 16}


@pytest.fixture
def tiny_translate(tiny_data, monkeypatch):
    monkeypatch.setattr(TASKS["translate"], "quick_settings", TINY)


def test_sweep_at_batch_size_one_logs_l1_ssim_triplets_and_generators_then_a_report(
    store, tiny_translate, runs_of, metric_steps, image_steps, tmp_path, capsys, monkeypatch
):
    trained = {}
    build = translate_models.build_translation_generator

    def build_and_keep(norm, **kwargs):
        trained[norm] = build(norm, **kwargs)
        return trained[norm]

    monkeypatch.setattr(translate_models, "build_translation_generator", build_and_keep)
    argv = [
        "sweep",
        "--task",
        "translate",
        "--norms",
        "instance,batch",
        "--batch-sizes",
        "1",
        "--quick",
        "--study",
        "one",
        "--workers",
        "1",
    ]
    assert main(argv) == 0

    runs = runs_of("translate", run_kind="train")
    assert sorted(r.data.params["norm"] for r in runs) == ["batch", "instance"]
    for run in runs:
        assert run.info.status == "FINISHED"
        assert run.data.params["batch_size"] == "1"
        assert run.data.params["l1_weight"] == "100.0"
        metrics = run.data.metrics
        assert 0.0 <= metrics["test_l1"] <= 1.0 and -1.0 <= metrics["test_ssim"] <= 1.0
        # Batch norm is scored with its moving statistics and with each test batch's own.
        rescored = {"test_l1_test_batch", "test_ssim_test_batch"} <= metrics.keys()
        assert rescored == (run.data.params["norm"] == "batch")
        if rescored:
            assert metrics["test_l1_test_batch"] != metrics["test_l1"]
        for metric in ("l1", "g_adv", "d_loss", "val_l1", "val_ssim", "epoch_time_s"):
            assert metric_steps(run, metric) == [1, 2], metric
        assert image_steps(run, "triplets") == [1, 2]
        assert {i.tags[0].value for i in run.inputs.dataset_inputs} == {
            "training",
            "validation",
            "test",
        }
        # The logged generator loads back through MLflow and maps edges as the trained one.
        [output] = run.outputs.model_outputs
        generator = mlflow.keras.load_model(f"models:/{output.model_id}")
        edges = np.random.default_rng(0).random((4, 28, 28, 1)).astype("float32")
        np.testing.assert_allclose(
            generator.predict(edges, verbose=0),
            trained[run.data.params["norm"]].predict(edges, verbose=0),
            atol=1e-6,
        )

    capsys.readouterr()
    assert main(["report", "--out", str(tmp_path), "--study", "one"]) == 0
    report = (tmp_path / "report.md").read_text()
    assert "| norm | runs | test_l1 | test_ssim | s/epoch |" in report
    # Norms in the vocabulary's order: batch before instance.
    assert report.index("| batch | 1 |") < report.index("| instance | 1 |")
    assert list(tmp_path.glob("translate_fashion_mnist_val_l1*.png"))


BAD_INPUTS = [
    (["--norm", "spectral"], "argument --norm: invalid choice 'spectral'"),
    (["--norm", "instance", "--l1-weight", "0"], "argument --l1-weight: must be a positive number"),
    (["--norm", "instance", "--batch-size", "0"], "argument --batch-size: must be a positive"),
    (["--norm", "instance", "--fid-samples", "10"], "--fid-samples is an option of --task gan"),
    (["--norm", "instance/batch"], "argument --norm: invalid choice 'instance/batch'"),
]


@pytest.mark.parametrize("argv, message", BAD_INPUTS, ids=[" ".join(a) for a, _ in BAD_INPUTS])
def test_bad_input_is_refused_before_anything_is_logged(argv, message, store, runs_of, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["run", "--task", "translate", *argv])
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err
    assert runs_of("translate") == []
