"""Code and configs written for tensorflow-addons' layers run on ours.

The configs below are written out by hand the way tensorflow-addons 0.23
serialized its layers with Keras 2: registered as `Addons>...`, the wrapped
layer as a Keras 2 `{"class_name", "config"}` pair with no `module`, and
InstanceNormalization carrying the `groups=-1` of the GroupNormalization it
derived from.
"""

import re

import keras
import numpy as np
import pytest
from keras import ops

import keras_norms
from tests.layers.backend_utils import random_normal, save_and_load, to_numpy

L = keras.layers


def _keras2_initializer(name):
    return {"class_name": name, "config": {"seed": None} if "Glorot" in name else {}}


def _tfa_instance_norm_config(groups=-1):
    return {
        "class_name": "Addons>InstanceNormalization",
        "config": {
            "name": "instance_normalization",
            "trainable": True,
            "dtype": "float32",
            "groups": groups,
            "axis": -1,
            "epsilon": 1e-3,
            "center": True,
            "scale": True,
            "beta_initializer": _keras2_initializer("Zeros"),
            "gamma_initializer": _keras2_initializer("Ones"),
            "beta_regularizer": None,
            "gamma_regularizer": None,
            "beta_constraint": None,
            "gamma_constraint": None,
        },
    }


def _keras2_dense_config(units):
    return {
        "class_name": "Dense",
        "config": {
            "name": "dense",
            "trainable": True,
            "dtype": "float32",
            "units": units,
            "activation": "linear",
            "use_bias": True,
            "kernel_initializer": _keras2_initializer("GlorotUniform"),
            "bias_initializer": _keras2_initializer("Zeros"),
            "kernel_regularizer": None,
            "bias_regularizer": None,
            "activity_regularizer": None,
            "kernel_constraint": None,
            "bias_constraint": None,
        },
    }


def _keras2_conv2d_config(filters):
    return {
        "class_name": "Conv2D",
        "config": {
            "name": "conv2d",
            "trainable": True,
            "dtype": "float32",
            "filters": filters,
            "kernel_size": [3, 3],
            "strides": [1, 1],
            "padding": "same",
            "data_format": "channels_last",
            "dilation_rate": [1, 1],
            "groups": 1,
            "activation": "linear",
            "use_bias": True,
            "kernel_initializer": _keras2_initializer("GlorotUniform"),
            "bias_initializer": _keras2_initializer("Zeros"),
            "kernel_regularizer": None,
            "bias_regularizer": None,
            "activity_regularizer": None,
            "kernel_constraint": None,
            "bias_constraint": None,
        },
    }


def _tfa_weight_norm_config(layer_config, data_init=True):
    return {
        "class_name": "Addons>WeightNormalization",
        "config": {
            "name": "weight_normalization",
            "trainable": True,
            "dtype": "float32",
            "layer": layer_config,
            "data_init": data_init,
        },
    }


# --- InstanceNormalization ------------------------------------------------------


def test_tfa_instance_norm_config_loads_and_normalizes():
    layer = keras.layers.deserialize(_tfa_instance_norm_config())
    assert isinstance(layer, keras_norms.InstanceNormalization)
    x = random_normal((2, 5, 5, 3), loc=2.0, scale=3.0)
    y = to_numpy(layer(x)).astype(np.float64)
    mean = x.mean(axis=(1, 2), keepdims=True)
    var = x.var(axis=(1, 2), keepdims=True)
    np.testing.assert_allclose(y, (x - mean) / np.sqrt(var + 1e-3), atol=1e-4)
    # Saved again, the config is ours: no `groups`.
    assert "groups" not in layer.get_config()


@pytest.mark.parametrize("groups", [0, -2, 1.5, True, "4"])
def test_tfa_instance_norm_groups_neither_minus_one_nor_a_count_raise(groups):
    with pytest.raises(ValueError, match=f"only be -1.*groups={groups!r}"):
        keras_norms.InstanceNormalization(groups=groups)
    # Keras re-raises errors of from_config as a TypeError, message kept.
    with pytest.raises(TypeError, match=f"only be -1.*groups={groups!r}"):
        keras.layers.deserialize(_tfa_instance_norm_config(groups))


@pytest.mark.parametrize("groups", [1, 2, 4])
def test_tfa_instance_norm_groups_other_than_the_channels_raise_when_built(groups):
    layer = keras.layers.deserialize(_tfa_instance_norm_config(groups))
    with pytest.raises(ValueError, match=f"its 3 channels.*-1 or 3.*groups={groups}"):
        layer.build((2, 5, 5, 3))


def test_tfa_instance_norm_config_of_a_built_layer_loads():
    # Once built, tfa's layer had replaced groups=-1 by the channel count,
    # and saved that.
    layer = keras.layers.deserialize(_tfa_instance_norm_config(groups=3))
    x = random_normal((2, 5, 5, 3), loc=2.0, scale=3.0)
    y = to_numpy(layer(x)).astype(np.float64)
    mean = x.mean(axis=(1, 2), keepdims=True)
    var = x.var(axis=(1, 2), keepdims=True)
    np.testing.assert_allclose(y, (x - mean) / np.sqrt(var + 1e-3), atol=1e-4)


@pytest.mark.parametrize("groups", [-1, 3])
def test_groups_attribute_is_tfas_value_and_read_only(groups):
    layer = keras_norms.InstanceNormalization(groups=groups)
    assert layer.groups == groups
    layer.build((2, 5, 5, 3))
    # tfa's GroupNormalization set `groups` to the channel count in build.
    assert layer.groups == 3
    with pytest.raises(AttributeError):
        layer.groups = 1
    assert keras_norms.InstanceNormalization(axis=1).groups == -1


def test_batch_axis_refused_at_construction():
    with pytest.raises(ValueError) as info:
        keras_norms.InstanceNormalization(axis=0)
    message = str(info.value)
    assert "`axis`" in message and "axis=0" in message
    assert "\n" not in message


def test_tfa_style_instance_norm_code_runs():
    # As in tfa's examples: keyword arguments of GroupNormalization's heritage.
    layer = keras_norms.InstanceNormalization(
        axis=3,
        center=True,
        scale=True,
        beta_initializer="random_uniform",
        gamma_initializer="random_uniform",
        groups=-1,
    )
    model = keras.Sequential(
        [keras.Input((6, 6, 2)), L.Conv2D(4, 3), layer, L.Flatten(), L.Dense(1)]
    )
    model.compile("adam", "mse")
    x = random_normal((4, 6, 6, 2))
    losses = model.fit(x, np.zeros((4, 1)), epochs=2, verbose=0).history["loss"]
    assert np.all(np.isfinite(losses))
    assert layer.groups == 4  # one group per channel, as tensorflow-addons reports it
    # It trained as instance norm: each sample's channels standardized over
    # height and width, then scaled and shifted.
    features = to_numpy(model.layers[0](x))
    mean = features.mean(axis=(1, 2), keepdims=True)
    variance = features.var(axis=(1, 2), keepdims=True)
    expected = (features - mean) / np.sqrt(variance + layer.epsilon) * to_numpy(
        layer.gamma
    ) + to_numpy(layer.beta)
    np.testing.assert_allclose(to_numpy(layer(features)), expected, rtol=1e-4, atol=1e-4)


# --- WeightNormalization --------------------------------------------------------


@pytest.mark.parametrize(
    "layer_config, shape",
    [(_keras2_dense_config(3), (8, 5)), (_keras2_conv2d_config(4), (8, 6, 6, 2))],
    ids=["Dense", "Conv2D"],
)
def test_tfa_weight_norm_config_loads_and_initializes(layer_config, shape):
    wrapper = keras.layers.deserialize(_tfa_weight_norm_config(layer_config))
    assert isinstance(wrapper, keras_norms.WeightNormalization)
    assert wrapper.data_init and not wrapper.is_rnn
    y = to_numpy(wrapper(random_normal(shape, scale=2.0), training=True))
    units = y.reshape(-1, y.shape[-1]).astype(np.float64)
    np.testing.assert_allclose(units.mean(axis=0), 0.0, atol=1e-4)
    np.testing.assert_allclose(units.std(axis=0), 1.0, rtol=1e-3)


def test_tfa_weight_norm_config_without_data_init_keeps_outputs():
    wrapper = keras.layers.deserialize(
        _tfa_weight_norm_config(_keras2_dense_config(3), data_init=False)
    )
    x = random_normal((8, 5))
    y = to_numpy(wrapper(x, training=True))
    kernel, bias = (to_numpy(w) for w in wrapper.layer.weights)
    np.testing.assert_allclose(y, x @ kernel + bias, rtol=1e-5, atol=1e-5)


def test_tfa_style_weight_norm_code_runs_and_removes(tmp_path):
    # tfa's README example, unchanged apart from the import.
    model = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras_norms.WeightNormalization(L.Conv2D(2, 2, activation="relu"), data_init=True),
            L.Flatten(),
            keras_norms.WeightNormalization(L.Dense(3), data_init=True),
        ]
    )
    model.compile("adam", "mse")
    x = random_normal((4, 8, 8, 1))
    model.fit(x, np.zeros((4, 3)), verbose=0)
    dense = model.layers[-1]
    plain = dense.remove()
    assert type(plain) is L.Dense
    features = model.layers[1](model.layers[0](x))
    np.testing.assert_allclose(
        to_numpy(plain(features)), to_numpy(dense(features)), rtol=1e-5, atol=1e-5
    )
    loaded = save_and_load(model, tmp_path)
    np.testing.assert_allclose(to_numpy(loaded(x)), to_numpy(model(x)), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    "layer, expected",
    [(L.LSTM(3), True), (L.GRU(3), True), (L.Dense(3), False), (L.Conv1D(3, 2), False)],
)
def test_is_rnn_as_tfa_exposed_it(layer, expected):
    assert keras_norms.WeightNormalization(layer).is_rnn is expected


# --- any layer with a kernel ----------------------------------------------------


def _norm_over(kernel, unit_axes):
    axes = tuple(a for a in range(kernel.ndim) if a not in unit_axes)
    return np.sqrt((kernel.astype(np.float64) ** 2).sum(axis=axes))


@pytest.mark.parametrize(
    "equation, output_shape, bias_axes, input_shape, unit_axes",
    [
        ("ab,bc->ac", 4, "c", (8, 3), (1,)),
        ("abc,cde->abde", (5, 3, 4), "de", (8, 5, 6), (1, 2)),
        ("abc,cd->abd", (5, 4), None, (8, 5, 6), (1,)),
    ],
)
def test_einsum_dense_axes_inferred_and_initialized(
    equation, output_shape, bias_axes, input_shape, unit_axes
):
    layer = L.EinsumDense(equation, output_shape=output_shape, bias_axes=bias_axes)
    wrapper = keras_norms.WeightNormalization(layer, data_init=False)
    x = random_normal(input_shape, scale=2.0)
    wrapper.build(input_shape)
    v = to_numpy(wrapper.v)
    np.testing.assert_allclose(to_numpy(wrapper.g), _norm_over(v, unit_axes), rtol=1e-5)
    # Wrapping changes nothing before training: g starts at ||v||.
    np.testing.assert_allclose(to_numpy(wrapper(x)), to_numpy(layer(x)), rtol=1e-4, atol=1e-5)

    initialized = keras_norms.WeightNormalization(
        L.EinsumDense(equation, output_shape=output_shape, bias_axes=bias_axes)
    )
    y = to_numpy(initialized(x, training=True)).astype(np.float64)
    units = y.reshape(-1, int(np.prod(initialized.g.shape)))
    np.testing.assert_allclose(units.std(axis=0), 1.0, rtol=1e-3)
    # Zero mean where there is a bias per unit to shift.
    if bias_axes is not None:
        np.testing.assert_allclose(units.mean(axis=0), 0.0, atol=1e-4)


@keras.saving.register_keras_serializable(package="tests")
class TransposedProjection(keras.layers.Layer):
    """A user's own layer: kernel stored as (units, inputs), a bias, an activation."""

    def __init__(self, units, activation=None, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.activation = keras.activations.get(activation)

    def build(self, input_shape):
        self.kernel = self.add_weight(
            shape=(self.units, input_shape[-1]), initializer="glorot_uniform"
        )
        self.bias = self.add_weight(shape=(self.units,), initializer="zeros")

    def call(self, inputs):
        return self.activation(ops.matmul(inputs, ops.transpose(self.kernel)) + self.bias)

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "activation": keras.activations.serialize(self.activation),
        }


def test_user_layer_needs_output_axes():
    with pytest.raises(ValueError, match=r"TransposedProjection\).*pass `output_axes`"):
        keras_norms.WeightNormalization(TransposedProjection(3))


def test_user_layer_wrapped_with_output_axes(tmp_path):
    wrapper = keras_norms.WeightNormalization(
        TransposedProjection(3, activation="relu"), output_axes=0
    )
    x = random_normal((16, 5), scale=2.0)
    wrapper.build(x.shape)
    v = to_numpy(wrapper.v)
    np.testing.assert_allclose(to_numpy(wrapper.g), _norm_over(v, (0,)), rtol=1e-5)

    # The init measures the pre-activation, before the relu: zero mean, unit
    # variance per unit on the batch, so relu keeps about half of it.
    wrapper(x, training=True)
    g = to_numpy(wrapper.g) + to_numpy(wrapper.g_offset)
    bias = to_numpy(wrapper.layer.bias) + to_numpy(wrapper.bias_offset)
    w = v * (g / _norm_over(v, (0,)))[:, None]
    z = x.astype(np.float64) @ w.T + bias
    np.testing.assert_allclose(z.mean(axis=0), 0.0, atol=1e-4)
    np.testing.assert_allclose(z.std(axis=0), 1.0, rtol=1e-3)
    np.testing.assert_allclose(to_numpy(wrapper(x)), np.maximum(z, 0.0), rtol=1e-4, atol=1e-5)

    model = keras.Sequential([keras.Input((5,)), wrapper])
    loaded = save_and_load(model, tmp_path)
    assert loaded.layers[0].output_axes == (0,)
    np.testing.assert_allclose(to_numpy(loaded(x)), to_numpy(model(x)), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "output_axes, message",
    [("last", "output_axes='last'"), ((), r"output_axes=\(\)"), (1.0, "output_axes=1.0")],
)
def test_bad_output_axes_raise(output_axes, message):
    with pytest.raises(ValueError, match=message):
        keras_norms.WeightNormalization(L.Dense(2), output_axes=output_axes)


@pytest.mark.parametrize("output_axes", [2, (0, 1), (1, -1)])
def test_output_axes_outside_kernel_raise(output_axes):
    wrapper = keras_norms.WeightNormalization(L.Dense(2), output_axes=output_axes)
    with pytest.raises(ValueError, match="output_axes="):
        wrapper.build((4, 3))


def test_user_layer_without_kernel_raises_when_built():
    class NoKernel(keras.layers.Layer):
        def build(self, input_shape):
            self.w = self.add_weight(shape=(input_shape[-1],))

        def call(self, inputs):
            return inputs * self.w

    # Its constructor cannot tell; once built it can.
    layer = NoKernel(name="nokernel")
    layer.build((2, 3))
    with pytest.raises(ValueError, match="'nokernel' \\(NoKernel\\).*has no kernel"):
        keras_norms.WeightNormalization(layer, output_axes=-1)


# tensorflow-addons' message for a layer without a kernel, kept in ours.
TFA_NO_KERNEL = "`WeightNormalization` must wrap a layer that contains a `kernel` for weights"


@pytest.mark.parametrize("built", [False, True], ids=["unbuilt", "built"])
def test_layer_without_kernel_error_keeps_tfas_words(built):
    layer = L.ReLU(name="relu")
    if built:
        layer.build((2, 3))
    with pytest.raises(ValueError) as info:
        keras_norms.WeightNormalization(layer)
    assert TFA_NO_KERNEL in str(info.value)
    assert "'relu' (ReLU)" in str(info.value)


def test_user_layer_without_kernel_keeps_tfas_words_when_built():
    class NoKernel(keras.layers.Layer):
        def build(self, input_shape):
            self.w = self.add_weight(shape=(input_shape[-1],))

        def call(self, inputs):
            return inputs * self.w

    wrapper = keras_norms.WeightNormalization(NoKernel(), output_axes=-1)
    with pytest.raises(ValueError, match=re.escape(TFA_NO_KERNEL)):
        wrapper.build((2, 3))


def test_tfa_trained_weights_transfer_as_the_migration_guide_says():
    # A tfa wrapper around Dense kept g, kernel v, bias and initialized.
    rng = np.random.RandomState(0)
    v = rng.normal(size=(5, 3)).astype("float32")
    bias = rng.normal(size=(3,)).astype("float32")
    g = rng.uniform(0.5, 2.0, size=(3,)).astype("float32")

    wrapper = keras_norms.WeightNormalization(L.Dense(3))
    wrapper.build((None, 5))
    wrapper.layer.set_weights([v, bias])
    wrapper.g.assign(g)
    wrapper.initialized.assign(True)

    x = random_normal((8, 5))
    y = to_numpy(wrapper(x, training=True))  # no second initialization
    w = v * g / np.linalg.norm(v.astype(np.float64), axis=0)
    np.testing.assert_allclose(y, x @ w + bias, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(to_numpy(wrapper.g_offset), 0.0)


def _keras2_lstm_config(time_major):
    return {
        "class_name": "LSTM",
        "config": {"name": "lstm", "units": 3, "return_sequences": False, "time_major": time_major},
    }


def test_tfa_weight_norm_config_around_keras2_lstm_loads():
    wrapper = keras.layers.deserialize(
        _tfa_weight_norm_config(_keras2_lstm_config(False), data_init=False)
    )
    assert isinstance(wrapper.layer, L.LSTM) and wrapper.is_rnn
    assert wrapper(random_normal((2, 4, 5))).shape == (2, 3)


def test_tfa_weight_norm_config_around_time_major_lstm_raises():
    # A wrapper's from_config error reaches the caller as it is.
    with pytest.raises(ValueError, match="time-major.*time_major=True"):
        keras.layers.deserialize(
            _tfa_weight_norm_config(_keras2_lstm_config(True), data_init=False)
        )
