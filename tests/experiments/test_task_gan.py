"""The gan task end to end into a temporary store: losses, samples, FID/KID, divergence."""

import math

import keras
import mlflow
import numpy as np
import pytest

import keras_norms  # noqa: F401  (registers the layers the logged models hold)
from experiments import paths
from experiments.cli import main
from experiments.models import gan as gan_models
from experiments.tasks import TASKS

TINY = {
    "epochs": 3,
    "batch_size": 32,
    "train_size": 128,
    "val_size": 64,
    "test_size": 32,
    "score_every": 2,
    "fid_samples": 48,
}


@pytest.fixture
def tiny_gan(tiny_data, tiny_feature_cache, monkeypatch):
    monkeypatch.setattr(paths, "cache_dir", lambda: tiny_feature_cache)
    monkeypatch.setattr(TASKS["gan"], "quick_settings", TINY)


def test_run_logs_losses_samples_scores_floor_and_generator(
    store, tiny_gan, runs_of, metric_steps, image_steps, tmp_path, capsys, monkeypatch
):
    trained = []
    build = gan_models.build_generator

    def build_and_keep(norm, **kwargs):
        trained.append(build(norm, **kwargs))
        return trained[-1]

    monkeypatch.setattr(gan_models, "build_generator", build_and_keep)
    argv = [
        "run",
        "--task",
        "gan",
        "--norm",
        "batch",
        "--d-norm",
        "weight",
        "--quick",
        "--study",
        "pair",
    ]
    assert main(argv) == 0

    [run] = runs_of("gan")
    assert run.info.status == "FINISHED"
    params = run.data.params
    assert (params["norm"], params["g_norm"], params["d_norm"]) == (
        "batch/weight",
        "batch",
        "weight",
    )
    assert (params["fid_samples"], params["score_every"]) == ("48", "2")
    assert float(params["optimizer_generator_learning_rate"]) == pytest.approx(2e-4)
    assert params["optimizer_discriminator_beta_1"] == "0.5"
    for metric in ("d_loss", "g_loss", "epoch_time_s"):
        assert metric_steps(run, metric) == [1, 2, 3], metric
    # Scored every 2 epochs and after the last.
    for metric in ("fid", "kid", "kid_std"):
        assert metric_steps(run, metric) == [2, 3], metric
    assert image_steps(run, "samples") == [1, 2, 3]
    metrics = run.data.metrics
    assert metrics["fid"] >= 0 and math.isfinite(metrics["kid"])
    # The final scores also as the mean of the last (here both) evaluations.
    fids = [m.value for m in mlflow.MlflowClient().get_metric_history(run.info.run_id, "fid")]
    assert metrics["fid_last"] == pytest.approx(np.mean(fids))
    assert params["n_dis"] == "1" and params["beta2"] == "0.999"
    # The held-out real images score closer to the training images than early samples do.
    assert 0 <= metrics["real_fid"] < metrics["fid"]
    # The logged generator loads back through MLflow and samples as the trained one.
    [output] = run.outputs.model_outputs
    generator = mlflow.keras.load_model(f"models:/{output.model_id}")
    noise = gan_models.fixed_noise(4, seed=9)
    np.testing.assert_allclose(
        generator.predict(noise, verbose=0), trained[0].predict(noise, verbose=0), atol=1e-6
    )
    # MLflow's models view lists it with its final scores.
    logged = mlflow.get_logged_model(output.model_id)
    assert logged.name == "generator-batch_weight"
    scores = {m.key: m.value for m in logged.metrics}
    for metric in ("fid", "kid", "g_loss"):
        assert scores[metric] == metrics[metric], metric

    capsys.readouterr()
    assert main(["report", "--out", str(tmp_path), "--study", "pair"]) == 0
    report = (tmp_path / "report.md").read_text()
    assert "| norm | runs | fid | kid | s/epoch |" in report
    assert f"| batch/weight | 1 | {metrics['fid']:.4f} | {metrics['kid']:.4f} |" in report
    assert f"| real data, held out (floor) | - | {metrics['real_fid']:.4f} |" in report
    assert list(tmp_path.glob("gan_fashion_mnist_fid*.png"))


def _poison_generator_for(norm, monkeypatch):
    """Generators built with `norm` output NaN, so the GAN's losses do."""
    build = gan_models.build_generator

    def build_or_poison(g_norm, **kwargs):
        generator = build(g_norm, **kwargs)
        if g_norm != norm:
            return generator
        nan = keras.layers.Lambda(lambda images: images * float("nan"))(generator.output)
        return keras.Model(generator.input, nan)

    monkeypatch.setattr(gan_models, "build_generator", build_or_poison)


def test_divergence_fails_the_run_with_a_tag_and_the_sweep_goes_on(
    store, tiny_gan, runs_of, monkeypatch, capsys
):
    _poison_generator_for("none", monkeypatch)
    monkeypatch.setattr(TASKS["gan"], "quick_settings", {**TINY, "epochs": 1})
    assert (
        main(["sweep", "--task", "gan", "--norms", "none,layer", "--quick", "--workers", "1"]) == 0
    )

    runs = {r.data.params.get("norm", "parent"): r for r in runs_of("gan")}
    assert {norm: r.info.status for norm, r in runs.items()} == {
        "none": "FAILED",
        "layer": "FINISHED",
        "parent": "FINISHED",
    }
    diverged = runs["none"]
    assert diverged.data.tags["diverged"] == "true"
    assert diverged.data.tags["diverged_epoch"] == "1"
    # Found at the end of the compiled call holding the NaN: the epoch's 4 steps.
    assert "TrainingDiverged: training diverged at epoch 1, step 4" in diverged.data.tags["error"]
    assert "diverged" not in runs["layer"].data.tags
    assert "run 1/2 diverged: training diverged at epoch 1, step 4" in capsys.readouterr().out


@pytest.mark.parametrize(
    "label, g_norm, d_norm, expected",
    [
        ("batch", None, None, ("batch", "batch", "batch")),
        ("batch/weight", None, None, ("batch/weight", "batch", "weight")),
        ("batch/batch", None, None, ("batch", "batch", "batch")),
        ("batch", None, "weight", ("batch/weight", "batch", "weight")),
        ("batch/weight", "none", None, ("none/weight", "none", "weight")),
        ("none", "layer", "layer", ("layer", "layer", "layer")),
    ],
)
def test_norm_label_resolves_generator_and_discriminator(label, g_norm, d_norm, expected):
    config = {
        "norm": label,
        "g_norm": g_norm,
        "d_norm": d_norm,
        "fid_samples": 10,
        "train_size": None,
        "val_size": 10,
    }
    resolved = TASKS["gan"].configure(config)
    assert (resolved["norm"], resolved["g_norm"], resolved["d_norm"]) == expected


BAD_INPUTS = [
    (["run", "--norm", "spectral/batch"], "argument --norm: invalid choice 'spectral'"),
    (["run", "--norm", "spectral"], "argument --norm: invalid choice 'spectral'"),
    (["run", "--norm", "batch", "--g-norm", "spectral"], "argument --g-norm: invalid choice"),
    (
        ["run", "--norm", "batch/weight/none"],
        "argument --norm: must be a norm or GENERATOR/DISCRIMINATOR norms, got 'batch/weight/none'",
    ),
    (["run", "--norm", "batch", "--d-norm", "bogus"], "argument --d-norm: invalid choice"),
    (["sweep", "--norms", "batch,none/bogus"], "argument --norms: invalid choice 'bogus'"),
    (
        ["run", "--norm", "batch", "--train-size", "100", "--fid-samples", "200"],
        "--fid-samples 200 is more than the 100 training images (train_size)",
    ),
    (
        ["run", "--norm", "batch", "--fid-samples", "1"],
        "argument --fid-samples: must be an integer >= 2, got '1'",
    ),
    (
        ["run", "--norm", "batch", "--score-every", "0"],
        "argument --score-every: must be a positive",
    ),
    (["run", "--norm", "batch", "--n-dis", "0"], "argument --n-dis: must be a positive integer"),
    (
        ["run", "--norm", "batch", "--beta2", "1"],
        "argument --beta2: must be a number in [0, 1), got '1'",
    ),
    (["run", "--norm", "batch", "--seq-len", "10"], "--seq-len is an option of --task rnn"),
    (
        ["run", "--norm", "batch", "--l1-weight", "10"],
        "--l1-weight is an option of --task translate, not of --task gan",
    ),
]


@pytest.mark.parametrize("argv, message", BAD_INPUTS, ids=[" ".join(a) for a, _ in BAD_INPUTS])
def test_bad_input_is_refused_before_anything_is_logged(argv, message, store, runs_of, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([argv[0], "--task", "gan", *argv[1:]])
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err
    assert runs_of("gan") == []


@pytest.mark.parametrize("task", ["cnn", "rnn", "translate"])
def test_gan_options_are_refused_with_other_tasks(task, store, capsys):
    with pytest.raises(SystemExit):
        main(["run", "--task", task, "--norm", "none", "--d-norm", "batch"])
    assert f"--d-norm is an option of --task gan, not of --task {task}" in capsys.readouterr().err
