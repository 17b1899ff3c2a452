"""The online task: a stream whose pixel permutation shifts, each example
scored before the network learns from it."""

import keras
import numpy as np
import pytest

import keras_norms  # noqa: F401  (registers the layers the logged models hold)
from experiments.cli import main
from experiments.config import base_config
from experiments.data.streams import permutations, permuted, shifting_stream
from experiments.models.prequential import Prequential
from experiments.tasks import TASKS

TINY = {"epochs": 3, "train_size": 192, "val_size": 64, "test_size": 128}


def test_each_segment_is_seen_through_its_own_permutation():
    images = np.arange(6 * 4 * 4).reshape(6, 4, 4, 1).astype("float32")
    labels = np.arange(6) % 3
    stream, same_labels, orders = shifting_stream(images, labels, segments=3, seed=5)
    np.testing.assert_array_equal(same_labels, labels)
    np.testing.assert_array_equal(stream[:2], images[:2])  # the first segment unchanged
    for k in (1, 2):
        part = stream[2 * k : 2 * k + 2].reshape(2, 16)
        np.testing.assert_array_equal(part, images[2 * k : 2 * k + 2].reshape(2, 16)[:, orders[k]])
        assert sorted(orders[k]) == list(range(16)) and list(orders[k]) != list(range(16))
    assert all((a == b).all() for a, b in zip(orders, permutations(3, 16, seed=5)))
    assert not (permutations(3, 16, seed=6)[1] == orders[1]).all()
    np.testing.assert_array_equal(permuted(images, orders[0]), images)
    with pytest.raises(ValueError, match="5 images must split into segments=3 equal parts"):
        shifting_stream(images[:5], labels[:5], 3, 0)


def test_each_example_is_scored_before_the_network_learns_from_it():
    rng = np.random.default_rng(0)
    images = rng.random((16, 5)).astype("float32")
    labels = np.argmax(images[:, :3], axis=1).astype("int32")  # a rule to learn

    def classifier():
        keras.utils.set_random_seed(1)
        return keras.Sequential([keras.Input((5,)), keras.layers.Dense(3, activation="softmax")])

    # The reference: predict one example, then take one SGD step on it.
    reference = classifier()
    reference.compile(optimizer=keras.optimizers.SGD(0.5), loss="sparse_categorical_crossentropy")
    correct = []
    for x, y in zip(images, labels):
        correct.append(int(np.argmax(reference(x[None], training=False))) == y)
        reference.train_on_batch(x[None], y[None])

    model = Prequential(classifier(), segment_steps=8, window=3)
    model.compile(
        optimizer=keras.optimizers.SGD(0.5),
        loss="sparse_categorical_crossentropy",
        steps_per_execution=4,
    )
    history = model.fit(
        images, labels, batch_size=1, epochs=2, steps_per_epoch=8, shuffle=False, verbose=0
    ).history
    segments = [correct[:8], correct[8:]]
    assert history["prequential_accuracy"] == pytest.approx([np.mean(s) for s in segments])
    assert history["recovery_accuracy"] == pytest.approx([np.mean(s[:3]) for s in segments])
    assert 0 < sum(correct) < 16  # the scores are not all one way


@pytest.mark.parametrize("norm", ["weight", "batch"])
def test_a_run_logs_its_stream_scores_and_the_network(
    norm, store, tiny_data, runs_of, metric_steps, monkeypatch
):
    monkeypatch.setattr(TASKS["online"], "quick_settings", TINY)
    assert main(["run", "--task", "online", "--norm", norm, "--quick", "--window", "16"]) == 0
    [run] = runs_of("online")
    assert run.info.status == "FINISHED"
    params = run.data.params
    assert (params["epochs"], params["batch_size"], params["window"]) == ("3", "1", "16")
    metrics = run.data.metrics
    for name in ("first_segment_accuracy", "after_shift_accuracy", "recovery_accuracy"):
        assert 0.0 <= metrics[name] <= 1.0, name
    assert 0.0 <= metrics["test_accuracy"] <= 1.0
    # One value per segment, the first segment's the one a study tunes on.
    assert metric_steps(run, "prequential_accuracy") == [1, 2, 3]
    history = mlflow_history(run, "prequential_accuracy")
    assert metrics["first_segment_accuracy"] == pytest.approx(history[0])
    assert metrics["after_shift_accuracy"] == pytest.approx(np.mean(history[1:]))
    assert {i.tags[0].value for i in run.inputs.dataset_inputs} == {
        "training",
        "validation",
        "test",
    }
    assert len(run.outputs.model_outputs) == 1


def mlflow_history(run, metric):
    import mlflow

    values = mlflow.MlflowClient().get_metric_history(run.info.run_id, metric)
    return [m.value for m in sorted(values, key=lambda m: m.step)]


@pytest.mark.parametrize(
    "options, message",
    [
        (
            ["--train-size", "100"],
            "must split into --epochs (3) equal segments, got train_size=100",
        ),
        (
            ["--train-size", "48"],
            "a segment (16 images) must be a whole number of calls of --steps-per-execution "
            "(32) batches of --batch-size (1), got train_size=48",
        ),
        (["--window", "999"], "--window must not exceed a segment (64 images), got window=999"),
    ],
)
def test_a_stream_that_does_not_split_is_refused(options, message, tiny_data, monkeypatch, capsys):
    monkeypatch.setattr(TASKS["online"], "quick_settings", TINY)
    with pytest.raises(SystemExit) as exit:
        main(["run", "--task", "online", "--norm", "none", "--quick", *options])
    assert exit.value.code == 2
    assert message in capsys.readouterr().err


def test_a_quick_run_scores_recovery_within_its_shorter_segments():
    task = TASKS["online"]
    assert base_config(task)["window"] == 256
    quick = base_config(task, quick=True)
    assert quick["window"] == 32 < quick["train_size"] // quick["epochs"]
    assert base_config(task, quick=True, own={"window": 16})["window"] == 16
