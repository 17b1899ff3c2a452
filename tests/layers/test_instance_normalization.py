"""keras_norms.InstanceNormalization against NumPy references and invariances."""

import functools
import re

import keras
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keras_norms import InstanceNormalization
from tests.layers import references
from tests.layers.backend_utils import gradients, random_normal

random = functools.partial(random_normal, loc=1.5, scale=2.0)


def affine(layer, ndim, channel_axis, seed=3):
    """Random gamma and beta, returned broadcast against the input."""
    rng = np.random.RandomState(seed)
    layer.gamma.assign(rng.uniform(0.5, 2.0, layer.gamma.shape))
    layer.beta.assign(rng.normal(size=layer.beta.shape))
    shape = [1] * ndim
    shape[channel_axis] = -1
    return (
        layer.gamma.numpy().reshape(shape),
        layer.beta.numpy().reshape(shape),
    )


# (input shape, axis, the channel axis)
CASES = [
    ((3, 10, 4), -1, 2),
    ((3, 4, 10), 1, 1),
    ((2, 6, 5, 3), -1, 3),
    ((2, 3, 6, 5), 1, 1),
    ((2, 4, 3, 5, 2), -1, 4),
    ((2, 2, 4, 3, 5), 1, 1),
]


def spatial_axes(ndim, channel_axis):
    return tuple(a for a in range(1, ndim) if a != channel_axis)


@pytest.mark.parametrize("shape,axis,channel_axis", CASES)
@pytest.mark.parametrize("training", [True, False])
def test_output_matches_numpy(shape, axis, channel_axis, training):
    x = random(shape)
    layer = InstanceNormalization(axis=axis)
    layer.build(shape)
    gamma, beta = affine(layer, len(shape), channel_axis)

    y = keras.ops.convert_to_numpy(layer(x, training=training))

    expected, _, _ = references.normalize(x, spatial_axes(len(shape), channel_axis), gamma, beta)
    np.testing.assert_allclose(y, expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("shape,axis,channel_axis", CASES)
def test_gradients_match_numpy(shape, axis, channel_axis):
    x = random(shape)
    dy = random(shape, seed=1, loc=0.0, scale=1.0)
    layer = InstanceNormalization(axis=axis)
    layer.build(shape)
    gamma, _ = affine(layer, len(shape), channel_axis)

    dx, (dgamma, dbeta) = gradients(layer, x, dy, training=True)

    ref_dx, ref_dgamma, ref_dbeta = references.normalize_gradients(
        x, dy, spatial_axes(len(shape), channel_axis), gamma
    )
    np.testing.assert_allclose(dx, ref_dx, rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(dgamma, ref_dgamma.ravel(), rtol=1e-3, atol=1e-3)
    np.testing.assert_allclose(dbeta, ref_dbeta.ravel(), rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize("center,scale", [(False, True), (True, False)])
def test_gradients_without_beta_or_gamma_match_numpy(center, scale):
    shape = (3, 5, 4, 2)
    x = random(shape)
    dy = random(shape, seed=1, loc=0.0, scale=1.0)
    layer = InstanceNormalization(center=center, scale=scale)
    layer.build(shape)
    gamma = np.ones((1, 1, 1, 2))
    if scale:
        layer.gamma.assign([0.5, 2.0])
        gamma = layer.gamma.numpy().reshape(1, 1, 1, 2)

    dx, (dweight,) = gradients(layer, x, dy, training=True)

    ref_dx, ref_dgamma, ref_dbeta = references.normalize_gradients(x, dy, (1, 2), gamma)
    np.testing.assert_allclose(dx, ref_dx, rtol=1e-3, atol=1e-4)
    expected = ref_dgamma if scale else ref_dbeta
    np.testing.assert_allclose(dweight, expected.ravel(), rtol=1e-3, atol=1e-3)


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    log_scale=st.floats(-1.0, 1.5),
    shift=st.floats(-10.0, 10.0),
)
def test_output_invariant_to_positive_per_sample_affine(seed, log_scale, shift):
    x = random((4, 6, 6, 3), seed=seed)
    rng = np.random.RandomState(seed)
    a = np.exp(log_scale + rng.uniform(-0.5, 0.5, (4, 1, 1, 1)))
    b = shift + rng.normal(size=(4, 1, 1, 1))
    layer = InstanceNormalization(epsilon=1e-5)

    y = keras.ops.convert_to_numpy(layer(x))
    y_affine = keras.ops.convert_to_numpy(layer((a * x + b).astype("float32")))

    np.testing.assert_allclose(y_affine, y, rtol=2e-3, atol=2e-3)


def test_each_sample_is_independent_of_the_batch():
    x = random((5, 6, 6, 3))
    layer = InstanceNormalization()
    batch = keras.ops.convert_to_numpy(layer(x, training=True))
    for i in range(5):
        alone = keras.ops.convert_to_numpy(layer(x[i : i + 1], training=True))
        np.testing.assert_allclose(alone[0], batch[i], rtol=1e-5, atol=1e-6)


def test_masked_statistics_ignore_padded_steps():
    x = random((3, 8, 2))
    mask = np.ones((3, 8), bool)
    mask[0, 5:] = False
    mask[1, 2:] = False
    x_padded = np.where(mask[..., None], x, -1e4).astype("float32")

    y = keras.ops.convert_to_numpy(InstanceNormalization()(x_padded, mask=mask))

    for i in range(3):
        steps = x[i][mask[i]]
        expected, _, _ = references.normalize(steps, (0,))
        np.testing.assert_allclose(y[i][mask[i]], expected, atol=1e-4)


def test_fully_masked_sample_is_finite():
    x = random((2, 5, 3))
    mask = np.array([[True] * 5, [False] * 5])
    y = keras.ops.convert_to_numpy(InstanceNormalization()(x, mask=mask))
    assert np.all(np.isfinite(y))


def test_mask_from_a_masking_layer():
    x = random((2, 6, 3))
    x[0, 4:] = 0.0
    inputs = keras.Input((6, 3))
    outputs = InstanceNormalization()(keras.layers.Masking(0.0)(inputs))
    y = keras.ops.convert_to_numpy(keras.Model(inputs, outputs)(x))
    expected, _, _ = references.normalize(x[0, :4], (0,))
    np.testing.assert_allclose(y[0, :4], expected, atol=1e-4)


def test_running_statistics_are_tracked_and_used_in_inference():
    x = random((4, 5, 5, 3))
    layer = InstanceNormalization(track_running_stats=True, momentum=0.5)

    y_train = keras.ops.convert_to_numpy(layer(x, training=True))

    _, mean, variance = references.normalize(x, (1, 2))
    expected_mean = 0.5 * mean.mean(axis=0).ravel()
    expected_variance = 0.5 + 0.5 * variance.mean(axis=0).ravel()
    np.testing.assert_allclose(layer.moving_mean.numpy(), expected_mean, rtol=1e-5)
    np.testing.assert_allclose(layer.moving_variance.numpy(), expected_variance, rtol=1e-5)
    y_infer = keras.ops.convert_to_numpy(layer(x, training=False))
    expected = (x - expected_mean) / np.sqrt(expected_variance + 1e-3)
    np.testing.assert_allclose(y_infer, expected, rtol=1e-4, atol=1e-4)
    assert not np.allclose(y_infer, y_train, atol=1e-2)


def test_running_statistics_leave_fully_masked_samples_out():
    x = random((3, 6, 2))
    mask = np.ones((3, 6), bool)
    mask[1] = False
    mask[2, 4:] = False
    layer = InstanceNormalization(track_running_stats=True, momentum=0.0)

    layer(x, training=True, mask=mask)

    means = [x[i][mask[i]].mean(axis=0) for i in (0, 2)]
    variances = [x[i][mask[i]].var(axis=0) for i in (0, 2)]
    np.testing.assert_allclose(layer.moving_mean.numpy(), np.mean(means, axis=0), rtol=1e-5)
    np.testing.assert_allclose(layer.moving_variance.numpy(), np.mean(variances, axis=0), rtol=1e-5)


def test_fully_masked_batch_leaves_running_statistics_alone():
    layer = InstanceNormalization(track_running_stats=True, momentum=0.5)
    layer.build((2, 5, 3))
    layer.moving_mean.assign([1.0, 2.0, 3.0])

    layer(random((2, 5, 3)), training=True, mask=np.zeros((2, 5), bool))

    np.testing.assert_allclose(layer.moving_mean.numpy(), [1.0, 2.0, 3.0])
    np.testing.assert_allclose(layer.moving_variance.numpy(), np.ones(3))


def test_without_tracking_there_are_no_moving_statistics():
    layer = InstanceNormalization()
    layer.build((2, 4, 4, 3))
    assert [w.name for w in layer.weights] == ["gamma", "beta"]


def test_weight_names_with_tracking():
    layer = InstanceNormalization(track_running_stats=True)
    layer.build((2, 4, 3))
    assert [w.name for w in layer.weights] == [
        "gamma",
        "beta",
        "moving_mean",
        "moving_variance",
    ]


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_precision_matches_numpy_near_1e4(policy):
    # Output and weight dtypes under each policy: test_conformance.py.
    half = policy.split("_")[1]
    x = random((2, 8, 8, 3), loc=1e4, scale=30.0)
    layer = InstanceNormalization(dtype=policy, track_running_stats=True)

    y = layer(x.astype(half), training=True)

    y = keras.ops.convert_to_numpy(keras.ops.cast(y, "float32"))
    assert np.all(np.isfinite(y))
    x_half = keras.ops.convert_to_numpy(keras.ops.cast(keras.ops.cast(x, half), "float32"))
    expected, _, _ = references.normalize(x_half, (1, 2))
    np.testing.assert_allclose(y, expected, atol=0.05 if half == "float16" else 0.1)
    assert np.all(np.isfinite(layer.moving_variance.numpy()))


def generator(norm_layer):
    inputs = keras.Input((None, None, 1))
    x = keras.layers.Conv2D(4, 3, padding="same")(inputs)
    x = norm_layer(x)
    x = keras.layers.ReLU()(x)
    return keras.Model(inputs, keras.layers.Conv2D(1, 1)(x))


@pytest.mark.parametrize("jit_compile", [False, True])
def test_fit_at_batch_size_one_with_unknown_spatial_dimensions(jit_compile):
    model = generator(InstanceNormalization())
    model.compile("adam", "mse", jit_compile=jit_compile)
    x = random((6, 8, 8, 1))

    history = model.fit(x, x, batch_size=1, epochs=2, verbose=0)

    assert np.all(np.isfinite(history.history["loss"]))
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert model.predict(random((2, 5, 7, 1)), verbose=0).shape == (2, 5, 7, 1)


@pytest.mark.parametrize(
    "kwargs,message",
    [
        (dict(axis=[1, 2]), "Received: axis=[1, 2]"),
        (dict(axis=None), "Received: axis=None"),
        (dict(epsilon=0), "Received: epsilon=0"),
        (dict(momentum=1.5), "Received: momentum=1.5"),
    ],
)
def test_bad_arguments_are_named(kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        InstanceNormalization(**kwargs)


@pytest.mark.parametrize(
    "axis,shape,message",
    [
        (3, (2, 4, 3), "out of range"),
        (0, (2, 4, 3), "batch axis"),
    ],
)
def test_bad_axis_for_the_input_rank(axis, shape, message):
    with pytest.raises(ValueError, match=message):
        InstanceNormalization(axis=axis).build(shape)


def test_input_of_too_low_rank():
    with pytest.raises(ValueError, match=r"rank >= 3.*input_shape=\(4, 3\)"):
        InstanceNormalization().build((4, 3))


def test_undefined_channel_dimension():
    with pytest.raises(ValueError, match=r"channel axis 2.*None"):
        InstanceNormalization().build((2, 5, None))
