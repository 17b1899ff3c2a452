"""`experiments.compare`: the custom task from Python, in this process."""

import keras
import numpy as np
import pytest

import experiments
from experiments.models.norms import apply


def build(input_shape, num_classes, norm):
    """Defined where a notebook defines it: in no module `--model` could import."""
    inputs = keras.Input(input_shape)
    x = keras.layers.ReLU()(apply(inputs, keras.layers.Dense(16), norm, groups=4))
    return keras.Model(inputs, keras.layers.Dense(num_classes, activation="softmax")(x))


build.__module__ = "__main__"


def _arrays(train=120, test=30):
    rng = np.random.default_rng(0)
    return (
        (rng.random((train, 6)).astype("float32"), rng.integers(0, 3, train)),
        (rng.random((test, 6)).astype("float32"), rng.integers(0, 3, test)),
    )


def test_compare_trains_each_norm_logs_the_runs_and_returns_their_results(
    store, runs_of, tmp_path, monkeypatch
):
    monkeypatch.setenv("KERAS_NORMS_HOME", str(tmp_path / "home"))
    table = experiments.compare(
        build,
        _arrays(),
        norms=("none", "batch"),
        epochs=1,
        batch_size=32,
        seeds=2,
        lrs=[1e-2],
        study="nb",
    )

    assert list(table[["norm", "seed"]].itertuples(index=False, name=None)) == [
        ("none", 0),
        ("none", 1),
        ("batch", 0),
        ("batch", 1),
    ]
    assert (table["status"] == "FINISHED").all() and (table["lr"] == 1e-2).all()
    assert {"test_accuracy", "test_loss", "val_accuracy", "run_id"} <= set(table.columns)
    assert table["test_accuracy"].between(0, 1).all()

    children = runs_of("custom", run_kind="train", study="nb")
    assert sorted(r.info.run_id for r in children) == sorted(table["run_id"])
    [params] = {
        frozenset(
            (k, v) for k, v in r.data.params.items() if k in ("model", "data", "val_size", "epochs")
        )
        for r in children
    }
    params = dict(params)
    assert params["model"] == "__main__:build" and params["val_size"] == "0.1"
    # The arrays are saved once, named by their digest, and logged as the data.
    [saved] = (tmp_path / "home" / "mlruns" / ".cache" / "arrays").glob("arrays-*.npz")
    assert params["data"] == str(saved)
    with np.load(saved) as arrays:
        np.testing.assert_array_equal(arrays["y_test"], _arrays()[1][1])
    [parent] = runs_of("custom", run_kind="sweep", study="nb")
    assert parent.info.status == "FINISHED"
    assert all(r.data.tags["mlflow.parentRunId"] == parent.info.run_id for r in children)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"norms": ("batch", "bogus")}, "norms: invalid choice 'bogus'"),
        ({"seeds": 0}, "seeds: must be a count N >= 1 (seeds 0..N-1)"),
        ({"epochs": 0}, "epochs: must be a positive integer, got '0'"),
        ({"lrs": [-1.0]}, "lrs: must be a positive number, got '-1.0'"),
        (
            {"val_size": 1.5},
            "val_size: must be a count (an integer >= 1) or a fraction between 0 and 1, got '1.5'",
        ),
        ({"from_logits": "yes"}, "from_logits: must be True, False or None, got 'yes'"),
        (
            {"build_fn": "model.h5"},
            "build_fn: must be a function build_fn(input_shape, "
            "num_classes, norm) or the path of a .keras model, got 'model.h5'",
        ),
        ({"data": {"x_train": []}}, "data: the arrays lack y_train, x_test, y_test"),
    ],
)
def test_compare_refuses_bad_arguments_before_anything_is_logged(
    kwargs, message, store, runs_of, tmp_path, monkeypatch
):
    monkeypatch.setenv("KERAS_NORMS_HOME", str(tmp_path / "home"))
    arguments = {"build_fn": build, "data": _arrays(), **kwargs}
    with pytest.raises(ValueError) as error:
        experiments.compare(arguments.pop("build_fn"), arguments.pop("data"), **arguments)
    assert message in str(error.value) and "\n" not in str(error.value)
    assert runs_of("custom") == []


def test_a_failed_run_is_a_row_with_its_status_and_error(store, runs_of, tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_NORMS_HOME", str(tmp_path / "home"))
    from experiments.tasks import TASKS

    run = TASKS["custom"].run

    def fails_for_group(config):
        if config["norm"] == "group":
            raise RuntimeError("out of luck")
        return run(config)

    monkeypatch.setattr(TASKS["custom"], "run", fails_for_group)
    table = experiments.compare(build, _arrays(), norms=("group", "none"), epochs=1)
    assert list(table["norm"]) == ["group", "none"]
    assert list(table["status"]) == ["FAILED", "FINISHED"]
    assert "out of luck" in table["error"][0]
