"""The custom task: your own Keras model, with each normalization, on your own data.

`--model` is either a build function, `module.path:build_fn`, called as
`build_fn(input_shape, num_classes, norm)` for each run and returning a Keras
model (compiled or not), or a saved `.keras` model, which
`keras_norms.convert` turns into each norm. The data is a tensorflow-datasets
classification dataset (`--dataset`; the suite's own ones are fetched, any
other must be prepared locally already) or a NumPy `.npz` file (`--data`)
holding `x_train`, `y_train`, `x_test` and `y_test`.

Every run trains at its own `--lr`: a model its build function compiled trains
with a new optimizer of its optimizer's class and settings, at the run's rate. An
uncompiled model is compiled with Adam and sparse categorical cross-entropy, on logits or on
probabilities as its last layer says (`--from-logits` overrides).
The batch norms `keras_norms.convert` creates take the built-in models'
momentum (`experiments.models.norms.BATCH_MOMENTUM`).
"""

import argparse
import importlib
import os
import re
import sys
from pathlib import Path

from .. import arguments
from ..errors import ModelError
from ..models import norms
from ..models.norms import NORMS
from .base import Task, example_inputs, load_logged_images, log_data
from .cnn import CnnTask
from .loop import compile_arguments

_TFDS_NAME = re.compile(r"[a-z0-9_]+(/[A-Za-z0-9_.+-]+)?(:[0-9.*]+)?")
_BUILD_SPEC = re.compile(r"[A-Za-z_][\w.]*:[A-Za-z_]\w*")
DEFAULT_DATASET = "fashion_mnist"


def model_source(text) -> str:
    """A `--model` value: `module.path:build_fn` or a path ending in `.keras`."""
    if text.endswith(".keras") or _BUILD_SPEC.fullmatch(text):
        return text
    raise argparse.ArgumentTypeError(f"must be module.path:build_fn or a .keras file, got {text!r}")


# Build functions given as Python objects (`experiments.compare`), by the spec
# that names them in the run's params.
_IN_PROCESS = {}


def register_build_function(function):
    """Makes `function` a `--model` of this process; returns its spec,
    `module:qualified.name`, which the runs log as their `model` param."""
    spec = f"{function.__module__}:{function.__qualname__}"
    _IN_PROCESS[spec] = function
    return spec


def build_function(spec):
    """The function named by `module.path:build_fn` (or registered under it
    by `register_build_function`); ValueError if it cannot be had."""
    if spec in _IN_PROCESS:
        return _IN_PROCESS[spec]
    module_name, function_name = spec.split(":")
    # As `python -m` does, find the user's modules from the current directory,
    # also when run through the console script.
    if os.getcwd() not in sys.path:
        sys.path.append(os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except Exception as error:  # a module that fails at import: say how, in one line
        raise ValueError(
            f"--model {spec}: cannot import {module_name}: "
            f"{type(error).__name__}: {_first_line(error)}"
        ) from None
    function = getattr(module, function_name, None)
    if not callable(function):
        raise ValueError(f"--model {spec}: {module_name} has no function {function_name}")
    return function


class CustomTask(Task):
    name = "custom"
    description = (
        "your own Keras classifier (--model), with each normalization, on a "
        "tensorflow-datasets dataset or a .npz file"
    )
    norms = NORMS
    datasets = ()  # any tensorflow-datasets name (parse_dataset), else fashion_mnist
    # A classifier trained as the cnn task trains its own, validated on a tenth
    # of the training examples, whatever their number.
    settings = {**CnnTask.settings, "val_size": 0.1}
    quick_settings = CnnTask.quick_settings
    quick_norms = ()  # not part of the quick comparison: it needs a model
    quick_run_seconds = None  # the model's: not known, a sweep of it is taken as long

    table_metrics = ("test_accuracy",)
    higher_is_better = True
    curve_metric = "val_accuracy"

    def add_arguments(self, parser):
        parser.add_argument(
            "--model",
            required=True,
            type=model_source,
            help="module.path:build_fn, called as build_fn(input_shape, "
            "num_classes, norm), or a saved .keras model to convert",
        )
        parser.add_argument(
            "--data",
            help="a .npz file with x_train, y_train, x_test, y_test (instead of --dataset)",
        )
        parser.add_argument(
            "--val-size",
            type=arguments.count_or_fraction,
            default=None,
            help="validation examples held out from the training ones: a "
            "count, or a fraction of them (default: 0.1; 1024 with "
            "--quick). From a .npz they are drawn at random with the "
            "run's seed, each class in proportion",
        )
        parser.add_argument(
            "--from-logits",
            action=argparse.BooleanOptionalAction,
            default=None,
            help="whether an uncompiled model outputs logits (--from-logits) "
            "or probabilities (--no-from-logits) (default: probabilities "
            "when its last layer applies softmax or sigmoid, else "
            "logits)",
        )

    def parse_dataset(self, text):
        if not _TFDS_NAME.fullmatch(text):
            raise argparse.ArgumentTypeError(
                f"must be a tensorflow-datasets name such as mnist or cifar10/1.0.0, got {text!r}"
            )
        return text

    def configure(self, config):
        config = dict(config)
        if config["model"].endswith(".keras"):
            path = Path(config["model"]).resolve()
            if not path.is_file():
                raise ValueError(f"--model {config['model']}: no such .keras file")
            config["model"] = str(path)
        else:
            build_function(config["model"])
        if config["data"]:
            if config["dataset"]:
                raise ValueError("--dataset and --data both given: the data is one or the other")
            if config["data_dir"]:
                raise ValueError("--data-dir and --data both given: the data is one or the other")
            path = Path(config["data"]).resolve()
            if not path.is_file():
                raise ValueError(f"--data {config['data']}: no such file")
            config["data"] = str(path)
            config["dataset"] = path.stem
        else:
            config["dataset"] = config["dataset"] or DEFAULT_DATASET
        return config

    def describe(self, config):
        data = (
            f"`{config['data']}`" if config["data"] else f"tensorflow-datasets {config['dataset']}"
        )
        return super().describe(config) + f"\n\nModel: `{config['model']}`. Data: {data}."

    def title(self, config):
        return f"custom {Path(config['model']).name}, norm={config['norm']}"

    def prepare(self, config):
        """Checks the data and builds the model once, before anything is logged."""
        shape, num_classes = self._shapes(config)
        self.build(config, shape, num_classes)

    def _shapes(self, config):
        """(input shape, number of classes) of the run's data, its sizes checked."""
        if config["data"]:
            from ..data.arrays import check_npz_sizes, input_shape_and_classes

            return input_shape_and_classes(check_npz_sizes(config["data"], config))
        from ..data.images import (
            check_split_sizes,
            classification_shapes,
            prepared_builder,
        )

        builder = prepared_builder(config["dataset"], config["data_dir"])
        shapes = classification_shapes(builder)
        check_split_sizes(builder, _with_val_count(config, builder))
        return shapes

    def build(self, config, input_shape, num_classes):
        """The run's model with its norm, checked against the data's shapes;
        raises ModelError saying what is wrong."""
        import keras
        import numpy as np

        source = config["model"]
        if source.endswith(".keras"):
            import keras_norms  # noqa: F401  (registers its layers for loading)

            try:
                model = norms.convert(keras.saving.load_model(source), config["norm"])
            except Exception as error:  # load or convert: the message says why
                raise ModelError(
                    f"--model {source} cannot be loaded and converted to "
                    f"norm {config['norm']!r}: {type(error).__name__}: "
                    f"{_first_line(error)}"
                ) from None
        else:
            try:
                model = build_function(source)(input_shape, num_classes, config["norm"])
            except Exception as error:
                raise ModelError(
                    f"--model {source} failed for input_shape={input_shape}, "
                    f"num_classes={num_classes}, norm={config['norm']!r}: "
                    f"{type(error).__name__}: {_first_line(error)}"
                ) from None
            if not isinstance(model, keras.Model):
                raise ModelError(
                    f"--model {source} returned a {type(model).__name__}, not a keras.Model"
                )
        # One forward pass checks what the model takes and gives, whatever its kind.
        try:
            outputs = model(np.zeros((1, *input_shape), "float32"))
        except Exception as error:
            raise ModelError(
                f"--model {source} does not take the data's inputs, of shape "
                f"{(None, *input_shape)}: {type(error).__name__}: "
                f"{_first_line(error)}"
            ) from None
        shape = tuple(getattr(outputs, "shape", ()))
        if len(shape) != 2 or shape[-1] != num_classes:
            raise ModelError(
                f"--model {source} gives outputs of shape {(None, *shape[1:])}; "
                f"the data has {num_classes} classes: end with one output per "
                "class"
            )
        if model.compiled:
            _check_compiled(model, config)
        return model

    def run(self, config):
        # TensorFlow is imported here, not at module level: --help stays fast.
        import keras
        import mlflow

        keras.utils.set_random_seed(config["seed"])
        if config["data"]:
            from ..data.arrays import load_npz

            data = load_npz(
                config["data"],
                batch_size=config["batch_size"],
                seed=config["seed"],
                train_size=config["train_size"],
                val_size=config["val_size"],
                test_size=config["test_size"],
            )
            log_data(data)
        else:
            from ..data.images import prepared_builder

            builder = prepared_builder(config["dataset"], config["data_dir"])
            data = load_logged_images(_with_val_count(config, builder))
        model = self.build(config, data.image_shape, data.num_classes)
        # A model compiled by its build function trains with its own optimizer,
        # loss and metrics, its optimizer at the run's learning rate (logged
        # as the optimizer's params).
        mlflow.set_tag("compiled_by", "build function" if model.compiled else "task")
        if model.compiled:
            # A new optimizer: one its build function shares between models
            # would carry one run's state into the next.
            model.optimizer = _at_rate(model.optimizer, config["lr"])
            # The run's training loop too, as the task's own compile sets it.
            model.steps_per_execution = config["steps_per_execution"]
            model.jit_compile = config["jit_compile"]
        else:
            from_logits = config["from_logits"]
            if from_logits is None:
                from_logits = outputs_logits(model)
            mlflow.set_tag("loss_from_logits", str(from_logits).lower())
            model.compile(
                optimizer=keras.optimizers.Adam(config["lr"]),
                loss=keras.losses.SparseCategoricalCrossentropy(from_logits=from_logits),
                metrics=["accuracy"],
                **compile_arguments(config),
            )
        history = self.fit(model, data.train, config, data.sizes["train"], validation=data.val)
        return self.finish(config, history, model, example=example_inputs(data.val), test=data.test)


def outputs_logits(model):
    """Whether `model` outputs logits: unless its last layer is a softmax, or
    applies softmax or sigmoid as its activation, which give probabilities."""
    import keras

    last = model.layers[-1] if model.layers else None
    if isinstance(last, keras.layers.Softmax):
        return False
    activation = getattr(last, "activation", None)
    name = getattr(activation, "__name__", None) or str(activation)
    return name not in ("softmax", "sigmoid")


def _optimizer(model):
    """The optimizer that holds `model`'s learning rate (within a loss-scale one)."""
    return getattr(model.optimizer, "inner_optimizer", model.optimizer)


def _at_rate(optimizer, rate):
    """A new optimizer of `optimizer`'s class and settings, at learning rate
    `rate` (for a loss-scale optimizer, its inner one at `rate`)."""
    import keras

    inner = getattr(optimizer, "inner_optimizer", None)
    if inner is not None:
        return type(optimizer).from_config(
            {
                **optimizer.get_config(),
                "inner_optimizer": keras.optimizers.serialize(_at_rate(inner, rate)),
            }
        )
    return type(optimizer).from_config({**optimizer.get_config(), "learning_rate": rate})


def _check_compiled(model, config):
    """Refuses a run whose settings a model compiled by its build function
    would silently ignore: its own loss replaces `--from-logits`, and a
    learning-rate schedule cannot take the run's `--lr`."""
    source = config["model"]
    if config.get("from_logits") is not None:
        flag = "--from-logits" if config["from_logits"] else "--no-from-logits"
        raise ModelError(
            f"{flag}: the model {source} is compiled by its build function, "
            "whose loss it keeps; drop the option, or return the model "
            "uncompiled for the task to compile"
        )
    optimizer = _optimizer(model)
    rate = optimizer.get_config().get("learning_rate")
    if not isinstance(rate, (int, float)):
        schedule = rate.get("class_name") if isinstance(rate, dict) else type(rate).__name__
        raise ModelError(
            f"--lr {config['lr']:g}: the optimizer {type(optimizer).__name__} "
            f"of the model {source} (compiled by its build function) follows "
            f"the learning-rate schedule {schedule}, which a run's rate would "
            "replace; compile it with a fixed rate, or return it uncompiled"
        )
    try:
        _at_rate(model.optimizer, config["lr"])
    except Exception as error:  # a class whose get_config() does not rebuild it
        raise ModelError(
            f"--lr {config['lr']:g}: the optimizer {type(optimizer).__name__} "
            f"of the model {source} (compiled by its build function) cannot be "
            f"rebuilt at that rate from its get_config(): "
            f"{type(error).__name__}: {_first_line(error)}"
        ) from None


def _with_val_count(config, builder):
    """`config` with its `val_size` as a count of the tfds `builder`'s training
    examples (a fraction taken of them)."""
    from ..data.arrays import validation_count

    total = builder.info.splits["train"].num_examples
    return {**config, "val_size": validation_count(config["val_size"], total)}


def _first_line(error):
    return (str(error).strip().splitlines() or [""])[0]
