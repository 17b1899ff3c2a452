"""The RNN task: an LSTM or GRU on sequential Fashion-MNIST or on the adding problem."""

import math

from .. import arguments
from ..models.norms import RECURRENT_NORMS, RNN_NORMS
from .base import (
    ReportView,
    Task,
    array_pipelines,
    example_inputs,
    generated_splits,
    load_logged_images,
)
from .loop import compile_arguments
from .schedule import add_schedule_argument, learning_rate

ADDING_SEQ_LEN = 100
# Generated examples of the adding problem when --train-size / the settings leave
# them open (the whole split, for an image dataset).
ADDING_SIZES = {"train_size": 20_000, "test_size": 5_000}


class RnnTask(Task):
    name = "rnn"
    description = (
        "LSTM/GRU on sequential Fashion-MNIST (28 rows as 28 steps, its pixels "
        "permuted or not) or the adding problem; the norm on the input projection, "
        "inside the LSTM cell (recurrent_batch, recurrent_layer), or weight norm on "
        "the kernels"
    )
    norms = RNN_NORMS
    datasets = ("fashion_mnist", "adding")
    settings = {
        "epochs": 10,
        "batch_size": 128,
        "lr": 2e-3,
        "train_size": None,
        "val_size": 5000,
        "test_size": None,
    }
    quick_settings = {
        "epochs": 3,
        "batch_size": 64,
        "train_size": 4096,
        "val_size": 1024,
        "test_size": 2048,
    }
    quick_norms = ("none", "batch", "instance", "layer", "weight")
    quick_run_seconds = 21

    def add_arguments(self, parser):
        parser.add_argument(
            "--cell",
            type=arguments.choice(("lstm", "gru")),
            default="lstm",
            help="recurrent cell (default: lstm)",
        )
        parser.add_argument(
            "--hidden",
            type=arguments.positive_int,
            default=64,
            help="units of the projection and the recurrent state (default: 64)",
        )
        parser.add_argument(
            "--permuted",
            action="store_true",
            help="image datasets: shuffle each image's pixels by one fixed permutation "
            "before reading its rows (permuted sequential images)",
        )
        parser.add_argument(
            "--no-data-init",
            dest="data_init",
            action="store_false",
            help="weight norm without its data-dependent initialization",
        )
        parser.add_argument(
            "--step-statistics",
            action="store_true",
            help="recurrent_batch: moving averages per time step (Cooijmans et al.) "
            "instead of one set shared by the steps",
        )
        add_schedule_argument(parser)
        parser.add_argument(
            "--seq-len",
            type=arguments.int_at_least(2),
            help=f"steps of --dataset adding (default: {ADDING_SEQ_LEN}); "
            "sequential images always have 28",
        )

    def configure(self, config):
        if config["norm"] in RECURRENT_NORMS and config["cell"] != "lstm":
            raise ValueError(
                f"norm={config['norm']!r} normalizes inside an LSTM cell, got "
                f"cell={config['cell']!r}"
            )
        if not config["data_init"] and config["norm"] != "weight":
            raise ValueError(
                f"--no-data-init applies to weight norm only, got norm={config['norm']!r}"
            )
        if config["step_statistics"] and config["norm"] != "recurrent_batch":
            raise ValueError(
                "--step-statistics applies to norm recurrent_batch only, got "
                f"norm={config['norm']!r}"
            )
        if config["permuted"] and config["dataset"] == "adding":
            raise ValueError("--permuted applies to image datasets, got --dataset adding")
        if config["dataset"] != "adding":
            if config["seq_len"] is not None:
                raise ValueError(
                    f"--seq-len applies to --dataset adding only: {config['dataset']}"
                    " images are read as 28 rows of 28 pixels"
                )
            return {**config, "seq_len": 28}
        sizes = {name: config[name] or size for name, size in ADDING_SIZES.items()}
        return {**config, **sizes, "seq_len": config["seq_len"] or ADDING_SEQ_LEN}

    def report_view(self, dataset):
        if dataset == "adding":
            return ReportView(
                ("test_mse",),
                higher_is_better=False,
                curve_metric="val_mse",
                target=0.05,
                references={"mean predictor (baseline)": {"test_mse": "baseline_mse"}},
            )
        return ReportView(
            ("test_accuracy",), higher_is_better=True, curve_metric="val_accuracy", target=0.75
        )

    def prepare(self, config):
        if config["dataset"] != "adding":  # generated, nothing to prepare
            super().prepare(config)

    def title(self, config):
        permuted = "permuted " if config["permuted"] else ""
        return f"rnn {permuted}{config['dataset']}, {config['cell']}, norm={config['norm']}"

    def run(self, config):
        # TensorFlow is imported here, not at module level: --help stays fast.
        import keras

        from ..models.rnn import build_rnn

        keras.utils.set_random_seed(config["seed"])
        if config["dataset"] == "adding":
            train, val, test, train_count = _adding_data(config)
            output_units, loss = 1, "mse"
            metrics = [keras.metrics.MeanSquaredError(name="mse")]
        else:
            train, val, test, train_count = _image_sequences(config)
            output_units = 10
            loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
            metrics = ["accuracy"]
        model = build_rnn(
            config["norm"],
            cell=config["cell"],
            units=config["hidden"],
            input_shape=tuple(test.element_spec[0].shape[1:]),
            output_units=output_units,
            seed=config["seed"],
            data_init=config["data_init"],
            step_statistics=config["step_statistics"],
        )
        steps = config["epochs"] * math.ceil(train_count / config["batch_size"])
        # Clipping keeps a long recurrence's rare large gradients from derailing a run.
        model.compile(
            optimizer=keras.optimizers.Adam(learning_rate(config, steps), clipnorm=1.0),
            loss=loss,
            metrics=metrics,
            **compile_arguments(config),
        )
        history = self.fit(model, train, config, train_count, validation=val)
        return self.finish(config, history, model, example=example_inputs(val), test=test)


def _image_sequences(config):
    """Fashion-MNIST read row by row: batches of (28 steps x 28 pixels, label),
    the pixels permuted first with `permuted`."""
    from ..data import sequences

    data = load_logged_images(config)
    height, width = data.image_shape[:2]
    permutation = sequences.pixel_permutation(height, width) if config["permuted"] else None

    def as_steps(images):
        if permutation is None:
            return sequences.image_rows_as_steps(images)
        return sequences.permuted_rows_as_steps(images, permutation)

    def rows(dataset):
        return dataset.map(lambda images, labels: (as_steps(images), labels))

    return rows(data.train), rows(data.val), rows(data.test), data.sizes["train"]


def _adding_data(config):
    """Generated adding-problem splits as batched pipelines; logs the baseline.

    The baseline is the test MSE of always predicting the training targets'
    mean (about 1/6): a model has learnt something only below it.
    """
    import mlflow
    import numpy as np

    from ..data.sequences import adding_problem

    splits = generated_splits(
        config,
        lambda count, seed: adding_problem(count, config["seq_len"], seed=seed),
        f"adding:seq_len={config['seq_len']}",
    )
    baseline = float(np.mean((splits["test"][1] - splits["train"][1].mean()) ** 2))
    mlflow.log_metric("baseline_mse", baseline)
    return (*array_pipelines(splits, config), config["train_size"])
