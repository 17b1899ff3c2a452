"""The text task: a small transformer classifies generated sentences by their
sentiment, negation included (`experiments.data.language`)."""

import math

from .. import arguments
from ..models.norms import TEXT_NORMS
from .base import Task, array_pipelines, example_inputs, generated_splits
from .loop import compile_arguments
from .schedule import add_schedule_argument, learning_rate

DATASET = "sentiment"
# Generated sentences when --train-size / the settings leave them open.
SIZES = {"train_size": 16_384, "val_size": 2_048, "test_size": 4_096}


class TextTask(Task):
    name = "text"
    description = (
        "a transformer classifies generated sentences of 8 to --max-len tokens by "
        "their sentiment, each 'not' flipping the next sentiment word; the norm in "
        "each block (batch norm's statistics over the batch's tokens, padding left out)"
    )
    norms = TEXT_NORMS
    datasets = (DATASET,)
    settings = {
        "epochs": 10,
        "batch_size": 64,
        "lr": 1e-3,
        "train_size": None,
        "val_size": None,
        "test_size": None,
    }
    quick_settings = {"epochs": 2, "train_size": 4096, "val_size": 1024, "test_size": 2048}
    # Not in the quick comparison, which it would lengthen by a minute of a worker.
    quick_norms = ()
    table_metrics = ("test_accuracy",)
    curve_metric = "val_accuracy"
    target = 0.9
    references = {"majority class (floor)": {"test_accuracy": "majority_accuracy"}}

    def add_arguments(self, parser):
        parser.add_argument(
            "--max-len",
            type=arguments.int_at_least(8),
            default=64,
            help="the padded sentence length; sentences have 8 to it tokens (default: 64)",
        )
        parser.add_argument(
            "--width",
            type=arguments.positive_int,
            default=64,
            help="the embedding's and each block's width (default: 64)",
        )
        parser.add_argument(
            "--heads",
            type=arguments.positive_int,
            default=4,
            help="attention heads per block; they must divide --width (default: 4)",
        )
        parser.add_argument(
            "--blocks",
            type=arguments.positive_int,
            default=2,
            help="transformer blocks (default: 2)",
        )
        add_schedule_argument(parser)

    def configure(self, config):
        if config["width"] % config["heads"]:
            raise ValueError(
                f"--heads must divide --width, got --heads {config['heads']} "
                f"and --width {config['width']}"
            )
        return {**config, **{name: config[name] or size for name, size in SIZES.items()}}

    def prepare(self, config):
        """Generated: nothing to prepare."""

    def title(self, config):
        return f"text {config['dataset']}, {config['blocks']} blocks, norm={config['norm']}"

    def run(self, config):
        # TensorFlow is imported here, not at module level: --help stays fast.
        import keras

        from ..data.language import VOCABULARY
        from ..models.text import build_text_classifier

        keras.utils.set_random_seed(config["seed"])
        train, val, test = _sentences(config)
        model = build_text_classifier(
            config["norm"],
            vocabulary=VOCABULARY,
            max_len=config["max_len"],
            width=config["width"],
            heads=config["heads"],
            blocks=config["blocks"],
            seed=config["seed"],
        )
        steps = config["epochs"] * math.ceil(config["train_size"] / config["batch_size"])
        model.compile(
            optimizer=keras.optimizers.Adam(learning_rate(config, steps), clipnorm=1.0),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=["accuracy"],
            **compile_arguments(config),
        )
        history = self.fit(model, train, config, config["train_size"], validation=val)
        return self.finish(config, history, model, example=example_inputs(val), test=test)


def _sentences(config):
    """The generated splits as batched pipelines; logs the majority class's
    test accuracy, the floor."""
    import mlflow
    import numpy as np

    from ..data.language import sentiment_sentences

    splits = generated_splits(
        config,
        lambda count, seed: sentiment_sentences(count, config["max_len"], seed=seed),
        f"{DATASET}:max_len={config['max_len']}",
    )
    majority = np.bincount(splits["train"][1]).argmax()
    mlflow.log_metric("majority_accuracy", float(np.mean(splits["test"][1] == majority)))
    return array_pipelines(splits, config)
