"""The online task: one pass over a stream of images at batch 1, the stream's
pixel permutation changing at every segment (`experiments.data.streams`),
each example scored before the network learns from it (prequential
evaluation, `experiments.models.prequential`), with the batch norm paper's
fully connected network and each normalization.

One epoch is one segment: `--epochs` segments of `train_size / epochs`
images each. Before the stream starts, every network sees 64 held-out
images (the validation split, inputs only) once in training mode: weight
norm's data-dependent initialization needs more than one example (at batch 1
each unit's variance over the batch is 0), and batch norm's moving
statistics take one update from them.
"""

from .. import arguments
from ..models.norms import MLP_NORMS
from .base import Task, load_logged_images
from .loop import compile_arguments

HIDDEN_LAYERS = 2
# Every Fashion-MNIST image belongs to one of ten classes: the floor of accuracy.
CHANCE = 0.1


class OnlineTask(Task):
    name = "online"
    description = (
        "online learning: one pass at batch 1 over a stream whose pixel permutation "
        "changes every segment, each example scored before it is learnt from"
    )
    norms = MLP_NORMS
    datasets = ("fashion_mnist", "mnist")
    settings = {
        "epochs": 3,  # segments
        "batch_size": 1,
        "lr": 1e-3,
        "train_size": 6144,  # the stream: 3 segments of 2,048
        "val_size": 64,  # the images of the initialization, apart from the stream
        "test_size": 2048,
        "window": 256,  # the examples after each shift that recovery_accuracy scores
    }
    # A quick run's segments are 128 images: its window is their first quarter.
    quick_settings = {"train_size": 384, "test_size": 256, "window": 32}
    # Not in the quick comparison: a few hundred examples cannot show what a
    # stream of thousands, shifting, does to each norm.
    quick_norms = ()

    table_metrics = (
        "after_shift_accuracy",
        "recovery_accuracy",
        "stream_accuracy",
        "test_accuracy",
    )
    higher_is_better = True
    curve_metric = "prequential_accuracy"

    def add_arguments(self, parser):
        parser.add_argument(
            "--window",
            type=arguments.positive_int,
            help="the examples after each shift that recovery_accuracy scores (default: 256; "
            "32 with --quick)",
        )

    def configure(self, config):
        segments, size = config["epochs"], config["train_size"]
        if size is None or size % segments:
            raise ValueError(
                f"--train-size (the stream) must split into --epochs ({segments}) equal "
                f"segments, got train_size={size}"
            )
        steps = size // segments // config["batch_size"]
        if size // segments % config["batch_size"] or steps % config["steps_per_execution"]:
            raise ValueError(
                f"a segment ({size // segments} images) must be a whole number of calls of "
                f"--steps-per-execution ({config['steps_per_execution']}) batches of "
                f"--batch-size ({config['batch_size']}), got train_size={size}"
            )
        if config["window"] > size // segments:
            raise ValueError(
                f"--window must not exceed a segment ({size // segments} images), got "
                f"window={config['window']}"
            )
        return config

    def describe(self, config):
        segment = config["train_size"] // config["epochs"]
        return (
            f"**online**: {self.description}.\n\nNormalization `{config['norm']}`, on "
            f"{config['dataset']}: {config['epochs']} segments of {segment} images at batch "
            f"{config['batch_size']}, Adam at learning rate "
            f"{config['lr']:g}, seed {config['seed']}."
        )

    def run(self, config):
        import keras
        import mlflow
        import numpy as np
        import tensorflow as tf

        from ..data.streams import permuted, shifting_stream
        from ..models.mlp import build_mlp
        from ..models.prequential import Prequential

        keras.utils.set_random_seed(config["seed"])
        data = load_logged_images(config)
        images, labels = _arrays(data.train)
        stream, labels, orders = shifting_stream(images, labels, config["epochs"], config["seed"])
        segment_steps = len(stream) // config["epochs"] // config["batch_size"]

        classifier = build_mlp(
            data.image_shape,
            data.num_classes,
            config["norm"],
            depth=HIDDEN_LAYERS,
            seed=config["seed"],
            activation="relu",
            init="scaled",
        )
        init_images, _ = _arrays(data.val)
        classifier(init_images, training=True)  # weight norm's data init; see the module
        model = Prequential(classifier, segment_steps, config["window"])
        model.compile(
            optimizer=keras.optimizers.Adam(config["lr"]),
            loss="sparse_categorical_crossentropy",
            **compile_arguments(config),
        )
        train = tf.data.Dataset.from_tensor_slices((stream, labels)).batch(config["batch_size"])
        history = self.fit(
            model, train, config, len(stream) // config["epochs"], steps_per_epoch=segment_steps
        )

        # The network as the stream left it, on held-out images under the last permutation.
        test_images, test_labels = _arrays(data.test)
        classifier.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        scores = classifier.evaluate(
            permuted(test_images, orders[-1]), test_labels, return_dict=True, verbose=0
        )
        prequential, recovery = history["prequential_accuracy"], history["recovery_accuracy"]
        metrics = {
            "stream_accuracy": float(np.mean(prequential)),
            "first_segment_accuracy": prequential[0],
            "after_shift_accuracy": float(np.mean(prequential[1:])),
            "recovery_accuracy": float(np.mean(recovery[1:])),
            "test_accuracy": scores["accuracy"],
            "test_loss": scores["loss"],
        }
        mlflow.log_metrics(metrics)
        return self.finish(config, history, classifier, example=test_images[:4], metrics=metrics)


def _arrays(dataset):
    """(images, labels) of a batched pipeline, as NumPy arrays in its order."""
    import numpy as np

    batches = list(dataset.as_numpy_iterator())
    return np.concatenate([b[0] for b in batches]), np.concatenate([b[1] for b in batches])
