"""FilterResponseNormalization against its formula, on every backend."""

import keras
import numpy as np
import pytest

import keras_norms
from keras_norms import FilterResponseNormalization
from tests.layers.backend_utils import gradients, random_normal, to_numpy

L = keras.layers


def frn(x, axes, gamma, beta, epsilon=1e-6, tau=None, mask=None):
    """`gamma * x / sqrt(mean(x**2) + epsilon) + beta` over `axes`, in
    float64, then `max(., tau)` if `tau` is given."""
    x = np.asarray(x, np.float64)
    if mask is None:
        nu2 = (x**2).mean(axis=axes, keepdims=True)
    else:
        w = np.broadcast_to(np.asarray(mask, np.float64), x.shape)
        nu2 = (w * x**2).sum(axis=axes, keepdims=True) / w.sum(axis=axes, keepdims=True)
    y = gamma * x / np.sqrt(nu2 + epsilon) + beta
    return y if tau is None else np.maximum(y, tau)


def set_random_weights(layer, channel_axis, ndim, seed=3):
    """Random gamma, beta (and tau); returns them shaped to broadcast."""
    rng = np.random.RandomState(seed)
    shape = [1] * ndim
    shape[channel_axis] = -1
    values = []
    for weight in layer.trainable_weights:
        if weight.name == "learned_epsilon":
            continue
        value = rng.uniform(-1.0, 2.0, size=weight.shape).astype("float32")
        weight.assign(value)
        values.append(value.reshape(shape))
    return values


# (input shape, axis, the channel axis)
CASES = [
    ((3, 6, 5, 4), [1, 2], 3),
    ((3, 4, 6, 5), [2, 3], 1),
    ((3, 7, 4), [1], 2),
    ((2, 3, 4, 5, 6), [1, 2, 3], 4),
    ((3, 6, 5, 4), [-3, -2], 3),
]


@pytest.mark.parametrize("shape,axis,channel_axis", CASES)
def test_output_matches_numpy(shape, axis, channel_axis):
    x = random_normal(shape, loc=0.5, scale=2.0)
    layer = FilterResponseNormalization(axis=axis)
    layer.build(shape)
    gamma, beta = set_random_weights(layer, channel_axis, len(shape))
    spatial = tuple(a % len(shape) for a in axis)
    np.testing.assert_allclose(
        to_numpy(layer(x)), frn(x, spatial, gamma, beta), rtol=1e-5, atol=1e-5
    )


def test_defaults_are_tensorflow_addons():
    layer = FilterResponseNormalization()
    assert layer.epsilon == 1e-6 and layer.axis == [1, 2]
    assert not layer.learned_epsilon and layer.eps_learned is None
    assert not layer.tlu
    x = random_normal((2, 5, 5, 3), scale=3.0)
    # Mean square 1 per sample and channel; the mean is not subtracted.
    y = to_numpy(layer(x)).astype(np.float64)
    np.testing.assert_allclose((y**2).mean(axis=(1, 2)), 1.0, rtol=1e-4)
    assert [w.name for w in layer.weights] == ["gamma", "beta"]


def test_learned_epsilon_adds_its_absolute_value():
    layer = FilterResponseNormalization(learned_epsilon=True, epsilon=1e-3)
    # Made at construction, as tensorflow-addons made it.
    assert layer.eps_learned.shape == (1,)
    np.testing.assert_allclose(to_numpy(layer.eps_learned), [1e-4], rtol=1e-6)
    layer.eps_learned.assign([-0.5])
    x = random_normal((2, 4, 4, 3), scale=0.5)
    np.testing.assert_allclose(
        to_numpy(layer(x)),
        frn(x, (1, 2), 1.0, 0.0, epsilon=1e-3 + 0.5),
        rtol=1e-5,
        atol=1e-6,
    )


def test_tlu_thresholds_at_tau():
    layer = FilterResponseNormalization(tlu=True, tau_initializer="ones")
    x = random_normal((2, 5, 5, 3))
    layer.build(x.shape)
    gamma, beta, tau = set_random_weights(layer, 3, 4)
    assert [w.name for w in layer.weights] == ["gamma", "beta", "tau"]
    # A threshold at beta cuts about half of each channel's outputs.
    tau = beta + 0.1
    layer.tau.assign(tau.ravel())
    y = to_numpy(layer(x))
    expected = frn(x, (1, 2), gamma, beta, tau=tau)
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-5)
    # The threshold is active somewhere, so the test means something.
    assert (expected == np.broadcast_to(tau, expected.shape)).any()


def test_mask_leaves_padding_out():
    x = random_normal((2, 6, 3), scale=2.0)
    mask = np.ones((2, 6), bool)
    mask[0, 4:] = False
    layer = FilterResponseNormalization(axis=[1])
    y = to_numpy(layer(x, mask=mask))
    np.testing.assert_allclose(
        y, frn(x, (1,), 1.0, 0.0, mask=mask[..., None]), rtol=1e-5, atol=1e-5
    )
    # As in a model: Masking's mask reaches the layer and passes on.
    model = keras.Sequential(
        [keras.Input((6, 3)), L.Masking(0.0), FilterResponseNormalization(axis=1)]
    )
    padded = x.copy()
    padded[0, 4:] = 0.0
    np.testing.assert_allclose(to_numpy(model(padded))[0, :4], y[0, :4], rtol=1e-5, atol=1e-5)


def test_gradients_finite_and_match_numpy():
    x = random_normal((2, 5, 4, 3), loc=0.3)
    dy = random_normal((2, 5, 4, 3), seed=1)
    layer = FilterResponseNormalization(learned_epsilon=True, tlu=True)
    layer.build(x.shape)
    dx, dweights = gradients(layer, x, dy)
    assert np.isfinite(dx).all()
    assert all(np.isfinite(g).all() for g in dweights)
    by_name = dict(zip((w.name for w in layer.trainable_weights), dweights))
    # With gamma 1, beta 0 and tau 0 the TLU passes y > 0.
    x64 = x.astype(np.float64)
    x_hat = frn(x, (1, 2), 1.0, 0.0, epsilon=1e-6 + 1e-4)
    passed = x_hat > 0
    np.testing.assert_allclose(
        by_name["gamma"],
        (dy * x_hat * passed).sum(axis=(0, 1, 2)),
        rtol=1e-4,
        atol=1e-4,
    )
    np.testing.assert_allclose(
        by_name["beta"], (dy * passed).sum(axis=(0, 1, 2)), rtol=1e-4, atol=1e-4
    )
    np.testing.assert_allclose(
        by_name["tau"], (dy * ~passed).sum(axis=(0, 1, 2)), rtol=1e-4, atol=1e-4
    )
    assert by_name["learned_epsilon"].shape == (1,)
    # dx from the chain rule: d/dx [x / sqrt(nu2 + e)].
    g = dy * passed
    inv = 1.0 / np.sqrt((x64**2).mean(axis=(1, 2), keepdims=True) + 1e-6 + 1e-4)
    n = x.shape[1] * x.shape[2]
    expected_dx = inv * g - x64 * inv**3 * (g * x64).sum(axis=(1, 2), keepdims=True) / n
    np.testing.assert_allclose(dx, expected_dx, rtol=1e-4, atol=1e-5)


def test_tensorflow_addons_config_loads():
    # As tensorflow-addons 0.23 wrote it under Keras 2.
    config = {
        "class_name": "Addons>FilterResponseNormalization",
        "config": {
            "name": "filter_response_normalization",
            "trainable": True,
            "dtype": "float32",
            "axis": [1, 2],
            "epsilon": 1e-6,
            "learned_epsilon": True,
            "beta_initializer": {"class_name": "Zeros", "config": {}},
            "gamma_initializer": {"class_name": "Ones", "config": {}},
            "beta_regularizer": None,
            "gamma_regularizer": None,
            "beta_constraint": None,
            "gamma_constraint": None,
            "learned_epsilon_constraint": None,
        },
    }
    layer = keras.layers.deserialize(config)
    assert isinstance(layer, keras_norms.FilterResponseNormalization)
    assert layer.learned_epsilon and not layer.tlu
    x = random_normal((2, 4, 4, 3))
    np.testing.assert_allclose(
        to_numpy(layer(x)),
        frn(x, (1, 2), 1.0, 0.0, epsilon=1e-6 + 1e-4),
        rtol=1e-5,
        atol=1e-6,
    )


def test_compute_output_shape_builds_as_keras_2_did():
    layer = FilterResponseNormalization()
    assert layer.compute_output_shape((8, 6, 6, 5)) == (8, 6, 6, 5)
    assert [tuple(w.shape) for w in layer.weights] == [(5,), (5,)]


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_precision_matches_numpy_where_squares_overflow(policy):
    # Output and weight dtypes under each policy: test_conformance.py.
    keras.config.set_dtype_policy(policy)
    try:
        layer = FilterResponseNormalization(learned_epsilon=True, tlu=True)
        half = policy.split("_")[1]
        # Values whose squares overflow float16: nu2 stays float32.
        x = random_normal((2, 5, 5, 3), scale=1e3)
        y = layer(keras.ops.cast(x, half))
    finally:
        keras.config.set_dtype_policy("float32")
    x_half = to_numpy(keras.ops.cast(keras.ops.cast(x, half), "float32"))
    expected = frn(x_half, (1, 2), 1.0, 0.0, epsilon=1e-6 + 1e-4, tau=0.0)
    bits = 8 if half == "bfloat16" else 11
    np.testing.assert_allclose(
        to_numpy(keras.ops.cast(y, "float32")),
        expected,
        atol=2.0 ** (np.ceil(np.log2(np.abs(expected).max())) - bits),
    )


def test_float16_layer_rounds_once():
    # A float16 layer computes in float32 and rounds its output once: every
    # value is the float16 nearest the exact one, or next to it.
    np.random.seed(0x2020)
    x = np.random.rand(1, 28, 28, 1).astype("float16")
    layer = FilterResponseNormalization(beta_initializer="ones", dtype="float16")
    y = to_numpy(layer(x)).astype(np.float64)
    expected = frn(x, (1, 2), 1.0, 1.0)
    spacing = np.spacing(expected.astype(np.float16)).astype(np.float64)
    assert (np.abs(y - expected) <= spacing).all()


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"epsilon": 0}, "`epsilon`.*epsilon=0"),
        ({"epsilon": -1e-6}, "`epsilon`.*epsilon=-1e-06"),
        ({"axis": 0}, "`axis`.*batch axis.*axis=0"),
        ({"axis": [0, 1]}, r"`axis`.*batch axis.*axis=\(0, 1\)"),
        ({"axis": "spatial"}, "`axis`.*axis='spatial'"),
        ({"axis": []}, r"`axis`.*axis=\[\]"),
        ({"learned_epsilon": "yes"}, "`learned_epsilon`.*learned_epsilon='yes'"),
        ({"tlu": 1}, "`tlu`.*tlu=1"),
        ({"gamma_initializer": "nope"}, "nope"),
    ],
)
def test_bad_arguments_raise(kwargs, message):
    with pytest.raises(ValueError, match=message):
        FilterResponseNormalization(**kwargs)


@pytest.mark.parametrize(
    "axis, shape, message",
    [
        ([1, 2], (4, 3), "rank >= 3"),
        ([1], (2, 4, 4, 3), r"every non-batch axis but one.*axis=\[1\]"),
        ([1, 2, 3], (2, 4, 4, 3), "every non-batch axis but one"),
        ([1, 4], (2, 4, 4, 3), "out of range"),
        ([1, 1], (2, 4, 4, 3), "twice"),
        ([1, 2], (2, 4, 4, None), "defined size"),
    ],
)
def test_bad_input_shapes_raise(axis, shape, message):
    with pytest.raises(ValueError, match=message):
        FilterResponseNormalization(axis=axis).build(shape)
