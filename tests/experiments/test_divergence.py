"""The one divergence policy: a non-finite logged value stops training, and the run
ends FAILED with a `diverged` tag and the epoch."""

import keras
import mlflow
import numpy as np
import pytest

from experiments.errors import TrainingDiverged
from experiments.models.gan import GAN, build_discriminator, build_generator
from experiments.tracking.keras_logging import DivergenceMonitor


def test_training_stops_at_the_first_nonfinite_step():
    gan = GAN(build_generator("none", width=8), build_discriminator("none", width=8))
    gan.compile(g_optimizer=keras.optimizers.Adam(1e-3), d_optimizer=keras.optimizers.Adam(1e-3))
    images = np.random.default_rng(0).uniform(-1, 1, (16, 28, 28, 1)).astype("float32")
    images[0, 0, 0, 0] = np.nan  # the first batch poisons the losses
    monitor = DivergenceMonitor()
    history = gan.fit(images, batch_size=4, epochs=3, verbose=0, callbacks=[monitor], shuffle=False)
    epoch, step, values = monitor.diverged_at
    assert (epoch, step) == (1, 1)
    assert not np.isfinite(values["d_loss"])
    # Stopped after one of the twelve steps.
    assert int(gan.d_optimizer.iterations) == 1
    assert len(history.history["d_loss"]) == 1


def test_the_first_divergence_is_kept_and_finite_values_pass():
    monitor = DivergenceMonitor()
    monitor.set_model(keras.Sequential())
    monitor.model.stop_training = False  # as fit sets it
    monitor.on_epoch_begin(1)
    monitor.on_train_batch_end(0, {"loss": 0.5, "accuracy": 1.0})
    assert monitor.diverged_at is None and not monitor.model.stop_training
    monitor.on_train_batch_end(1, {"loss": float("inf"), "accuracy": 0.1})
    monitor.on_train_batch_end(2, {"loss": float("nan")})
    assert monitor.diverged_at == (2, 2, {"loss": float("inf")})
    assert monitor.model.stop_training


def test_a_diverged_run_is_tagged_with_its_epoch(tmp_path):
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    monitor = DivergenceMonitor()
    monitor.set_model(keras.Sequential())
    with mlflow.start_run() as run:
        monitor.end_run_if_diverged()  # nothing happened: no tag, no error
        monitor.on_epoch_begin(3)
        monitor.on_train_batch_end(6, {"g_loss": float("nan")})
        with pytest.raises(TrainingDiverged, match="at epoch 4, step 7: g_loss=nan"):
            monitor.end_run_if_diverged()
    tags = mlflow.get_run(run.info.run_id).data.tags
    assert (tags["diverged"], tags["diverged_epoch"]) == ("true", "4")
