"""MeanOnlyBatchNormalization and WeightNormalization in half precision.

`mixed_bfloat16` (BatchNormalization and InstanceNormalization have theirs in
their own test files), and float16 inputs around 1e4, where a float16 sum or
square overflows (float16 tops out at 65504): the statistics must stay
float32 and the numbers match NumPy on the half-precision inputs.
"""

import keras
import numpy as np
import pytest

from keras_norms import MeanOnlyBatchNormalization, WeightNormalization
from tests.layers.backend_utils import random_normal, to_numpy

L = keras.layers


@pytest.fixture(params=["mixed_bfloat16", "mixed_float16"])
def policy(request):
    keras.config.set_dtype_policy(request.param)
    yield request.param
    keras.config.set_dtype_policy("float32")


def as_half(x, policy):
    """`x` rounded to the policy's compute dtype, back in float64."""
    half = policy.split("_")[1]
    rounded = keras.ops.cast(keras.ops.cast(x, half), "float32")
    return to_numpy(rounded).astype(np.float64)


def half_resolution(policy, magnitude):
    """The spacing of half-precision numbers near `magnitude`."""
    bits = 8 if policy == "mixed_bfloat16" else 11  # significand bits
    return 2.0 ** (np.floor(np.log2(magnitude)) - bits + 1)


@pytest.mark.parametrize("loc", [3.0, 1e4])
def test_mean_only_batch_normalization(policy, loc):
    x = random_normal((64, 4, 3), loc=loc, scale=30.0)
    layer = MeanOnlyBatchNormalization(momentum=0.0, beta_initializer="ones")

    y = layer(x.astype(policy.split("_")[1]), training=True)

    assert keras.backend.standardize_dtype(y.dtype) == policy.split("_")[1]
    assert all(w.dtype == "float32" for w in layer.weights)
    x_half = as_half(x, policy)
    mean = x_half.mean(axis=(0, 1))
    np.testing.assert_allclose(to_numpy(layer.moving_mean), mean, rtol=1e-6)
    expected = x_half - mean + 1.0
    np.testing.assert_allclose(
        to_numpy(keras.ops.cast(y, "float32")),
        expected,
        atol=half_resolution(policy, np.abs(expected).max()),
    )


@pytest.mark.parametrize(
    "factory,shape",
    [(lambda: L.Dense(4), (64, 6)), (lambda: L.Conv2D(4, 3), (8, 6, 6, 3))],
    ids=["Dense", "Conv2D"],
)
def test_weight_normalization_data_init(policy, factory, shape):
    x = random_normal(shape, loc=2.0, scale=3.0)
    wn = WeightNormalization(factory())

    y = wn(x.astype(policy.split("_")[1]), training=True)

    assert keras.backend.standardize_dtype(y.dtype) == policy.split("_")[1]
    assert all(w.dtype in ("float32", "bool") for w in wn.weights)
    y = to_numpy(keras.ops.cast(y, "float32")).astype(np.float64)
    y = y.reshape(-1, y.shape[-1])
    np.testing.assert_allclose(y.mean(axis=0), 0.0, atol=0.03)
    np.testing.assert_allclose(y.std(axis=0), 1.0, rtol=0.03)


@pytest.mark.parametrize(
    "factory,shape",
    [(lambda: L.Dense(4), (64, 6)), (lambda: L.Conv2D(4, 3), (8, 6, 6, 3))],
    ids=["Dense", "Conv2D"],
)
def test_weight_normalization_inputs_near_1e4(policy, factory, shape):
    """Pre-activations near 1e4 square to 1e8: the init must not overflow.

    Half precision cannot resolve the spread of such inputs (its spacing
    near 1e4 is 8 for float16, 64 for bfloat16), so the output is compared
    with the folded layer's in the same precision rather than standardized.
    """
    x = random_normal(shape, loc=1e4, scale=30.0)
    wn = WeightNormalization(factory())

    y = wn(x, training=True)

    offsets = [to_numpy(wn.g_offset), to_numpy(wn.bias_offset)]
    assert all(np.all(np.isfinite(o)) for o in offsets)
    assert np.all(offsets[0] != 0.0)
    y = to_numpy(keras.ops.cast(y, "float32")).astype(np.float64)
    assert np.all(np.isfinite(y))
    folded_layer = wn.fold()
    folded = to_numpy(keras.ops.cast(folded_layer(x), "float32"))
    # Both round `x @ w` (before the bias cancels most of it) to half.
    bias = to_numpy(folded_layer.bias).astype(np.float64)
    scale = np.abs(folded - bias).max()
    np.testing.assert_allclose(y, folded, atol=8 * half_resolution(policy, scale))


def test_weight_normalization_lstm(policy):
    wn = WeightNormalization(L.LSTM(4, return_sequences=True))
    x = random_normal((16, 5, 6), loc=2.0, scale=3.0)

    y = wn(x, training=True)

    assert keras.backend.standardize_dtype(y.dtype) == policy.split("_")[1]
    assert all(w.dtype in ("float32", "bool") for w in wn.weights)
    assert np.all(np.isfinite(to_numpy(keras.ops.cast(y, "float32"))))
    assert bool(to_numpy(wn.initialized))
    # A float32 LSTM with the folded weights computes the same sequence.
    folded = wn.fold()
    reference = L.LSTM.from_config({**folded.get_config(), "dtype": "float32"})
    reference.build(x.shape)
    reference.set_weights(folded.get_weights())
    expected = to_numpy(reference(as_half(x, policy).astype("float32")))
    np.testing.assert_allclose(to_numpy(keras.ops.cast(y, "float32")), expected, atol=0.05)
