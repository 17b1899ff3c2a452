"""Keras 2 `.h5` model files holding tensorflow-addons' layers load as ours.

`tests/fixtures/tensorflow_addons_*.h5` were written by tensorflow-addons
0.23 with tf-keras (`tests/fixtures/make_tensorflow_addons_h5.py`), after a
training step, with the outputs tensorflow-addons computed for a batch in
`tensorflow_addons_outputs.npz`. The loaded models must compute the formulas
on the file's weights, and what tensorflow-addons computed.
"""

import json
import os
import warnings

import h5py
import keras
import numpy as np
import pytest

import keras_norms
from tests.layers.backend_utils import save_and_load, to_numpy

FIXTURES = os.path.join(os.path.dirname(os.path.dirname(__file__)), "fixtures")
FUNCTIONAL = os.path.join(FIXTURES, "tensorflow_addons_functional.h5")
SEQUENTIAL = os.path.join(FIXTURES, "tensorflow_addons_sequential.h5")
OUTPUTS = np.load(os.path.join(FIXTURES, "tensorflow_addons_outputs.npz"))


def saved_weights(path, layer):
    """`{short name: value}` of a layer's weights in a Keras 2 `.h5` file."""
    with h5py.File(path, "r") as f:
        group = f["model_weights"][layer]
        return {
            name.split("/")[-1].split(":")[0]: np.asarray(group[name], np.float64)
            for name in (
                n.decode() if isinstance(n, bytes) else n for n in group.attrs["weight_names"]
            )
            if "/data_dep_init/" not in name
        }


def load(path):
    with warnings.catch_warnings():
        # tf-keras 2.21 saved the loss as a string Keras 3 cannot read back.
        warnings.filterwarnings("ignore", "The model in .* uncompiled")
        return keras_norms.load_tensorflow_addons_model(path)


def weight_norm(v, g, axes):
    return v * g / np.sqrt((v**2).sum(axis=axes, keepdims=True))


def test_functional_file_computes_the_formulas_on_its_weights():
    model = load(FUNCTIONAL)
    kinds = [type(layer) for layer in model.layers[1:]]
    assert kinds == [
        keras_norms.InstanceNormalization,
        keras_norms.FilterResponseNormalization,
        keras.layers.Flatten,
        keras_norms.WeightNormalization,
        keras_norms.WeightNormalization,
    ]
    x = OUTPUTS["functional_x"]
    y = to_numpy(model(x))

    ref = x.astype(np.float64)
    w = saved_weights(FUNCTIONAL, "instance_normalization")
    mean = ref.mean(axis=(1, 2), keepdims=True)
    var = ref.var(axis=(1, 2), keepdims=True)
    ref = w["gamma"] * (ref - mean) / np.sqrt(var + 1e-3) + w["beta"]
    w = saved_weights(FUNCTIONAL, "filter_response_normalization")
    eps = 1e-6 + abs(w["learned_epsilon"][0])
    nu2 = (ref**2).mean(axis=(1, 2), keepdims=True)
    ref = w["gamma"] * ref / np.sqrt(nu2 + eps) + w["beta"]
    ref = ref.reshape(len(ref), -1)
    for name in ("weight_normalization", "weight_normalization_1"):
        w = saved_weights(FUNCTIONAL, name)
        assert w["initialized"] == 1.0
        ref = ref @ weight_norm(w["kernel"], w["g"], (0,)) + w["bias"]

    np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(y, OUTPUTS["functional_y"], rtol=1e-5, atol=1e-5)


def test_weights_land_where_ours_keep_them():
    model = load(FUNCTIONAL)
    frn = model.get_layer("filter_response_normalization")
    saved = saved_weights(FUNCTIONAL, "filter_response_normalization")
    # (1, 1, 1, channels) in the file, (channels,) here.
    np.testing.assert_allclose(to_numpy(frn.gamma), saved["gamma"].ravel(), rtol=1e-7)
    np.testing.assert_allclose(to_numpy(frn.eps_learned), saved["learned_epsilon"])

    wrapper = model.get_layer("weight_normalization")
    saved = saved_weights(FUNCTIONAL, "weight_normalization")
    np.testing.assert_allclose(to_numpy(wrapper.g), saved["g"], rtol=1e-7)
    np.testing.assert_allclose(to_numpy(wrapper.v), saved["kernel"], rtol=1e-7)
    np.testing.assert_allclose(to_numpy(wrapper.layer.bias), saved["bias"], rtol=1e-7)
    assert bool(to_numpy(wrapper.initialized))
    np.testing.assert_array_equal(to_numpy(wrapper.g_offset), 0.0)
    np.testing.assert_array_equal(to_numpy(wrapper.bias_offset), 0.0)

    # Initialized in the file, so training does not initialize it again.
    x = OUTPUTS["functional_x"]
    before = to_numpy(model(x))
    after = to_numpy(model(x, training=True))
    np.testing.assert_allclose(after, before, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(to_numpy(wrapper.g_offset), 0.0)


def test_sequential_file_with_conv_and_lstm_computes_what_tfa_did():
    model = load(SEQUENTIAL)
    assert isinstance(model, keras.Sequential)
    conv, _, lstm, _ = model.layers
    assert isinstance(conv.layer, keras.layers.Conv2D)
    assert isinstance(lstm.layer, keras.layers.LSTM) and lstm.is_rnn
    x = OUTPUTS["sequential_x"]
    np.testing.assert_allclose(to_numpy(model(x)), OUTPUTS["sequential_y"], rtol=1e-5, atol=1e-5)
    # tfa's g scaled the recurrent kernel; the input kernel keeps its norm.
    saved = saved_weights(SEQUENTIAL, lstm.name)
    np.testing.assert_allclose(to_numpy(lstm.recurrent_g), saved["g"], rtol=1e-7)
    np.testing.assert_allclose(
        to_numpy(lstm.g),
        np.sqrt((saved["kernel"] ** 2).sum(axis=0)),
        rtol=1e-5,
    )


def test_loaded_model_saves_as_ours(tmp_path):
    model = load(FUNCTIONAL)
    config = json.dumps(model.get_config())
    assert "Addons>" not in config and "groups" not in config
    loaded = save_and_load(model, tmp_path)
    x = OUTPUTS["functional_x"]
    np.testing.assert_allclose(to_numpy(loaded(x)), to_numpy(model(x)), rtol=1e-6, atol=1e-6)


def test_unreadable_training_config_warns_and_loads_uncompiled():
    with pytest.warns(UserWarning, match="uncompiled.*Compile it yourself"):
        model = keras_norms.load_tensorflow_addons_model(FUNCTIONAL)
    assert not model.compiled
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        keras_norms.load_tensorflow_addons_model(FUNCTIONAL, compile=False)


def test_keras_own_loader_reads_weight_norm_files_not():
    # Keras assigns saved weights by count and position: tfa's wrapper saved
    # 4 (6 with its init's copy), ours holds 6 others; tfa's FRN saved
    # (1, 1, 1, C) weights. Hence the helper.
    with pytest.raises(ValueError, match="mismatch"):
        keras.saving.load_model(FUNCTIONAL, compile=False)


def _keras2_instance_norm_h5(path, gamma, beta, chunked=False):
    """A Keras 2 `.h5` file as tf-keras wrote it: Input -> tfa InstanceNorm."""
    channels = len(gamma)
    config = {
        "class_name": "Sequential",
        "config": {
            "name": "sequential",
            "layers": [
                {
                    "class_name": "InputLayer",
                    "config": {
                        "batch_input_shape": [None, 4, 4, channels],
                        "dtype": "float32",
                        "sparse": False,
                        "ragged": False,
                        "name": "input_1",
                    },
                },
                {
                    "class_name": "Addons>InstanceNormalization",
                    "config": {
                        "name": "instance_normalization",
                        "trainable": True,
                        "dtype": "float32",
                        "groups": channels,
                        "axis": -1,
                        "epsilon": 1e-3,
                        "center": True,
                        "scale": True,
                        "beta_initializer": {"class_name": "Zeros", "config": {}},
                        "gamma_initializer": {"class_name": "Ones", "config": {}},
                        "beta_regularizer": None,
                        "gamma_regularizer": None,
                        "beta_constraint": None,
                        "gamma_constraint": None,
                    },
                },
            ],
        },
    }
    with h5py.File(path, "w") as f:
        f.attrs["keras_version"] = "2.15.0"
        f.attrs["backend"] = "tensorflow"
        f.attrs["model_config"] = json.dumps(config)
        weights = f.create_group("model_weights")
        weights.attrs["keras_version"] = "2.15.0"
        weights.attrs["backend"] = "tensorflow"
        weights.attrs["layer_names"] = [b"instance_normalization"]
        layer = weights.create_group("instance_normalization")
        names = [b"instance_normalization/gamma:0", b"instance_normalization/beta:0"]
        if chunked:
            # As Keras 2 split lists too long for one HDF5 attribute.
            layer.attrs["weight_names0"] = names[:1]
            layer.attrs["weight_names1"] = names[1:]
        else:
            layer.attrs["weight_names"] = names
        for name, value in zip(names, (gamma, beta)):
            layer.create_dataset(name.decode(), data=value)


@pytest.mark.parametrize("chunked", [False, True], ids=["one", "chunked"])
def test_keras_own_loader_reads_instance_norm_files(tmp_path, chunked):
    # InstanceNormalization's weights are tfa's, in tfa's order: Keras's
    # loader needs no help once `import keras_norms` registered the name.
    path = str(tmp_path / "instance.h5")
    gamma = np.array([0.5, 2.0, 1.5], "float32")
    beta = np.array([0.1, -1.0, 0.3], "float32")
    _keras2_instance_norm_h5(path, gamma, beta, chunked)
    for model in (
        keras.saving.load_model(path, compile=False),
        keras_norms.load_tensorflow_addons_model(path),
    ):
        layer = model.layers[-1]
        assert isinstance(layer, keras_norms.InstanceNormalization)
        assert layer.groups == 3
        x = np.random.RandomState(0).normal(2.0, 3.0, (2, 4, 4, 3)).astype("float32")
        xd = x.astype(np.float64)
        mean = xd.mean(axis=(1, 2), keepdims=True)
        var = xd.var(axis=(1, 2), keepdims=True)
        np.testing.assert_allclose(
            to_numpy(model(x)),
            gamma * (xd - mean) / np.sqrt(var + 1e-3) + beta,
            rtol=1e-5,
            atol=1e-5,
        )


def test_not_a_model_file_raises(tmp_path):
    path = str(tmp_path / "weights.h5")
    with h5py.File(path, "w") as f:
        f.create_group("model_weights")
    with pytest.raises(ValueError, match="No model config.*filepath="):
        keras_norms.load_tensorflow_addons_model(path)


def _nested_model_file(path, inner_layer, shape, names, values):
    """A Keras 2 style weights group for a model nesting `inner_layer`."""
    inner = keras.Sequential([keras.Input(shape), inner_layer], name="inner")
    model = keras.Sequential([keras.Input(shape), inner])
    with h5py.File(path, "w") as f:
        group = f.create_group("model_weights")
        group.attrs["layer_names"] = [b"inner"]
        layer = group.create_group("inner")
        layer.attrs["weight_names"] = [n.encode() for n in names]
        for name, value in zip(names, values):
            layer.create_dataset(name, data=value)
    return model


def test_nested_models_load_by_position_and_refuse_what_does_not_fit(tmp_path):
    from keras_norms._tensorflow_addons import _load_weights

    path = str(tmp_path / "nested.h5")
    gamma, beta = np.full(3, 2.0, "float32"), np.full(3, 0.5, "float32")
    model = _nested_model_file(
        path,
        keras_norms.InstanceNormalization(),
        (4, 4, 3),
        ["inner/instance_normalization/gamma:0", "inner/instance_normalization/beta:0"],
        [gamma, beta],
    )
    with h5py.File(path, "r") as f:
        _load_weights(f["model_weights"], model, path)
    layer = model.layers[0].layers[0]
    np.testing.assert_array_equal(to_numpy(layer.gamma), gamma)
    np.testing.assert_array_equal(to_numpy(layer.beta), beta)

    # FRN's weights come in tfa's order too, reshaped.
    model = _nested_model_file(
        path,
        keras_norms.FilterResponseNormalization(learned_epsilon=True),
        (4, 4, 3),
        ["learned_epsilon:0", "inner/frn/gamma:0", "inner/frn/beta:0"],
        [np.full(1, 0.25, "float32"), gamma.reshape(1, 1, 1, 3), beta.reshape(1, 1, 1, 3)],
    )
    with h5py.File(path, "r") as f:
        _load_weights(f["model_weights"], model, path)
    layer = model.layers[0].layers[0]
    np.testing.assert_array_equal(to_numpy(layer.gamma), gamma)
    np.testing.assert_array_equal(to_numpy(layer.eps_learned), [0.25])

    # Weight norm's do not: tfa's 4 weights, our 6.
    model = _nested_model_file(
        path,
        keras_norms.WeightNormalization(keras.layers.Dense(2)),
        (3,),
        ["inner/wn/g:0", "inner/wn/kernel:0", "inner/wn/bias:0", "inner/wn/initialized:0"],
        [np.ones(2, "float32"), np.ones((3, 2), "float32"), np.zeros(2, "float32"), np.array(True)],
    )
    with h5py.File(path, "r") as f:
        with pytest.raises(ValueError, match="nested model 'inner'.*top level"):
            _load_weights(f["model_weights"], model, path)
