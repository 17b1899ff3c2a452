"""The LSTM/GRU sequence model: every norm builds, trains a step, and shares initial weights."""

import keras
import numpy as np
import pytest

from experiments.models.lstm_cells import BN_GAMMA, NormalizedLSTMCell, StepBatchNormalization
from experiments.models.norms import BATCH_MOMENTUM, RECURRENT_NORMS
from experiments.models.rnn import RNN_NORMS, build_rnn

GRU_NORMS = [norm for norm in RNN_NORMS if norm not in RECURRENT_NORMS]


def _numpy(tensor):
    return keras.ops.convert_to_numpy(tensor)


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


@pytest.mark.parametrize("norm", GRU_NORMS)
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
    message = "norm='recurrent_batch' normalizes inside an LSTM cell, got cell='gru'"
    with pytest.raises(ValueError, match=message):
        build_rnn("recurrent_batch", cell="gru")


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
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(weighted(x)), keras.ops.convert_to_numpy(plain(x)), atol=1e-5
    )


@pytest.mark.parametrize("norm", RNN_NORMS)
def test_padding_is_masked_out(norm):
    model = build_rnn(norm, units=8, input_shape=(None, 3), output_units=2, mask_value=0.0)
    sequence = random_sequences(count=1, steps=6, features=3) + 0.5
    padded = np.concatenate([sequence, np.zeros((1, 4, 3), "float32")], axis=1)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(model(padded, training=False)),
        keras.ops.convert_to_numpy(model(sequence, training=False)),
        atol=1e-5,
    )


def test_instance_norm_takes_statistics_per_sequence():
    # Scaling and shifting one sequence's projected features over time does
    # not change its instance-normalized output; the other sequence is untouched.
    model = build_rnn("instance", units=8, input_shape=(5, 1), output_units=2, seed=1)
    # Spread wide enough that the layer's epsilon is negligible beside the variance.
    x = 1000.0 * random_sequences(count=2, steps=5, features=1)
    moved = x.copy()
    moved[0] = 3.0 * x[0] + 2.0
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(model(moved)), keras.ops.convert_to_numpy(model(x)), atol=1e-4
    )


def test_weight_norm_without_data_init():
    def data_init(model):
        [wrapper] = [layer for layer in model.layers if hasattr(layer, "data_init")]
        return wrapper.data_init

    assert data_init(build_rnn("weight", units=8, seed=3, data_init=False)) is False
    assert data_init(build_rnn("weight", units=8, seed=3)) is True


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def _lstm_reference(x, kernel, recurrent, bias, x_norm, h_norm, c_norm):
    """The normalized LSTM from its formula: gates = Nx(W x) + Nh(U h) + b,
    c = f c + i g, h = o tanh(Nc(c)), in Keras's gate order (i, f, g, o)."""
    units = recurrent.shape[0]
    h = c = np.zeros((x.shape[0], units))
    for t in range(x.shape[1]):
        gates = x_norm(x[:, t] @ kernel) + h_norm(h @ recurrent) + bias
        i, f, g, o = np.split(gates, 4, axis=-1)
        c = _sigmoid(f) * c + _sigmoid(i) * np.tanh(g)
        h = _sigmoid(o) * np.tanh(c_norm(c))
    return h


def _normalize(axis, epsilon, gain):
    def norm(v):
        mean, var = v.mean(axis=axis, keepdims=True), v.var(axis=axis, keepdims=True)
        return gain * (v - mean) / np.sqrt(var + epsilon)

    return norm


@pytest.mark.parametrize("norm", ["layer", "batch"])
def test_the_normalized_lstm_cell_against_its_formula(norm):
    x = np.random.default_rng(0).normal(size=(6, 4, 3)).astype("float32")
    layer = keras.layers.RNN(NormalizedLSTMCell(5, norm, seed=1))
    output = _numpy(layer(x, training=True))
    cell = layer.cell
    kernel, recurrent, bias = (_numpy(w) for w in (cell.kernel, cell.recurrent_kernel, cell.bias))
    np.testing.assert_array_equal(bias[5:10], 1.0)  # the forget gate's
    if norm == "layer":  # over each example's features, gains 1 and offsets 0 at the start
        term = _normalize(-1, cell.x_norm.epsilon, 1.0)
        expected = _lstm_reference(x, kernel, recurrent, bias, term, term, term)
    else:  # over the batch at each step, gains 0.1, no offsets on the two terms
        term = _normalize(0, cell.x_norm.epsilon, BN_GAMMA)
        expected = _lstm_reference(x, kernel, recurrent, bias, term, term, term)
        assert cell.x_norm.beta is None and cell.c_norm.beta is not None
    np.testing.assert_allclose(output, expected, atol=1e-5)


def test_recurrent_batch_norm_updates_its_moving_statistics_inside_the_loop():
    model = build_rnn("recurrent_batch", units=8)
    model.compile(
        optimizer="adam",
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        jit_compile=True,
        steps_per_execution=1 if keras.config.backend() == "torch" else 2,
    )
    cell = model.get_layer("lstm").cell
    before = _numpy(cell.h_norm.moving_variance)
    model.fit(random_sequences(), np.arange(8) % 10, batch_size=4, epochs=1, verbose=0)
    assert not np.allclose(_numpy(cell.h_norm.moving_variance), before)
    with pytest.raises(ValueError, match="norm must be one of batch, layer inside an LSTM cell"):
        NormalizedLSTMCell(4, "instance")


class _StepNorm:
    """Batch norm of one term at each call, as the cell makes one per step: in
    training by the batch's moments, recording them; in inference by the
    given per-step rows (the last row for later steps)."""

    def __init__(self, epsilon, rows=None):
        self.epsilon, self.rows, self.moments = epsilon, rows, []

    def __call__(self, v):
        if self.rows is None:
            mean, var = v.mean(axis=0), v.var(axis=0)
        else:
            row = min(len(self.moments), len(self.rows[0]) - 1)
            mean, var = self.rows[0][row], self.rows[1][row]
        self.moments.append((mean, var))
        return BN_GAMMA * (v - mean) / np.sqrt(var + self.epsilon)


def _step_cell(rows, steps=4, seed=0):
    x = np.random.default_rng(seed).normal(size=(6, steps, 3)).astype("float32")
    # JAX's `lax.scan` cannot assign the moving averages: unrolled, as `build_rnn` does.
    layer = keras.layers.RNN(
        NormalizedLSTMCell(5, "batch", seed=1, step_statistics=rows),
        unroll=keras.config.backend() == "jax",
    )
    layer.build(x.shape)
    cell = layer.cell
    weights = [_numpy(w) for w in (cell.kernel, cell.recurrent_kernel, cell.bias)]
    return x, layer, cell, weights


def _moving_rows(moments, rows, first_calls):
    """The per-step moving averages (mean, variance) after one pass over the
    steps whose batch moments are `moments`, each row moved by its steps' in
    order, step 0's `first_calls` times."""
    mean = np.zeros((rows, moments[0][0].shape[-1]))
    var = np.ones_like(mean)
    for step, (step_mean, step_var) in enumerate(moments):
        row = min(step, rows - 1)
        for _ in range(first_calls if step == 0 else 1):
            mean[row] += (1 - BATCH_MOMENTUM) * (step_mean - mean[row])
            var[row] += (1 - BATCH_MOMENTUM) * (step_var - var[row])
    return mean, var


def test_per_step_statistics_train_as_shared_ones_and_move_only_their_steps_row():
    # Two rows on four steps: row 0 moves with step 0, row 1 with steps 1-3.
    x, layer, cell, weights = _step_cell(rows=2)
    output = _numpy(layer(x, training=True))
    norms = [_StepNorm(cell.x_norm.epsilon) for _ in range(3)]
    np.testing.assert_allclose(output, _lstm_reference(x, *weights, *norms), atol=1e-5)
    # Keras's RNN on TensorFlow and torch runs the step once more on step 0 to
    # learn the output's shape, moving row 0 twice towards the same moments
    # (unrolled on JAX, it does not).
    first_calls = 1 if keras.config.backend() == "jax" else 2
    for norm, layer_norm in zip(norms, (cell.x_norm, cell.h_norm, cell.c_norm)):
        mean, var = _moving_rows(norm.moments, 2, first_calls)
        np.testing.assert_allclose(_numpy(layer_norm.moving_mean), mean, atol=1e-5)
        np.testing.assert_allclose(_numpy(layer_norm.moving_variance), var, atol=1e-5)
    # The h term is 0 at step 0 (the state starts at 0): its row 0 saw a variance of 0.
    np.testing.assert_allclose(_numpy(cell.h_norm.moving_variance)[0], BATCH_MOMENTUM**first_calls)


def test_per_step_statistics_in_inference_read_their_steps_row():
    x, layer, cell, weights = _step_cell(rows=3, steps=5)
    rng = np.random.default_rng(1)
    norms = []
    for layer_norm in (cell.x_norm, cell.h_norm, cell.c_norm):
        shape = layer_norm.moving_mean.shape
        rows = (
            rng.normal(size=shape).astype("float32"),
            rng.uniform(0.5, 2, shape).astype("float32"),
        )
        layer_norm.moving_mean.assign(rows[0])
        layer_norm.moving_variance.assign(rows[1])
        norms.append(_StepNorm(layer_norm.epsilon, rows))
    output = _numpy(layer(x, training=False))
    np.testing.assert_allclose(output, _lstm_reference(x, *weights, *norms), atol=1e-5)


def test_per_step_statistics_are_for_recurrent_batch_norm_with_known_steps():
    with pytest.raises(ValueError, match="step_statistics must be a positive number of steps"):
        NormalizedLSTMCell(4, "layer", step_statistics=28)
    with pytest.raises(ValueError, match="step_statistics needs norm='recurrent_batch'"):
        build_rnn("recurrent_layer", units=4, step_statistics=True)
    with pytest.raises(ValueError, match=r"input_shape=\(None, 3\)"):
        build_rnn("recurrent_batch", units=4, input_shape=(None, 3), step_statistics=True)
    model = build_rnn("recurrent_batch", units=4, step_statistics=True)
    norm = model.get_layer("lstm").cell.h_norm
    assert isinstance(norm, StepBatchNormalization) and norm.moving_mean.shape == (28, 16)
