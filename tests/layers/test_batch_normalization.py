"""keras_norms.BatchNormalization against NumPy references and Keras semantics."""

import functools
import re

import keras
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keras_norms import BatchNormalization
from tests.layers import references
from tests.layers.backend_utils import BACKEND, gradients, random_normal

random = functools.partial(random_normal, loc=1.5, scale=2.0)


def broadcast(values, ndim, axes):
    shape = [1] * ndim
    for a, size in zip(axes, np.shape(values)):
        shape[a] = size
    return np.reshape(values, shape)


def set_affine(layer, seed=3):
    """Gives gamma and beta random values, so tests see them applied."""
    rng = np.random.RandomState(seed)
    layer.gamma.assign(rng.uniform(0.5, 2.0, layer.gamma.shape))
    layer.beta.assign(rng.normal(size=layer.beta.shape))


# (input shape, axis, the normalized axes)
CASES = [
    ((16, 5), -1, (1,)),
    ((8, 6, 5), -1, (2,)),
    ((4, 6, 5, 3), -1, (3,)),
    ((4, 3, 6, 5), 1, (1,)),
    ((2, 3, 4, 5, 3), -1, (4,)),
    ((2, 3, 4, 5, 3), 1, (1,)),
    ((4, 6, 5, 3), [1, 3], (1, 3)),
]


@pytest.mark.parametrize("shape,axis,axes", CASES)
def test_training_output_and_moving_statistics_match_numpy(shape, axis, axes):
    x = random(shape)
    layer = BatchNormalization(axis=axis, momentum=0.9)
    layer.build(shape)
    set_affine(layer)
    gamma = broadcast(layer.gamma.numpy(), len(shape), axes)
    beta = broadcast(layer.beta.numpy(), len(shape), axes)
    reduce_axes = tuple(a for a in range(len(shape)) if a not in axes)

    y = keras.ops.convert_to_numpy(layer(x, training=True))

    expected, mean, variance = references.normalize(x, reduce_axes, gamma, beta, epsilon=1e-3)
    np.testing.assert_allclose(y, expected, rtol=1e-4, atol=1e-4)
    moving_shape = layer.moving_mean.shape
    np.testing.assert_allclose(
        layer.moving_mean.numpy(),
        0.1 * mean.reshape(moving_shape),
        rtol=1e-5,
        atol=1e-6,
    )
    # Biased variance, as Keras keeps.
    np.testing.assert_allclose(
        layer.moving_variance.numpy(),
        0.9 + 0.1 * variance.reshape(moving_shape),
        rtol=1e-5,
    )


@pytest.mark.parametrize("shape,axis,axes", CASES)
def test_inference_uses_moving_statistics(shape, axis, axes):
    x = random(shape)
    layer = BatchNormalization(axis=axis)
    layer.build(shape)
    set_affine(layer)
    rng = np.random.RandomState(7)
    layer.moving_mean.assign(rng.normal(size=layer.moving_mean.shape))
    layer.moving_variance.assign(rng.uniform(0.5, 3, layer.moving_mean.shape))
    ndim = len(shape)
    mean = broadcast(layer.moving_mean.numpy(), ndim, axes)
    variance = broadcast(layer.moving_variance.numpy(), ndim, axes)
    gamma = broadcast(layer.gamma.numpy(), ndim, axes)
    beta = broadcast(layer.beta.numpy(), ndim, axes)
    before = layer.moving_mean.numpy().copy()

    y = keras.ops.convert_to_numpy(layer(x, training=False))

    expected = gamma * (x - mean) / np.sqrt(variance + 1e-3) + beta
    np.testing.assert_allclose(y, expected, rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(layer.moving_mean.numpy(), before)


@pytest.mark.parametrize("shape,axis,axes", CASES)
def test_gradients_match_numpy(shape, axis, axes):
    x = random(shape)
    dy = random(shape, seed=1, loc=0.0, scale=1.0)
    layer = BatchNormalization(axis=axis)
    layer.build(shape)
    set_affine(layer)
    gamma = broadcast(layer.gamma.numpy(), len(shape), axes)
    reduce_axes = tuple(a for a in range(len(shape)) if a not in axes)

    dx, (dgamma, dbeta) = gradients(layer, x, dy, training=True)

    ref_dx, ref_dgamma, ref_dbeta = references.normalize_gradients(x, dy, reduce_axes, gamma)
    np.testing.assert_allclose(dx, ref_dx, rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(dgamma, ref_dgamma.reshape(dgamma.shape), rtol=1e-3, atol=1e-3)
    np.testing.assert_allclose(dbeta, ref_dbeta.reshape(dbeta.shape), rtol=1e-4, atol=1e-3)


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    log_scale=st.floats(-1.0, 1.5),
    shift=st.floats(-10.0, 10.0),
)
def test_training_output_invariant_to_positive_channel_affine(seed, log_scale, shift):
    x = random((8, 4, 4, 3), seed=seed)
    rng = np.random.RandomState(seed)
    a = np.exp(log_scale + rng.uniform(-0.5, 0.5, 3)).astype("float32")
    b = (shift + rng.normal(size=3)).astype("float32")
    layer = BatchNormalization(epsilon=1e-5)

    y = keras.ops.convert_to_numpy(layer(x, training=True))
    y_affine = keras.ops.convert_to_numpy(layer(a * x + b, training=True))

    np.testing.assert_allclose(y_affine, y, rtol=2e-3, atol=2e-3)


def test_masked_statistics_ignore_padding():
    x = random((4, 7, 3))
    mask = np.ones((4, 7), bool)
    mask[0, 4:] = False
    mask[2, 1:] = False
    x_padded = np.where(mask[..., None], x, 1e4).astype("float32")
    layer = BatchNormalization(momentum=0.0)

    y = keras.ops.convert_to_numpy(layer(x_padded, training=True, mask=mask))

    expected, mean, variance = references.normalize(x_padded, (0, 1), mask=mask[..., None])
    np.testing.assert_allclose(y[mask], expected[mask], rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(layer.moving_mean.numpy(), mean.ravel(), rtol=1e-5)
    np.testing.assert_allclose(layer.moving_variance.numpy(), variance.ravel(), rtol=1e-4)


def test_fully_masked_batch_leaves_moving_statistics_alone():
    layer = BatchNormalization(momentum=0.5)
    layer.build((2, 4, 3))
    layer.moving_mean.assign([1.0, 2.0, 3.0])

    y = layer(random((2, 4, 3)), training=True, mask=np.zeros((2, 4), bool))

    assert np.all(np.isfinite(keras.ops.convert_to_numpy(y)))
    np.testing.assert_allclose(layer.moving_mean.numpy(), [1.0, 2.0, 3.0])
    np.testing.assert_allclose(layer.moving_variance.numpy(), np.ones(3))


def test_mask_propagated_by_keras_reaches_the_statistics():
    tokens = np.array([[3, 5, 0, 0], [2, 0, 0, 0]])
    embedding = keras.layers.Embedding(8, 4, mask_zero=True)
    layer = BatchNormalization(momentum=0.0)
    inputs = keras.Input((4,), dtype="int32")
    model = keras.Model(inputs, layer(embedding(inputs)))

    model(tokens, training=True)

    vectors = keras.ops.convert_to_numpy(embedding(tokens))
    valid = vectors[tokens != 0]
    np.testing.assert_allclose(layer.moving_mean.numpy(), valid.mean(axis=0), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("shape", [(1, 4), (1, 1, 1, 3)])
def test_one_value_per_channel_is_finite(shape):
    layer = BatchNormalization(beta_initializer="ones")
    y = keras.ops.convert_to_numpy(layer(random(shape), training=True))
    assert np.all(np.isfinite(y))
    # x - mean is 0, so only beta remains.
    np.testing.assert_allclose(y, np.ones(shape))
    np.testing.assert_allclose(layer.moving_variance.numpy(), 0.99)


def test_frozen_layer_runs_in_inference_mode():
    x = random((8, 3))
    layer = BatchNormalization()
    layer.build(x.shape)
    layer.trainable = False

    y = keras.ops.convert_to_numpy(layer(x, training=True))

    np.testing.assert_allclose(y, x / np.sqrt(1 + 1e-3), rtol=1e-5)
    np.testing.assert_array_equal(layer.moving_mean.numpy(), np.zeros(3))


def test_virtual_batches_normalize_each_group_apart():
    x = random((12, 5, 3))
    layer = BatchNormalization(virtual_batch_size=4, momentum=0.0)

    y = keras.ops.convert_to_numpy(layer(x, training=True))

    groups = x.reshape(3, 4, 5, 3)
    expected, mean, variance = references.normalize(groups, (1, 2))
    np.testing.assert_allclose(y, expected.reshape(x.shape), atol=1e-4)
    np.testing.assert_allclose(layer.moving_mean.numpy(), mean.mean(axis=0).ravel(), rtol=1e-5)
    np.testing.assert_allclose(
        layer.moving_variance.numpy(), variance.mean(axis=0).ravel(), rtol=1e-5
    )


def test_virtual_batches_with_mask():
    x = random((4, 6, 2))
    mask = np.ones((4, 6), bool)
    mask[1, 3:] = False
    layer = BatchNormalization(virtual_batch_size=2, momentum=0.0)

    y = keras.ops.convert_to_numpy(layer(x, training=True, mask=mask))

    expected, _, _ = references.normalize(
        x.reshape(2, 2, 6, 2), (1, 2), mask=mask.reshape(2, 2, 6, 1)
    )
    expected = expected.reshape(x.shape)
    np.testing.assert_allclose(y[mask], expected[mask], atol=1e-4)


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_precision_matches_numpy_near_1e4(policy):
    # Output and weight dtypes under each policy: test_conformance.py.
    half = policy.split("_")[1]
    x = random((8, 4, 4, 3), loc=1e4, scale=30.0)
    layer = BatchNormalization(dtype=policy)

    y = layer(x.astype(half), training=True)

    y = keras.ops.convert_to_numpy(keras.ops.cast(y, "float32"))
    assert np.all(np.isfinite(y))
    x_half = keras.ops.convert_to_numpy(keras.ops.cast(keras.ops.cast(x, half), "float32"))
    expected, _, _ = references.normalize(x_half, (0, 1, 2))
    np.testing.assert_allclose(y, expected, atol=0.05 if half == "float16" else 0.1)
    assert np.all(np.isfinite(layer.moving_variance.numpy()))
    assert abs(layer.moving_mean.numpy().mean() - 100.0) < 2.0


def model_with(layer, input_shape):
    inputs = keras.Input(input_shape)
    x = keras.layers.Conv2D(4, 3, padding="same")(inputs)
    x = layer(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(2)(x))


@pytest.mark.parametrize("jit_compile", [False, True])
def test_fit_with_unknown_spatial_dimensions(jit_compile):
    layer = BatchNormalization()
    model = model_with(layer, (None, None, 2))
    model.compile("adam", "mse", jit_compile=jit_compile)
    x, y = random((16, 6, 6, 2)), random((16, 2))

    history = model.fit(x, y, batch_size=8, epochs=2, verbose=0)

    assert np.all(np.isfinite(history.history["loss"]))
    assert not np.allclose(layer.moving_mean.numpy(), 0.0)
    predictions = model.predict(random((3, 9, 5, 2)), verbose=0)
    assert predictions.shape == (3, 2)


def test_weight_names():
    layer = BatchNormalization()
    layer.build((2, 3))
    assert [w.name for w in layer.weights] == [
        "gamma",
        "beta",
        "moving_mean",
        "moving_variance",
    ]
    assert [w.name for w in layer.trainable_weights] == ["gamma", "beta"]


@pytest.mark.parametrize(
    "kwargs,message",
    [
        (dict(axis="channels"), "Received: axis='channels'"),
        (dict(axis=[]), "Received: axis=[]"),
        (dict(axis=1.5), "Received: axis=1.5"),
        (dict(epsilon=0.0), "Received: epsilon=0.0"),
        (dict(epsilon=-1e-3), "Received: epsilon=-0.001"),
        (dict(momentum=1.0), "Received: momentum=1.0"),
        (dict(momentum=-0.1), "Received: momentum=-0.1"),
        (dict(virtual_batch_size=0), "Received: virtual_batch_size=0"),
    ],
)
def test_bad_arguments_are_named(kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        BatchNormalization(**kwargs)


@pytest.mark.parametrize(
    "axis,shape,message",
    [
        (4, (2, 3, 3, 3), "out of range"),
        (-5, (2, 3, 3, 3), "out of range"),
        (0, (2, 3, 3, 3), "batch axis"),
        ([1, -3], (2, 3, 3, 3), "twice"),
    ],
)
def test_bad_axis_for_the_input_rank(axis, shape, message):
    with pytest.raises(ValueError, match=message):
        BatchNormalization(axis=axis).build(shape)


def test_input_of_too_low_rank():
    with pytest.raises(ValueError, match=r"rank >= 2.*input_shape=\(4,\)"):
        BatchNormalization().build((4,))


def test_undefined_channel_dimension():
    with pytest.raises(ValueError, match=r"channel axis 3.*None"):
        BatchNormalization().build((2, 3, 3, None))


def test_virtual_batch_size_must_divide_the_training_batch():
    layer = BatchNormalization(virtual_batch_size=3)
    with pytest.raises(ValueError, match="virtual_batch_size=3 for a batch of 4"):
        layer(random((4, 2)), training=True)
    # Inference uses the moving statistics: any batch size, as without ghost batches.
    x = random((4, 2))
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(layer(x, training=False)),
        keras.ops.convert_to_numpy(BatchNormalization()(x, training=False)),
        rtol=1e-6,
    )


def test_synchronized_needs_tensorflow():
    if BACKEND == "tensorflow":
        assert BatchNormalization(synchronized=True).synchronized
    else:
        with pytest.raises(ValueError, match="synchronized=True"):
            BatchNormalization(synchronized=True)
