"""The LSTM/GRU sequence model: every norm builds, trains a step, and shares initial weights."""

import keras
import numpy as np
import pytest

from experiments.models.rnn import RNN_NORMS, build_rnn


def random_sequences(count=8, steps=28, features=28, seed=0):
    return np.random.default_rng(seed).random((count, steps, features)).astype("float32")


# Eager steps: on tiny data tracing a tf.function would cost more than the step.


@pytest.mark.parametrize("norm", RNN_NORMS)
def test_lstm_classifier_trains_a_step_with_finite_loss(norm):
    model = build_rnn(norm, cell="lstm", units=16)
    x, y = random_sequences(), np.arange(8) % 10
    assert model(x).shape == (8, 10)
    model.compile(
        optimizer="adam",
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        run_eagerly=True,
    )
    history = model.fit(x, y, batch_size=4, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"]).all()


@pytest.mark.parametrize("norm", RNN_NORMS)
def test_gru_adding_problem_regressor_trains_a_step(norm):
    model = build_rnn(norm, cell="gru", units=8, input_shape=(20, 2), output_units=1)
    x = random_sequences(count=4, steps=20, features=2)
    assert model(x).shape == (4, 1)
    model.compile(optimizer="adam", loss="mse", run_eagerly=True)
    history = model.fit(x, np.ones((4, 1)), batch_size=2, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"]).all()


@pytest.mark.parametrize("norm", ["group", "weight_meanbn", "spectral"])
def test_unsupported_norm_is_refused(norm):
    with pytest.raises(ValueError, match=f"norm='{norm}'"):
        build_rnn(norm)


def test_unknown_cell_is_refused():
    with pytest.raises(ValueError, match="cell='rnn'"):
        build_rnn("none", cell="rnn")


@pytest.mark.parametrize("norm", ["batch", "instance", "layer"])
def test_same_seed_gives_the_same_shared_weights_across_norms(norm):
    plain = build_rnn("none", units=8, seed=3)
    other = build_rnn(norm, units=8, seed=3)
    for layer in ("projection", "lstm", "head"):
        np.testing.assert_array_equal(
            plain.get_layer(layer).weights[0].numpy(),
            other.get_layer(layer).weights[0].numpy(),
        )
    assert not np.array_equal(
        plain.get_layer("lstm").weights[0].numpy(),
        build_rnn("none", units=8, seed=4).get_layer("lstm").weights[0].numpy(),
    )


def test_weight_norm_starts_from_the_plain_model_weights():
    plain = build_rnn("none", units=8, seed=3)
    weighted = build_rnn("weight", units=8, seed=3)
    x = random_sequences(count=2)
    # Until the data-dependent init of the first training batch, g is the norm
    # of v, so the weight-normalized model computes the plain model's function.
    np.testing.assert_allclose(weighted(x).numpy(), plain(x).numpy(), atol=1e-5)


@pytest.mark.parametrize("norm", RNN_NORMS)
def test_padding_is_masked_out(norm):
    model = build_rnn(norm, units=8, input_shape=(None, 3), output_units=2, mask_value=0.0)
    sequence = random_sequences(count=1, steps=6, features=3) + 0.5
    padded = np.concatenate([sequence, np.zeros((1, 4, 3), "float32")], axis=1)
    np.testing.assert_allclose(
        model(padded, training=False).numpy(), model(sequence, training=False).numpy(), atol=1e-5
    )


def test_instance_norm_takes_statistics_per_sequence():
    # Scaling and shifting one sequence's projected features over time does
    # not change its instance-normalized output; the other sequence is untouched.
    model = build_rnn("instance", units=8, input_shape=(5, 1), output_units=2, seed=1)
    # Spread wide enough that the layer's epsilon is negligible beside the variance.
    x = 20.0 * random_sequences(count=2, steps=5, features=1)
    moved = x.copy()
    moved[0] = 3.0 * x[0] + 2.0
    np.testing.assert_allclose(model(moved).numpy(), model(x).numpy(), atol=1e-4)
