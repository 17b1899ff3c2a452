"""`--task custom`: the user's build function or .keras model, on a tfds dataset or a .npz."""

import json
import re
import time

import keras
import mlflow
import numpy as np
import pytest
import tensorflow_datasets as tfds

from experiments.cli import main
from experiments.tasks import TASKS
from tests.experiments.conftest import TINY_SETTINGS

MODELS = "tests.experiments.tiny_models"


def _save_npz(path, train=200, test=40, shape=(12,), classes=3, **overrides):
    rng = np.random.default_rng(0)
    arrays = {
        "x_train": rng.random((train, *shape)).astype("float32"),
        "y_train": rng.integers(0, classes, train),
        "x_test": rng.random((test, *shape)).astype("float32"),
        "y_test": rng.integers(0, classes, test),
    }
    arrays.update(overrides)
    np.savez(path, **{name: value for name, value in arrays.items() if value is not None})
    return path


@pytest.fixture
def tiny_npz(tmp_path):
    return _save_npz(tmp_path / "tiny.npz")


def test_a_build_function_on_a_npz_logs_what_the_built_in_tasks_log(
    store, tiny_npz, runs_of, metric_steps
):
    argv = [
        "run",
        "--task",
        "custom",
        "--model",
        f"{MODELS}:build_dense",
        "--data",
        str(tiny_npz),
        "--norm",
        "layer",
        "--epochs",
        "2",
        "--batch-size",
        "32",
        "--val-size",
        "40",
        "--lr",
        "0.02",
        "--study",
        "mine",
    ]
    assert main(argv) == 0

    [run] = runs_of("custom")
    assert run.info.status == "FINISHED"
    params, tags, metrics = run.data.params, run.data.tags, run.data.metrics
    assert params["model"] == f"{MODELS}:build_dense"
    assert (params["data"], params["dataset"]) == (str(tiny_npz), "tiny")
    assert (params["norm"], params["val_size"], params["epochs"]) == ("layer", "40", "2")
    assert {"keras_version", "tensorflow_version", "keras_norms_version"} <= set(params)
    # Compiled by the build function: its own optimizer trains, at the run's
    # rate, its other settings kept, and is logged.
    assert tags["compiled_by"] == "build function"
    assert params["optimizer_name"].startswith("sgd")
    assert float(params["optimizer_learning_rate"]) == pytest.approx(0.02)
    assert float(params["optimizer_momentum"]) == pytest.approx(0.5)
    assert tags["study"] == "mine" and len(tags["mlflow.source.git.commit"]) == 40
    assert {i.dataset.source for i in run.inputs.dataset_inputs} == {
        json.dumps({"uri": str(tiny_npz)})
    }
    assert run.info.run_name == "custom · layer · bs32 · lr2e-2 · seed 0"
    assert f"Model: `{MODELS}:build_dense`. Data: `{tiny_npz}`." in tags["mlflow.note.content"]
    for metric in (
        "loss",
        "accuracy",
        "val_loss",
        "val_accuracy",
        "epoch_time_s",
        "examples_per_s",
    ):
        assert metric_steps(run, metric) == [1, 2], metric
    assert 0 <= metrics["test_accuracy"] <= 1
    inputs = {i.tags[0].value: i.dataset for i in run.inputs.dataset_inputs}
    assert set(inputs) == {"training", "validation", "test"}
    assert inputs["training"].name == "tiny:train[160 not held out, seed 0]"
    assert inputs["validation"].name == "tiny:train[40 held out by class, seed 0]"
    client = mlflow.MlflowClient()
    assert "learning_curves.png" in {a.path for a in client.list_artifacts(run.info.run_id)}

    # The logged model scores on the test arrays what the run logged, and carries it.
    [output] = run.outputs.model_outputs
    model = mlflow.keras.load_model(f"models:/{output.model_id}")
    with np.load(tiny_npz) as arrays:
        model.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        scores = model.evaluate(arrays["x_test"], arrays["y_test"], return_dict=True, verbose=0)
    assert scores["accuracy"] == pytest.approx(metrics["test_accuracy"], abs=1e-6)
    logged = {m.key: m.value for m in mlflow.get_logged_model(output.model_id).metrics}
    assert logged["test_accuracy"] == metrics["test_accuracy"]


def test_a_sweep_of_learning_rates_trains_a_compiled_model_at_each(store, tiny_npz, runs_of):
    argv = [
        "sweep",
        "--task",
        "custom",
        "--model",
        f"{MODELS}:build_dense",
        "--data",
        str(tiny_npz),
        "--norms",
        "none",
        "--lrs",
        "0.01,0.1",
        "--epochs",
        "1",
        "--val-size",
        "40",
        "--workers",
        "1",
    ]
    assert main(argv) == 0
    children = runs_of("custom", run_kind="train")
    rates = {float(c.data.params["lr"]): c.data.params for c in children}
    assert sorted(rates) == [0.01, 0.1]
    for rate, params in rates.items():
        assert float(params["optimizer_learning_rate"]) == pytest.approx(rate)
        assert params["optimizer_name"].startswith("sgd")
        assert float(params["optimizer_momentum"]) == pytest.approx(0.5)


def test_runs_of_a_build_function_sharing_one_optimizer_start_afresh(store, tiny_npz, runs_of):
    # Each run gets its own optimizer (class, settings, the run's rate): the
    # shared one, built by the first run for its model, would not fit the next.
    argv = [
        "sweep",
        "--task",
        "custom",
        "--model",
        f"{MODELS}:shared_optimizer",
        "--data",
        str(tiny_npz),
        "--norms",
        "none,batch",
        "--epochs",
        "1",
        "--val-size",
        "40",
        "--workers",
        "1",
    ]
    assert main(argv) == 0
    children = runs_of("custom", run_kind="train")
    assert [c.info.status for c in children] == ["FINISHED", "FINISHED"]
    # Keras numbers an optimizer named as another in the process: adam, adam_5.
    assert all(re.fullmatch(r"adam(_\d+)?", c.data.params["optimizer_name"]) for c in children)


def test_an_uncompiled_model_of_logits_on_a_small_class_sorted_npz(store, tmp_path, runs_of):
    # Sorted by class, as files often are; 60 examples, which a fixed count
    # of validation examples (the old default: 5000) would leave none of.
    labels = np.repeat([0, 1, 2], 20)
    data = _save_npz(tmp_path / "sorted.npz", train=60, y_train=labels)
    argv = [
        "run",
        "--task",
        "custom",
        "--model",
        f"{MODELS}:build_logits",
        "--data",
        str(data),
        "--norm",
        "batch",
        "--epochs",
        "1",
        "--batch-size",
        "16",
    ]
    assert main(argv) == 0
    [run] = runs_of("custom")
    assert run.info.status == "FINISHED"
    assert run.data.tags["loss_from_logits"] == "true"
    assert run.data.params["val_size"] == "0.1"
    names = {i.tags[0].value: i.dataset.name for i in run.inputs.dataset_inputs}
    assert names["validation"] == "sorted:train[6 held out by class, seed 0]"

    argv += ["--no-from-logits", "--seed", "1"]
    assert main(argv) == 0
    assert runs_of("custom")[-1].data.tags["loss_from_logits"] == "false"


@pytest.mark.parametrize(
    "builder, logits", [("build", False), ("build_dense", False), ("build_logits", True)]
)
def test_logits_or_probabilities_are_read_from_the_last_layer(builder, logits):
    from experiments.tasks.custom import outputs_logits
    from tests.experiments import tiny_models

    shape = (8, 8, 1) if builder == "build" else (12,)
    assert outputs_logits(getattr(tiny_models, builder)(shape, 3, "none")) is logits


@pytest.mark.parametrize(
    "last, logits",
    [
        (lambda: keras.layers.Softmax(), False),
        (lambda: keras.layers.Activation("sigmoid"), False),
        (lambda: keras.layers.Dense(3, activation="softmax"), False),
        (lambda: keras.layers.Dense(3, activation="linear"), True),
        (lambda: keras.layers.Dense(3, activation="relu"), True),
    ],
)
def test_a_sequential_models_last_layer_says_logits_or_probabilities(last, logits):
    from experiments.tasks.custom import outputs_logits

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3), last()])
    assert outputs_logits(model) is logits


def test_the_validation_split_of_a_npz_is_shuffled_stratified_and_seeded(tmp_path):
    from experiments.data.arrays import load_npz

    labels = np.repeat([0, 1, 2, 3], [90, 60, 30, 20])  # sorted by class
    x = np.arange(200, dtype="float32")[:, None]  # each example's row number
    path = _save_npz(tmp_path / "sorted.npz", shape=(1,), x_train=x, y_train=labels)

    def split(seed, val_size=0.1):
        data = load_npz(path, batch_size=64, seed=seed, val_size=val_size)
        rows = {
            role: np.concatenate([b[0].numpy()[:, 0] for b in getattr(data, role)])
            for role in ("train", "val")
        }
        return data, {role: r.astype(int) for role, r in rows.items()}

    data, rows = split(0)
    assert data.sizes == {"train": 180, "val": 20, "test": 40}
    assert sorted([*rows["train"], *rows["val"]]) == list(range(200))
    # Each class in proportion to its share of the file: 9, 6, 3, 2.
    assert np.bincount(labels[rows["val"]]).tolist() == [9, 6, 3, 2]
    assert set(split(0)[1]["val"]) == set(rows["val"])
    assert set(split(1)[1]["val"]) != set(rows["val"])
    assert np.bincount(labels[split(3, val_size=40)[1]["val"]]).tolist() == [18, 12, 6, 4]


@pytest.mark.parametrize(
    "norm, layer_type",
    [
        ("batch", "BatchNormalization"),
        ("batch_renorm", "BatchNormalization"),
        ("weight_meanbn", "MeanOnlyBatchNormalization"),
    ],
)
def test_a_converted_keras_files_batch_norms_take_the_suites_momentum(norm, layer_type, tmp_path):
    import keras_norms

    saved = tmp_path / "mine.keras"
    inputs = keras.Input((8, 8, 1))
    x = keras.layers.BatchNormalization(momentum=0.99)(keras.layers.Conv2D(4, 3)(inputs))
    x = keras.layers.GlobalAveragePooling2D()(x)
    keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(x)).save(saved)

    config = {"model": str(saved), "norm": norm, "lr": 1e-3, "from_logits": None}
    model = TASKS["custom"].build(config, (8, 8, 1), 3)
    layers = [
        layer for layer in model.layers if isinstance(layer, getattr(keras_norms, layer_type))
    ]
    assert layers and {layer.momentum for layer in layers} == {0.9}


def test_a_sweep_of_a_build_function_on_a_tfds_dataset_then_the_report(
    store, tiny_data, runs_of, monkeypatch, tmp_path, capsys
):
    monkeypatch.setattr(TASKS["custom"], "quick_settings", TINY_SETTINGS)
    argv = [
        "sweep",
        "--task",
        "custom",
        "--model",
        f"{MODELS}:build",
        "--norms",
        "none,group",
        "--quick",
        "--epochs",
        "1",
        "--study",
        "own",
        "--workers",
        "1",
    ]
    assert main(argv) == 0

    children = runs_of("custom", run_kind="train")
    assert sorted(c.data.params["norm"] for c in children) == ["group", "none"]
    for child in children:
        assert child.info.status == "FINISHED"
        assert child.data.params["dataset"] == "fashion_mnist"
        assert child.data.tags["compiled_by"] == "task"
        assert float(child.data.params["optimizer_learning_rate"]) == pytest.approx(1e-3)

    assert main(["report", "--out", str(tmp_path), "--study", "own"]) == 0
    report = (tmp_path / "report.md").read_text()
    assert "custom" in report and "| none |" in report and "| group |" in report


class KerasNormsTestBlobs(tfds.core.GeneratorBasedBuilder):
    """A tfds classification dataset the suite does not know: 8x8 images, 3 classes."""

    VERSION = tfds.core.Version("1.0.0")

    def _info(self):
        return tfds.core.DatasetInfo(
            builder=self,
            features=tfds.features.FeaturesDict(
                {
                    "image": tfds.features.Image(shape=(8, 8, 1)),
                    "label": tfds.features.ClassLabel(num_classes=3),
                }
            ),
            supervised_keys=("image", "label"),
        )

    def _split_generators(self, dl_manager):
        return {
            "train": self._generate_examples(96, seed=0),
            "test": self._generate_examples(32, seed=1),
        }

    def _generate_examples(self, count, seed):
        rng = np.random.default_rng(seed)
        for index in range(count):
            yield (
                index,
                {
                    "image": rng.integers(0, 256, (8, 8, 1), dtype=np.uint8),
                    "label": int(rng.integers(0, 3)),
                },
            )


def test_any_tfds_dataset_prepared_locally_is_read(store, tmp_path, monkeypatch, runs_of):
    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path / "tfds"))
    builder = KerasNormsTestBlobs(data_dir=str(tmp_path / "tfds"))
    builder.download_and_prepare()

    argv = [
        "run",
        "--task",
        "custom",
        "--model",
        f"{MODELS}:build",
        "--dataset",
        "keras_norms_test_blobs",
        "--norm",
        "instance",
        "--epochs",
        "1",
        "--val-size",
        "0.25",
    ]
    assert main(argv) == 0

    [run] = runs_of("custom")
    assert run.info.status == "FINISHED"
    assert run.data.params["dataset"] == "keras_norms_test_blobs"
    assert {i.dataset.source for i in run.inputs.dataset_inputs} == {
        json.dumps({"uri": str(builder.data_dir)})
    }
    names = {i.dataset.name for i in run.inputs.dataset_inputs}
    # A quarter of the 96 training examples.
    assert names == {
        "keras_norms_test_blobs:train[:-24]",
        "keras_norms_test_blobs:train[-24:]",
        "keras_norms_test_blobs:test",
    }
    assert 0 <= run.data.metrics["test_accuracy"] <= 1


def test_a_keras_file_is_converted_to_each_norm(store, tmp_path, runs_of):
    images = _save_npz(tmp_path / "images.npz", shape=(8, 8, 1))
    saved = tmp_path / "mine.keras"
    inputs = keras.Input((8, 8, 1))
    x = keras.layers.Conv2D(4, 3)(inputs)
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(x)).save(saved)

    argv = [
        "run",
        "--task",
        "custom",
        "--model",
        str(saved),
        "--data",
        str(images),
        "--norm",
        "instance",
        "--epochs",
        "1",
        "--val-size",
        "40",
    ]
    assert main(argv) == 0

    [run] = runs_of("custom")
    assert run.info.status == "FINISHED" and run.data.params["model"] == str(saved)
    assert run.data.tags["compiled_by"] == "task"
    import keras_norms

    [output] = run.outputs.model_outputs
    layers = {type(layer) for layer in mlflow.keras.load_model(f"models:/{output.model_id}").layers}
    assert keras_norms.InstanceNormalization in layers
    assert not layers & {keras.layers.BatchNormalization, keras_norms.BatchNormalization}


def _refusals(tmp_path):
    """Name -> (argv, exit status, the error's message)."""
    npz = str(_save_npz(tmp_path / "ok.npz"))
    no_test = str(_save_npz(tmp_path / "no_test.npz", x_test=None, y_test=None))
    short = str(_save_npz(tmp_path / "short.npz", y_train=np.zeros(150, "int64")))
    absent_keras, absent_npz = tmp_path / "absent.keras", tmp_path / "absent.npz"
    run = ["run", "--task", "custom", "--norm", "batch"]
    dense = ["--model", f"{MODELS}:build_dense"]
    fits = ["--data", npz, "--val-size", "40"]

    def model(name):
        return ["--model", f"{MODELS}:{name}"]

    return {
        # Refused by the command line (status 2) ...
        "unimportable": (
            run + ["--model", "no_such_module_xyz:build"] + fits,
            2,
            "--model no_such_module_xyz:build: cannot import no_such_module_xyz: "
            "ModuleNotFoundError",
        ),
        "no-function": (
            run + model("missing") + fits,
            2,
            f"--model {MODELS}:missing: {MODELS} has no function missing",
        ),
        "not-a-model-source": (
            run + ["--model", "mine.h5"] + fits,
            2,
            "--model: must be module.path:build_fn or a .keras file, got 'mine.h5'",
        ),
        "keras-file-missing": (
            run + ["--model", str(absent_keras)] + fits,
            2,
            f"--model {absent_keras}: no such .keras file",
        ),
        "data-file-missing": (
            run + dense + ["--data", str(absent_npz)],
            2,
            f"--data {absent_npz}: no such file",
        ),
        "dataset-and-data": (
            run + dense + fits + ["--dataset", "mnist"],
            2,
            "--dataset and --data both given",
        ),
        "bad-dataset-name": (
            run + dense + ["--dataset", "Not A Name"],
            2,
            "--dataset: must be a tensorflow-datasets name",
        ),
        "model-required": (run + fits, 2, "the following arguments are required: --model"),
        # ... and by the checks before training (status 1).
        "returns-a-non-model": (
            run + model("not_a_model") + fits,
            1,
            f"--model {MODELS}:not_a_model returned a list, not a keras.Model",
        ),
        "build-fails": (
            run + model("build") + fits,
            1,
            f"--model {MODELS}:build failed for input_shape=(12,), num_classes=3, "
            "norm='batch': ValueError: ",
        ),
        "wrong-inputs": (
            run + model("ignores_input_shape") + fits,
            1,
            f"--model {MODELS}:ignores_input_shape does not take the data's inputs, of shape "
            "(None, 12): ValueError: ",
        ),
        "wrong-outputs": (
            run + model("too_few_outputs") + fits,
            1,
            "gives outputs of shape (None, 1); the data has 3 classes",
        ),
        "missing-arrays": (
            run + dense + ["--data", no_test],
            1,
            f"--data {no_test} has no x_test, y_test: it must hold x_train, y_train, x_test, "
            "y_test (it holds: x_train, y_train)",
        ),
        "mismatched-lengths": (
            run + dense + ["--data", short],
            1,
            f"--data {short}: x_train has 200 examples and y_train 150; they must be as many",
        ),
        "too-few-examples": (
            run + dense + ["--data", npz, "--val-size", "200"],
            1,
            "200 validation examples leave none to train on: ok.npz has 200 training examples",
        ),
        "val-size-zero": (
            run + dense + ["--data", npz, "--val-size", "0"],
            2,
            "argument --val-size: must be a count (an integer >= 1) or a fraction between 0 "
            "and 1, got '0'",
        ),
        "val-size-above-one": (
            run + dense + ["--data", npz, "--val-size", "1.5"],
            2,
            "argument --val-size: must be a count (an integer >= 1) or a fraction between 0 "
            "and 1, got '1.5'",
        ),
        "from-logits-of-a-compiled-model": (
            run + dense + fits + ["--from-logits"],
            1,
            f"--from-logits: the model {MODELS}:build_dense is compiled by its build "
            "function, whose loss it keeps",
        ),
        "learning-rate-schedule": (
            run + model("compiled_with_schedule") + fits + ["--lr", "0.01"],
            1,
            f"--lr 0.01: the optimizer SGD of the model {MODELS}:compiled_with_schedule "
            "(compiled by its build function) follows the learning-rate schedule "
            "ExponentialDecay",
        ),
        "unknown-dataset": (
            run + dense + ["--dataset", "no_such_dataset_xyz"],
            1,
            "No tensorflow-datasets dataset 'no_such_dataset_xyz'",
        ),
        "dataset-not-prepared": (
            run + dense + ["--dataset", "beans"],
            1,
            "Dataset 'beans' is not prepared in the tensorflow-datasets directory",
        ),
    }


REFUSALS = [
    "unimportable",
    "no-function",
    "not-a-model-source",
    "keras-file-missing",
    "data-file-missing",
    "dataset-and-data",
    "bad-dataset-name",
    "model-required",
    "returns-a-non-model",
    "build-fails",
    "wrong-inputs",
    "wrong-outputs",
    "missing-arrays",
    "mismatched-lengths",
    "too-few-examples",
    "val-size-zero",
    "val-size-above-one",
    "from-logits-of-a-compiled-model",
    "learning-rate-schedule",
    "unknown-dataset",
    "dataset-not-prepared",
]


@pytest.mark.parametrize("case", REFUSALS)
def test_bad_input_is_refused_before_anything_is_logged(
    case, store, tmp_path, runs_of, monkeypatch, capsys
):
    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path / "tfds"))  # empty: nothing prepared
    cases = _refusals(tmp_path)
    assert sorted(cases) == sorted(REFUSALS)
    argv, status, message = cases[case]
    start = time.perf_counter()
    try:
        assert main(argv) == status
    except SystemExit as exit_:
        assert exit_.code == status
    assert any(message in line for line in capsys.readouterr().err.splitlines())
    assert runs_of("custom") == []
    assert time.perf_counter() - start < 30
