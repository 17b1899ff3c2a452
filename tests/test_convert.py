"""keras_norms.convert on Sequential, Functional and nested models."""

import keras
import numpy as np
import pytest

import keras_norms
from keras_norms.convert import NORMS
from tests.layers.backend_utils import random_normal, save_and_load, to_numpy

L = keras.layers

# The class each norm puts in place of a normalization (None: removed).
REPLACEMENT = {
    "none": None,
    "batch": keras_norms.BatchNormalization,
    "instance": keras_norms.InstanceNormalization,
    "weight": None,
    "weight_meanbn": keras_norms.MeanOnlyBatchNormalization,
    "layer": L.LayerNormalization,
    "group": L.GroupNormalization,
    "frn": keras_norms.FilterResponseNormalization,
}
SHAPE = (8, 8, 3)


def sequential():
    return keras.Sequential(
        [
            keras.Input(SHAPE),
            L.Conv2D(4, 3, padding="same", name="stem"),
            L.Conv2D(6, 3, padding="same", name="conv"),
            L.BatchNormalization(name="norm"),
            L.ReLU(),
            L.GlobalAveragePooling2D(),
            L.Dense(5, name="head"),
        ],
        name="sequential_model",
    )


def functional():
    inputs = keras.Input(SHAPE)
    stem = L.Conv2D(4, 3, padding="same", name="stem")(inputs)
    x = L.Conv2D(4, 3, padding="same", name="conv")(stem)
    x = L.GroupNormalization(groups=2, name="norm")(x)
    x = L.Add()([L.ReLU()(x), stem])
    x = L.GlobalAveragePooling2D()(x)
    outputs = L.Dense(5, name="head")(x)
    return keras.Model(inputs, outputs, name="functional_model")


def nested():
    block = keras.Sequential(
        [
            keras.Input((8, 8, 4)),
            L.Conv2D(6, 3, padding="same", name="inner_conv"),
            keras_norms.InstanceNormalization(name="inner_norm"),
            L.ReLU(),
        ],
        name="block",
    )
    inputs = keras.Input(SHAPE)
    stem = L.Conv2D(4, 3, padding="same", name="stem")(inputs)
    x = block(stem)
    x = L.Conv2D(6, 3, padding="same", name="conv")(x)
    x = L.LayerNormalization(name="norm")(x)
    x = L.GlobalAveragePooling2D()(x)
    outputs = L.Dense(5, name="head")(x)
    return keras.Model(inputs, outputs, name="nested_model")


MODELS = {"sequential": sequential, "functional": functional, "nested": nested}


def _layer(model, name):
    """The layer named `name` in `model` or a model nested in it."""
    for layer in model.layers:
        if layer.name == name:
            return layer
        if isinstance(layer, keras.Model):
            found = _layer(layer, name)
            if found is not None:
                return found
    return None


def _assert_same_weights(old, new):
    for a, b in zip(old.weights, new.weights, strict=True):
        np.testing.assert_array_equal(to_numpy(a), to_numpy(b))


@pytest.mark.parametrize("kind", MODELS)
@pytest.mark.parametrize("norm", NORMS)
def test_convert_replaces_norms_and_keeps_the_rest(kind, norm, tmp_path):
    model = MODELS[kind]()
    x = random_normal((8,) + SHAPE, scale=2.0)
    converted = keras_norms.convert(model, norm)
    assert type(converted) is type(model)
    assert converted is not model

    # Untouched layers: same weights, same outputs.
    for name in ("stem", "head"):
        _assert_same_weights(_layer(model, name), _layer(converted, name))
    np.testing.assert_array_equal(
        to_numpy(_layer(converted, "stem")(x)), to_numpy(_layer(model, "stem")(x))
    )

    norm_names = ["norm"] + (["inner_norm"] if kind == "nested" else [])
    conv_names = {"norm": "conv", "inner_norm": "inner_conv"}
    for name in norm_names:
        new = _layer(converted, name)
        expected = REPLACEMENT[norm]
        if expected is None:
            assert new is None
        else:
            assert type(new) is expected
        conv = conv_names[name]
        if norm in ("weight", "weight_meanbn"):
            wrapper = _layer(converted, f"weight_normalization_{conv}")
            assert isinstance(wrapper, keras_norms.WeightNormalization)
            # The kernel is kept as v, g = ||v||: the same function before
            # training.
            _assert_same_weights(_layer(model, conv), wrapper.layer)
            features = random_normal(
                (2,) + tuple(wrapper.layer.get_build_config()["input_shape"][1:])
            )
            np.testing.assert_allclose(
                to_numpy(wrapper(features)),
                to_numpy(_layer(model, conv)(features)),
                rtol=1e-5,
                atol=1e-5,
            )
        else:
            _assert_same_weights(_layer(model, conv), _layer(converted, conv))

    # A training step runs and moves the weights.
    converted.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    before = [to_numpy(w).copy() for w in converted.trainable_weights]
    history = converted.fit(x, np.ones((8, 5)), batch_size=8, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    after = [to_numpy(w) for w in converted.trainable_weights]
    assert any(not np.array_equal(a, b) for a, b in zip(before, after))

    loaded = save_and_load(converted, tmp_path)
    np.testing.assert_allclose(to_numpy(loaded(x)), to_numpy(converted(x)), rtol=1e-5, atol=1e-5)


def test_weight_norm_wraps_every_kernel_layer_of_a_model_without_norms():
    model = keras.Sequential(
        [keras.Input((6,)), L.Dense(4, name="a"), L.Dropout(0.1), L.Dense(2, name="b")]
    )
    converted = keras_norms.convert(model, "weight", data_init=False)
    wrappers = [
        layer for layer in converted.layers if isinstance(layer, keras_norms.WeightNormalization)
    ]
    assert [w.layer.name for w in wrappers] == ["a", "b"]
    assert all(not w.data_init for w in wrappers)
    x = random_normal((3, 6))
    np.testing.assert_allclose(to_numpy(converted(x)), to_numpy(model(x)), rtol=1e-5, atol=1e-5)


def _sequential_with_weight_norm():
    return keras.Sequential(
        [
            keras.Input((6,)),
            keras_norms.WeightNormalization(L.Dense(4, name="a")),
            L.BatchNormalization(name="bn"),
            L.Dense(2),
        ]
    )


def _functional_with_weight_norm():
    inputs = keras.Input((6,))
    x = keras_norms.WeightNormalization(L.Dense(4, name="a"))(inputs)
    outputs = L.Dense(2)(L.BatchNormalization(name="bn")(x))
    return keras.Model(inputs, outputs)


@pytest.mark.parametrize("build", [_sequential_with_weight_norm, _functional_with_weight_norm])
def test_existing_weight_norm_is_folded_by_other_norms(build):
    model = build()
    x = random_normal((16, 6))
    model(x, training=True)  # data init changes g and the bias
    wrapper = next(
        layer for layer in model.layers if isinstance(layer, keras_norms.WeightNormalization)
    )
    converted = keras_norms.convert(model, "layer")
    folded = converted.get_layer("a")
    assert type(folded) is L.Dense
    np.testing.assert_allclose(to_numpy(folded(x)), to_numpy(wrapper(x)), rtol=1e-5, atol=1e-5)
    converted.compile("sgd", "mse")
    converted.fit(x, np.zeros((16, 2)), verbose=0)
    # ... and kept, with its state, by weight norm.
    kept = keras_norms.convert(model, "weight")
    _assert_same_weights(wrapper, kept.get_layer(wrapper.name))


def test_options_reach_the_new_layers():
    model = sequential()
    batch = keras_norms.convert(model, "batch", momentum=0.9, epsilon=1e-5)
    assert batch.get_layer("norm").momentum == 0.9
    assert batch.get_layer("norm").epsilon == 1e-5
    group = keras_norms.convert(model, "group", groups=3)
    assert group.get_layer("norm").groups == 3
    assert keras_norms.convert(model, "group").get_layer("norm").groups == 6
    meanbn = keras_norms.convert(model, "weight_meanbn", data_init=False)
    assert not meanbn.get_layer("weight_normalization_conv").data_init


@pytest.mark.parametrize(
    "source",
    [
        lambda: L.BatchNormalization(momentum=0.9, epsilon=1e-5, name="norm"),
        lambda: keras_norms.BatchNormalization(momentum=0.9, epsilon=1e-5, name="norm"),
    ],
    ids=["keras", "keras_norms"],
)
def test_batch_to_batch_keeps_momentum_and_epsilon(source):
    model = keras.Sequential([keras.Input(SHAPE), L.Conv2D(4, 3, name="conv"), source(), L.ReLU()])
    layer = keras_norms.convert(model, "batch").get_layer("norm")
    assert (layer.momentum, layer.epsilon) == (0.9, 1e-5)
    # Given options win, one at a time.
    layer = keras_norms.convert(model, "batch", momentum=0.5).get_layer("norm")
    assert (layer.momentum, layer.epsilon) == (0.5, 1e-5)
    layer = keras_norms.convert(model, "batch", epsilon=1e-2).get_layer("norm")
    assert (layer.momentum, layer.epsilon) == (0.9, 1e-2)


def test_other_norms_to_batch_take_batch_defaults():
    # A group norm's epsilon is no batch norm's; nor does batch norm's
    # momentum pass to other norms.
    layer = keras_norms.convert(functional(), "batch").get_layer("norm")
    assert (layer.momentum, layer.epsilon) == (0.99, 1e-3)
    model = keras.Sequential(
        [
            keras.Input(SHAPE),
            L.Conv2D(4, 3, name="conv"),
            L.BatchNormalization(epsilon=1e-5, name="norm"),
        ]
    )
    instance = keras_norms.convert(model, "instance").get_layer("norm")
    assert instance.epsilon == 1e-3


@pytest.mark.parametrize(
    "shape, channel_axis, spatial",
    [((8, 8, 3), -1, [1, 2]), ((3, 8, 8), 1, [2, 3]), ((6, 3), -1, [1])],
)
def test_frn_takes_every_axis_but_batch_and_channels(shape, channel_axis, spatial):
    model = keras.Sequential(
        [
            keras.Input(shape),
            L.BatchNormalization(axis=channel_axis, name="norm"),
            L.Flatten(),
            L.Dense(2),
        ]
    )
    converted = keras_norms.convert(model, "frn", learned_epsilon=True)
    layer = converted.get_layer("norm")
    assert isinstance(layer, keras_norms.FilterResponseNormalization)
    assert layer.axis == spatial and layer.learned_epsilon
    x = random_normal((2,) + shape, scale=2.0)
    y = to_numpy(layer(x)).astype(np.float64)
    nu2 = (x.astype(np.float64) ** 2).mean(axis=tuple(spatial), keepdims=True)
    np.testing.assert_allclose(y, x / np.sqrt(nu2 + 1e-6 + 1e-4), rtol=1e-5, atol=1e-5)


def test_frn_converts_to_other_norms_on_its_channel_axis():
    model = keras.Sequential(
        [
            keras.Input((3, 8, 8)),
            L.Conv2D(4, 3, data_format="channels_first", name="conv"),
            keras_norms.FilterResponseNormalization(axis=[2, 3], name="norm"),
        ]
    )
    for norm in ("batch", "instance", "group"):
        layer = keras_norms.convert(model, norm).get_layer("norm")
        assert layer.axis == 1, norm
    frn = keras_norms.convert(model, "frn").get_layer("norm")
    assert frn.axis == [2, 3]


def test_frn_options_are_checked():
    with pytest.raises(ValueError, match="tlu=1"):
        keras_norms.convert(sequential(), "frn", tlu=1)
    with pytest.raises(ValueError, match="centre"):
        keras_norms.convert(sequential(), "frn", centre=True)


# --- bad input ----------------------------------------------------------------


class Subclassed(keras.Model):
    def __init__(self):
        super().__init__()
        self.dense = L.Dense(2)
        self.norm = L.BatchNormalization()

    def call(self, inputs):
        return self.norm(self.dense(inputs))


def test_unknown_norm_raises():
    with pytest.raises(ValueError, match="norm='batchnorm'"):
        keras_norms.convert(sequential(), "batchnorm")


def test_unknown_option_raises():
    with pytest.raises(ValueError, match="momentun"):
        keras_norms.convert(sequential(), "batch", momentun=0.9)
    with pytest.raises(ValueError, match="norm='none'.*groups"):
        keras_norms.convert(sequential(), "none", groups=2)


def test_subclassed_model_raises_with_the_reason():
    model = Subclassed()
    model(np.zeros((1, 3)))
    with pytest.raises(ValueError, match="'subclassed' \\(Subclassed\\): it is a subclassed model"):
        keras_norms.convert(model, "batch")


def test_non_model_raises():
    with pytest.raises(ValueError, match="model="):
        keras_norms.convert(L.Dense(2), "batch")


def test_model_without_norms_raises_for_norm_replacements():
    model = keras.Sequential([keras.Input((4,)), L.Dense(2)], name="plain")
    with pytest.raises(ValueError, match="'plain'.*no normalization layer to replace"):
        keras_norms.convert(model, "instance")


def test_model_without_norms_or_kernels_raises_for_weight_norm():
    model = keras.Sequential([keras.Input((4, 4)), L.Flatten()], name="flat")
    with pytest.raises(ValueError, match="'flat'.*no layer that WeightNormalization can wrap"):
        keras_norms.convert(model, "weight")


def test_norm_not_fed_by_a_kernel_layer_raises_for_weight_norm():
    inputs = keras.Input((6,))
    x = L.Dense(4)(inputs)
    x = L.Add(name="add")([x, x])
    x = L.BatchNormalization(name="bn_after_add")(x)
    model = keras.Model(inputs, x)
    with pytest.raises(ValueError, match="'bn_after_add'.*'add' \\(Add\\)"):
        keras_norms.convert(model, "weight")
    first = keras.Sequential([keras.Input((6,)), L.BatchNormalization(name="bn_first")])
    with pytest.raises(ValueError, match="'bn_first'.*the model's input"):
        keras_norms.convert(first, "weight_meanbn")


def test_norm_the_input_cannot_take_raises_naming_the_layer():
    model = keras.Sequential(
        [keras.Input((6,)), L.Dense(4), L.BatchNormalization(name="bn_dense"), L.Dense(2)]
    )
    with pytest.raises(
        ValueError,
        match="'bn_dense' \\(BatchNormalization\\) to norm='instance'.*rank",
    ):
        keras_norms.convert(model, "instance")
    with pytest.raises(ValueError, match="'bn_dense'.*norm='group'.*groups"):
        keras_norms.convert(model, "group", groups=3)
