"""Logging a Keras model and its training to the active MLflow run.

Kept apart from `experiments.tracking` because it imports Keras (and so
TensorFlow), which the report and the command line do without.
"""

import time

import keras
import mlflow
import mlflow.keras

from experiments.errors import TrainingDiverged
from experiments.tracking import VERSION_PARAMS, software_versions


class EpochLogger(mlflow.keras.MlflowCallback):
    """MLflow's Keras callback with `step` = epochs completed (1, 2, ...) and the
    speed metrics `epoch_time_s` and `examples_per_s` beside Keras's logs.

    Args:
        examples_per_epoch: training examples seen per epoch.
        optimizers: for a model that trains with optimizers of its own (a GAN),
            name -> optimizer; their configs are logged as params
            `optimizer_<name>_<key>` instead of the unused `model.optimizer`'s
            (the report, as for those, leaves them out of the configuration).
    """

    def __init__(self, examples_per_epoch, optimizers=None):
        super().__init__()
        self.examples_per_epoch = examples_per_epoch
        self.optimizers = optimizers

    def on_train_begin(self, logs=None):
        if self.optimizers is None:
            return super().on_train_begin(logs)
        mlflow.log_params({f"optimizer_{name}_{key}": value
                           for name, optimizer in self.optimizers.items()
                           for key, value in optimizer.get_config().items()})

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        seconds = time.perf_counter() - self._epoch_start
        logs = {
            **(logs or {}),
            "epoch_time_s": seconds,
            "examples_per_s": self.examples_per_epoch / seconds,
        }
        super().on_epoch_end(epoch + 1, logs)

    def on_test_end(self, logs=None):
        # fit() already reports its validation as val_* at each epoch's end.
        pass


def log_keras_model(model, example, name="model"):
    """Logs `model` as a `.keras` file, loadable with `mlflow.keras.load_model`,
    with the signature of its outputs on `example` (a few inputs, NumPy).

    The requirements are given, not inferred: inference reloads the model in a
    subprocess, which costs seconds per run.
    """
    requirements = [
        f"{dist}=={version}"
        for dist, version in zip(VERSION_PARAMS.values(), software_versions().values())
    ]
    signature = mlflow.models.infer_signature(example, model.predict(example, verbose=0))
    return mlflow.keras.log_model(model, name=name, signature=signature,
                                  pip_requirements=requirements)


class EveryEpochs(keras.callbacks.Callback):
    """Calls `log(epoch)` (epochs counted from 1) at the end of every `every`-th
    epoch and of epoch `last`, to log samples or scores with `step=epoch`.

    Skips an epoch cut short by `stop_training` (a divergence, say): its
    weights are not worth logging.
    """

    def __init__(self, log, every=1, last=None):
        super().__init__()
        self.log = log
        self.every = every
        self.last = last

    def on_epoch_end(self, epoch, logs=None):
        epoch += 1
        if not self.model.stop_training and (epoch % self.every == 0 or epoch == self.last):
            self.log(epoch)


def end_if_diverged(monitor):
    """Tags the active run `diverged` and raises `TrainingDiverged` if `monitor`
    (an `experiments.models.gan.DivergenceMonitor`) saw a non-finite loss;
    the run then ends FAILED, and a sweep goes on with the next one."""
    if not monitor.diverged:
        return
    epoch, step, values = monitor.diverged_at
    mlflow.set_tag("diverged", "true")
    losses = ", ".join(f"{name}={value}" for name, value in values.items())
    raise TrainingDiverged(f"losses became non-finite at epoch {epoch + 1}, step {step + 1}: "
                           f"{losses}")
