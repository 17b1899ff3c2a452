"""Tests of keras_norms.MeanOnlyBatchNormalization against NumPy references."""

import functools

import keras
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keras_norms import MeanOnlyBatchNormalization, WeightNormalization
from tests.layers.backend_utils import gradients, random_normal, to_numpy

random_inputs = functools.partial(random_normal, loc=3.0, scale=2.0)


def built_layer(shape, axis=-1, **kwargs):
    layer = MeanOnlyBatchNormalization(axis=axis, **kwargs)
    layer.build(shape)
    channels = shape[axis]
    layer.beta.assign(np.linspace(-1.0, 1.0, channels).astype("float32"))
    return layer


@pytest.mark.parametrize("shape, axis", [((16, 5), -1), ((4, 6, 6, 3), -1), ((4, 3, 7), 1)])
def test_training_output_and_moving_mean_match_numpy(shape, axis):
    layer = built_layer(shape, axis=axis, momentum=0.9)
    x = random_inputs(shape)
    axes = tuple(a for a in range(len(shape)) if a != axis % len(shape))
    mean = x.astype(np.float64).mean(axis=axes, keepdims=True)
    beta = np.reshape(to_numpy(layer.beta), mean.shape)
    y = layer(x, training=True)
    np.testing.assert_allclose(to_numpy(y), x - mean + beta, atol=1e-5)
    np.testing.assert_allclose(to_numpy(layer.moving_mean), 0.1 * mean.reshape(-1), rtol=1e-5)
    # Inference subtracts the moving mean instead.
    moving = np.reshape(to_numpy(layer.moving_mean), mean.shape)
    np.testing.assert_allclose(to_numpy(layer(x, training=False)), x - moving + beta, atol=1e-5)


def test_gradients_match_numpy():
    # y = x - mean(x) + beta: dx = dy - mean(dy), dbeta = sum(dy).
    layer = built_layer((12, 4))
    x = random_inputs((12, 4))
    dy = random_inputs((12, 4), seed=1, loc=0.0, scale=1.0)
    dx, (dbeta,) = gradients(layer, x, dy, training=True)
    np.testing.assert_allclose(dx, dy - dy.mean(axis=0), atol=1e-5)
    np.testing.assert_allclose(dbeta, dy.sum(axis=0), rtol=1e-5)


@settings(max_examples=10, deadline=None)
@given(shift=st.floats(min_value=-1e3, max_value=1e3))
def test_training_output_is_invariant_to_shifting_the_input(shift):
    layer = built_layer((8, 3))
    x = random_inputs((8, 3))
    np.testing.assert_allclose(
        to_numpy(layer(x + np.float32(shift), training=True)),
        to_numpy(layer(x, training=True)),
        atol=1e-3,
    )


def test_mask_leaves_positions_out_of_the_mean():
    layer = built_layer((4, 5, 3), momentum=0.0)
    x = random_inputs((4, 5, 3))
    mask = np.arange(5)[None, :] < np.array([5, 3, 2, 1])[:, None]
    garbage = np.where(mask[..., None], x, 1e4).astype("float32")
    layer(garbage, training=True, mask=mask)
    np.testing.assert_allclose(to_numpy(layer.moving_mean), x[mask].mean(axis=0), rtol=1e-5)


def test_mixed_float16_output_is_centred():
    # Output and weight dtypes under each policy: test_conformance.py.
    keras.config.set_dtype_policy("mixed_float16")
    try:
        layer = MeanOnlyBatchNormalization()
        x = random_inputs((32, 4), loc=300.0)
        y = layer(x, training=True)
        np.testing.assert_allclose(to_numpy(y).astype(np.float64).mean(axis=0), 0.0, atol=0.05)
    finally:
        keras.config.set_dtype_policy("float32")


def test_compiled_fit_after_weight_norm_with_unknown_spatial_dimensions():
    # The pairing of the weight normalization paper, as the experiments build
    # it; saving it is test_conformance.py's.
    x = random_inputs((32, 6, 6, 2))
    model = keras.Sequential(
        [
            keras.Input((None, None, 2)),
            WeightNormalization(keras.layers.Conv2D(4, 3, use_bias=False)),
            MeanOnlyBatchNormalization(name="mobn"),
            keras.layers.GlobalAveragePooling2D(),
        ]
    )
    model.compile("adam", "mse", jit_compile=True)
    history = model.fit(x, np.zeros((32, 4)), batch_size=16, epochs=1, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
    assert np.any(to_numpy(model.get_layer("mobn").moving_mean) != 0.0)


def test_without_center_has_no_beta():
    layer = MeanOnlyBatchNormalization(center=False)
    x = random_inputs((8, 3))
    y = to_numpy(layer(x, training=True))
    assert layer.beta is None and len(layer.trainable_weights) == 0
    np.testing.assert_allclose(y, x - x.mean(axis=0), atol=1e-5)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"axis": "last"}, "axis='last'"),
        ({"axis": [1, 2]}, "axis=\\[1, 2\\]"),
        ({"momentum": 1.0}, "momentum=1.0"),
        ({"center": "yes"}, "center='yes'"),
    ],
)
def test_bad_arguments_raise(kwargs, message):
    with pytest.raises(ValueError, match=message):
        MeanOnlyBatchNormalization(**kwargs)


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match="axis=3"):
        MeanOnlyBatchNormalization(axis=3).build((4, 5))
    with pytest.raises(ValueError, match="rank >= 2"):
        MeanOnlyBatchNormalization().build((4,))
    with pytest.raises(ValueError, match="channel"):
        MeanOnlyBatchNormalization().build((4, None))
