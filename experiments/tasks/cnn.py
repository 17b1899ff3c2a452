"""The CNN task: a small ResNet-style classifier on Fashion-MNIST, MNIST or
CIFAR-10, or the batch norm paper's fully connected network on the same images."""

import math

from .. import arguments
from ..models.inits import INITS
from ..models.norms import MLP_NORMS, NORMS
from .base import Task, example_inputs, load_logged_images
from .loop import compile_arguments
from .schedule import add_schedule_argument, learning_rate

ARCHITECTURES = ("resnet", "mlp", "resmlp")
FULLY_CONNECTED = ("mlp", "resmlp")


def log_generalization(model, train, metrics):
    """Logs the training set's scores in inference mode (`train_eval_accuracy`,
    `train_eval_loss`: dropout off, batch norm on its moving statistics, as the
    test set is scored) and the generalization gap, `train_eval_accuracy` -
    `test_accuracy`; returns them."""
    import mlflow

    scores = model.evaluate(train, return_dict=True, verbose=0)
    logged = {f"train_eval_{name}": value for name, value in scores.items()}
    logged["generalization_gap"] = logged["train_eval_accuracy"] - metrics["test_accuracy"]
    mlflow.log_metrics(logged)
    return logged


class CnnTask(Task):
    name = "cnn"
    description = "ResNet-style image classifier; the same network with each normalization"
    norms = NORMS
    datasets = ("fashion_mnist", "mnist", "cifar10")
    settings = {
        "epochs": 10,
        "batch_size": 128,
        "lr": 1e-3,
        "train_size": None,  # the whole train split but the validation examples
        "val_size": 5000,
        "test_size": None,
    }
    quick_settings = {
        "epochs": 3,
        "batch_size": 64,
        "train_size": 2048,
        "val_size": 1024,
        "test_size": 2048,
    }
    quick_norms = ("none", "batch", "instance", "weight")
    quick_run_seconds = 25

    table_metrics = ("test_accuracy",)
    higher_is_better = True
    curve_metric = "val_accuracy"
    target = 0.75  # within reach of the quick comparison's three short epochs

    def add_arguments(self, parser):
        parser.add_argument(
            "--architecture",
            type=arguments.choice(ARCHITECTURES),
            default="resnet",
            help="resnet, or mlp: the batch norm paper's MNIST network, hidden "
            "layers of 100 units, or resmlp: the same with residual shortcuts; both "
            "log each hidden layer's gradient norm (default: resnet)",
        )
        parser.add_argument(
            "--init",
            type=arguments.choice(INITS),
            default="paper",
            help="mlp and resmlp: the hidden layers' initialization, paper (normal, "
            "stddev 0.1) or scaled (He for relu, Glorot otherwise), or for resmlp "
            "depth-scaled (scaled, each residual branch's weights divided by the "
            "number of branches) (default: paper)",
        )
        parser.add_argument(
            "--depth",
            type=arguments.positive_int,
            default=3,
            help="residual blocks, or the mlp's hidden layers (default: 3)",
        )
        parser.add_argument(
            "--optimizer",
            type=arguments.choice(("adam", "sgd")),
            default="adam",
            help="adam, or sgd with momentum 0.9 (default: adam)",
        )
        parser.add_argument(
            "--activation",
            type=arguments.choice(("relu", "sigmoid", "tanh")),
            default="relu",
            help="relu, sigmoid (the batch norm paper's sigmoid network) or tanh (default: relu)",
        )
        parser.add_argument(
            "--no-shortcuts",
            dest="shortcuts",
            action="store_false",
            help="plain blocks without residual shortcuts",
        )
        parser.add_argument(
            "--dropout",
            type=arguments.below_one,
            default=0.0,
            help="dropout rate before the head (resnet) or after each hidden layer "
            "(mlp) (default: 0, none)",
        )
        add_schedule_argument(parser)
        parser.add_argument(
            "--stats-batch",
            type=arguments.positive_int,
            default=None,
            help="batch norm only: the examples each set of batch statistics is "
            "computed over (ghost batches; it must divide --batch-size); default: "
            "the whole batch",
        )

    def configure(self, config):
        architecture = config["architecture"]
        if architecture in FULLY_CONNECTED:
            if config["norm"] not in MLP_NORMS:
                raise ValueError(
                    f"--architecture {architecture} takes the norms {', '.join(MLP_NORMS)} "
                    "(a dense layer's output has no positions to normalize over), got "
                    f"norm={config['norm']!r}"
                )
            if not config["shortcuts"]:
                raise ValueError(
                    f"--no-shortcuts applies to --architecture resnet, got "
                    f"architecture={architecture!r}"
                )
            if config["init"] == "depth-scaled" and architecture != "resmlp":
                raise ValueError(
                    f"--init depth-scaled applies to --architecture resmlp, got "
                    f"architecture={architecture!r}"
                )
        elif config["init"] != "paper":
            raise ValueError(
                f"--init applies to --architecture mlp and resmlp, got init={config['init']!r} "
                f"with architecture={architecture!r}"
            )
        stats_batch = config["stats_batch"]
        if stats_batch is None:
            return config
        if config["norm"] != "batch":
            raise ValueError(
                f"--stats-batch applies to batch norm only, got stats_batch={stats_batch} "
                f"with norm={config['norm']!r}"
            )
        # Every batch, the last of an epoch included, splits into whole ghost batches.
        last = (config["train_size"] or 0) % config["batch_size"]
        if config["batch_size"] % stats_batch or last % stats_batch:
            raise ValueError(
                f"--stats-batch must divide the batch size ({config['batch_size']}) and the "
                f"last batch of an epoch ({last} examples), got stats_batch={stats_batch}"
            )
        return config

    def run(self, config):
        # TensorFlow is imported here, not at module level: --help stays fast.
        import keras

        from ..models.cnn import build_cnn
        from ..models.mlp import build_mlp
        from .gradients import GradientNormLogger

        keras.utils.set_random_seed(config["seed"])
        data = load_logged_images(config)

        common = {
            "depth": config["depth"],
            "seed": config["seed"],
            "stats_batch": config["stats_batch"],
            "activation": config["activation"],
            "dropout": config["dropout"],
        }
        callbacks = []
        steps_per_epoch = math.ceil(data.sizes["train"] / config["batch_size"])
        if config["architecture"] in FULLY_CONNECTED:
            model = build_mlp(
                data.image_shape,
                data.num_classes,
                config["norm"],
                residual=config["architecture"] == "resmlp",
                init=config["init"],
                **common,
            )
            batch = next(iter(data.train))
            callbacks.append(GradientNormLogger(batch, config["depth"], steps_per_epoch))
        else:
            model = build_cnn(
                data.image_shape,
                data.num_classes,
                config["norm"],
                shortcuts=config["shortcuts"],
                **common,
            )
        lr = learning_rate(config, config["epochs"] * steps_per_epoch)
        if config["optimizer"] == "sgd":
            optimizer = keras.optimizers.SGD(lr, momentum=0.9)
        else:
            optimizer = keras.optimizers.Adam(lr)
        model.compile(
            optimizer=optimizer,
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
            **compile_arguments(config),
        )
        history = self.fit(
            model, data.train, config, data.sizes["train"], validation=data.val, callbacks=callbacks
        )
        metrics = self.finish(
            config, history, model, example=example_inputs(data.val), test=data.test
        )
        return {**metrics, **log_generalization(model, data.train, metrics)}
