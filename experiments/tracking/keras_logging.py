"""Logging a Keras model and its training to the active MLflow run, and the
suite's one divergence policy.

Kept apart from the rest of `experiments.tracking` because it imports Keras
(and so TensorFlow), which the report and the command line do without.
"""

import math
import time

import keras
import mlflow
import mlflow.keras
from mlflow.entities import Metric

from ..errors import TrainingDiverged
from .runs import VERSION_PARAMS, backend_params, software_versions


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
        mlflow.log_params(
            {
                f"optimizer_{name}_{key}": value
                for name, optimizer in self.optimizers.items()
                for key, value in optimizer.get_config().items()
            }
        )

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


def log_keras_model(model, example, name="model", params=None, step=0):
    """Logs `model` as a `.keras` file, loadable with `mlflow.keras.load_model`,
    with the signature of its outputs on `example` (a few inputs, NumPy) and
    `params` (the run's configuration) as the logged model's own params.
    Returns MLflow's `ModelInfo` (its `model_id` names the logged model).

    MLflow records the run's metrics logged at `step` (the epoch the weights
    are from) as the model's too.

    The requirements are given, not inferred: inference reloads the model in a
    subprocess, which costs seconds per run.
    """
    backend, backend_version = backend_params().values()
    requirements = [
        f"{dist}=={version}"
        for dist, version in zip(VERSION_PARAMS.values(), software_versions().values())
    ] + ([f"{backend}=={backend_version}"] if backend != "tensorflow" else [])
    signature = mlflow.models.infer_signature(example, model.predict(example, verbose=0))
    return mlflow.keras.log_model(
        model,
        name=name,
        signature=signature,
        params=params,
        step=step,
        pip_requirements=requirements,
    )


def link_metrics_to_model(model_id, names):
    """Records the active run's latest value of each metric in `names` as a
    metric of the logged model `model_id` too (unless it is already), so
    MLflow's views of models (the experiment's Models tab,
    `mlflow.search_logged_models`) list the model with its scores.

    The same values are logged again with the same steps and times, which
    the store takes as the run's existing points: the run's history is
    unchanged.
    """
    client = mlflow.MlflowClient()
    run_id = mlflow.active_run().info.run_id
    linked = {metric.key for metric in client.get_logged_model(model_id).metrics or ()}
    latest = [
        max(client.get_metric_history(run_id, name), key=lambda m: (m.step, m.timestamp))
        for name in names
        if name not in linked
    ]
    if not latest:
        return
    client.log_batch(
        run_id,
        metrics=[Metric(m.key, m.value, m.timestamp, m.step, model_id=model_id) for m in latest],
    )


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


class DivergenceMonitor(keras.callbacks.Callback):
    """The divergence policy of every task: training stops at the first step
    whose logged values (losses, metrics) are not all finite.

    A compiled loop (`experiments.tasks.loop`) reports its logs once per call
    of `steps_per_execution` steps, the running means of the epoch: a
    non-finite value is found when its call returns, at most
    `steps_per_execution - 1` steps late, and the step recorded is the call's
    last (Keras numbers it as a full call's, so it is capped at the epoch's
    steps).

    After `fit`, `end_run_if_diverged()` ends the run: it tags the active run
    `diverged` with `diverged_epoch` (counted from 1) and raises
    `TrainingDiverged`, so the run ends FAILED and a sweep goes on with the
    next one. The report counts such runs apart ("1/3 diverged").
    """

    def __init__(self):
        super().__init__()
        self.diverged_at = None  # (epoch from 1, step from 1, {name: value})
        self._epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch + 1

    def on_train_batch_end(self, batch, logs=None):
        bad = {
            name: float(value)
            for name, value in (logs or {}).items()
            if not math.isfinite(float(value))
        }
        if bad and self.diverged_at is None:
            step = min(batch + 1, (self.params or {}).get("steps") or batch + 1)
            self.diverged_at = (self._epoch, step, bad)
            self.model.stop_training = True

    def end_run_if_diverged(self):
        if self.diverged_at is not None:
            end_diverged_run(*self.diverged_at)


def end_diverged_run(epoch, step, values):
    """Tags the active run `diverged` at `epoch` (from 1) and raises
    `TrainingDiverged` naming the `step` and the non-finite `values` ({name: value})."""
    mlflow.set_tags({"diverged": "true", "diverged_epoch": str(epoch)})
    losses = ", ".join(f"{name}={value}" for name, value in values.items())
    raise TrainingDiverged(f"training diverged at epoch {epoch}, step {step}: {losses}")
