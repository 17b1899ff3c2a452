"""Logging a Keras model and its training to the active MLflow run.

Kept apart from `experiments.tracking` because it imports Keras (and so
TensorFlow), which the report and the command line do without.
"""

import time

import mlflow
import mlflow.keras

from experiments.tracking import VERSION_PARAMS, software_versions


class EpochLogger(mlflow.keras.MlflowCallback):
    """MLflow's Keras callback with `step` = epochs completed (1, 2, ...) and the
    speed metrics `epoch_time_s` and `examples_per_s` beside Keras's logs."""

    def __init__(self, examples_per_epoch):
        super().__init__()
        self.examples_per_epoch = examples_per_epoch

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
