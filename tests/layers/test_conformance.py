"""What every keras_norms layer owes Keras, checked on each row of the table
in conformance_cases.py, in the manner of Keras's own `run_layer_test`:
weights, shapes, the config and `.keras` round trips, training and inference,
mixed precision and masks.

What one layer computes is checked in its own test file.
"""

import contextlib
import copy
import json
import os

import keras
import numpy as np
import pytest

from tests.layers.backend_utils import BACKEND, random_normal, save_and_load, to_numpy
from tests.layers.conformance_cases import CASES

MODULES_OF_ARGUMENTS = {
    "_initializer": keras.initializers,
    "_regularizer": keras.regularizers,
    "_constraint": keras.constraints,
}


@pytest.fixture(params=CASES, ids=[case.id for case in CASES])
def case(request):
    case = request.param
    if case.needs_tensorflow and BACKEND != "tensorflow":
        pytest.skip(case.needs_tensorflow)
    return case


def inputs_for(case, seed=0):
    # Away from zero and unit scale, so a missing normalization shows.
    return random_normal(case.input_shape, seed=seed, loc=1.0, scale=2.0)


def padding_mask(shape):
    """A mask of `shape` in Keras's convention, padding its last axis: sample
    `b` keeps its first `n - b` steps, and at least one. (A mask of rank 1,
    for a Dense's inputs, masks out whole samples.)"""
    steps = np.arange(shape[-1])
    lengths = np.maximum(1, shape[-1] - np.arange(shape[0]))
    return steps < lengths.reshape((-1,) + (1,) * (len(shape) - 1))


def as_json(config):
    return json.loads(json.dumps(config))


def weight_values(layer_or_model):
    return [to_numpy(w) for w in layer_or_model.weights]


def single_layer_model(layer, case):
    inputs = keras.Input(case.input_shape[1:])
    return keras.Model(inputs, layer(inputs))


@contextlib.contextmanager
def global_dtype_policy(policy):
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(policy)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


# --- weights and shapes -------------------------------------------------------


def test_build_makes_the_expected_weights(case):
    layer = case.make()
    layer.build(case.input_shape)
    assert layer.built
    assert len(layer.trainable_weights) == case.trainable
    assert len(layer.non_trainable_weights) == case.non_trainable
    assert len(layer.weights) == case.trainable + case.non_trainable
    # Weight paths name a weight in a `.keras` file: two alike would clash.
    paths = [w.path for w in layer.weights]
    assert len(set(paths)) == len(paths)


def test_a_symbolic_call_builds_the_same_weights(case):
    layer = case.make()
    layer(keras.Input(batch_shape=case.input_shape))
    assert len(layer.trainable_weights) == case.trainable
    assert len(layer.non_trainable_weights) == case.non_trainable


@pytest.mark.parametrize("batch", ["known", "unknown"])
def test_compute_output_shape_is_the_shape_of_the_output(case, batch):
    shape = case.input_shape if batch == "known" else (None,) + case.input_shape[1:]
    expected = tuple(case.make().compute_output_shape(shape))

    symbolic = case.make()(keras.Input(batch_shape=shape))
    assert tuple(symbolic.shape) == expected

    if batch == "known":
        for training in (True, False):
            eager = case.make()(inputs_for(case), training=training)
            assert tuple(eager.shape) == expected


# --- configuration ------------------------------------------------------------


def expected_config_value(name, value):
    """How `get_config` writes the argument `name=value`: initializers,
    regularizers and constraints given by name come back serialized."""
    for suffix, module in MODULES_OF_ARGUMENTS.items():
        if name.endswith(suffix) and value is not None:
            return keras.saving.serialize_keras_object(module.get(value))
    return value


def test_get_config_and_from_config_round_trip(case):
    layer = case.make()
    config = layer.get_config()
    json.dumps(config)  # what a `.keras` file stores
    for name, value in case.kwargs.items():
        assert config[name] == expected_config_value(name, value), name

    # `Wrapper.from_config` pops "layer" from the dict it is given.
    restored = type(layer).from_config(copy.deepcopy(config))

    assert restored.get_config() == config
    for name, value in case.kwargs.items():
        module = next((m for s, m in MODULES_OF_ARGUMENTS.items() if name.endswith(s)), None)
        if module is not None and value is not None:
            assert type(getattr(restored, name)) is type(module.get(value)), name
    if case.wrapped is not None:
        assert type(restored.layer) is type(layer.layer)


def test_serialize_and_deserialize_round_trip(case):
    layer = case.make()
    serialized = keras.saving.serialize_keras_object(layer)
    assert serialized["registered_name"] == f"keras_norms>{type(layer).__name__}"

    # Through JSON, as a `.keras` file holds it, and with no custom_objects.
    restored = keras.saving.deserialize_keras_object(json.loads(json.dumps(serialized)))

    assert type(restored) is type(layer)
    assert restored.get_config() == layer.get_config()


# --- training, inference and saving ---------------------------------------------


def fit_a_step(model, case, jit_compile):
    model.compile(keras.optimizers.SGD(0.01), "mse", jit_compile=jit_compile)
    x = inputs_for(case)
    y = np.zeros((len(x),) + tuple(model.output.shape[1:]), "float32")
    history = model.fit(x, y, batch_size=len(x), epochs=2, verbose=0)
    return history.history["loss"]


@pytest.mark.parametrize("jit_compile", [False, True], ids=["eager", "compiled"])
def test_trains_in_fit_and_infers(case, jit_compile):
    layer = case.make()
    model = single_layer_model(layer, case)
    state_before = [to_numpy(w) for w in layer.non_trainable_weights]

    losses = fit_a_step(model, case, jit_compile)

    assert np.all(np.isfinite(losses))
    state = [to_numpy(w) for w in layer.non_trainable_weights]
    moved = [not np.array_equal(a, b) for a, b in zip(state_before, state)]
    assert all(moved) if case.training_moves_state else not any(moved)

    # Inference runs on the trained state and leaves it alone.
    predictions = model.predict(inputs_for(case, seed=1), verbose=0)
    assert np.all(np.isfinite(predictions))
    for before, after in zip(state, layer.non_trainable_weights):
        np.testing.assert_array_equal(to_numpy(after), before)


def test_keras_file_round_trip_gives_the_same_outputs(case, tmp_path):
    layer = case.make()
    model = single_layer_model(layer, case)
    # Trained, so the file holds weights and statistics other than their
    # initial values.
    fit_a_step(model, case, jit_compile="auto")
    x = inputs_for(case, seed=1)

    loaded = save_and_load(model, tmp_path)

    assert type(loaded.layers[-1]) is type(layer)
    # Through JSON, as the file stores it: tuples come back as lists.
    assert as_json(loaded.layers[-1].get_config()) == as_json(layer.get_config())
    assert len(loaded.weights) == len(model.weights)
    for saved, restored in zip(weight_values(model), weight_values(loaded)):
        np.testing.assert_array_equal(restored, saved)
    # The same weights and computation: the same numbers, to the bit.
    np.testing.assert_array_equal(to_numpy(loaded(x)), to_numpy(model(x)))
    # A training call from the same state gives the same output too.
    np.testing.assert_array_equal(
        to_numpy(loaded(x, training=True)), to_numpy(model(x, training=True))
    )


def test_weights_file_round_trip_gives_the_same_outputs(case, tmp_path):
    model = single_layer_model(case.make(), case)
    fit_a_step(model, case, jit_compile="auto")
    path = os.path.join(tmp_path, "model.weights.h5")
    model.save_weights(path)

    other = single_layer_model(case.make(), case)
    other.load_weights(path)

    for saved, restored in zip(weight_values(model), weight_values(other)):
        np.testing.assert_array_equal(restored, saved)
    x = inputs_for(case, seed=1)
    np.testing.assert_array_equal(to_numpy(other(x)), to_numpy(model(x)))


# --- mixed precision ----------------------------------------------------------


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
@pytest.mark.parametrize("given_as", ["argument", "global policy"])
def test_mixed_precision(case, policy, given_as, request):
    if given_as == "argument" and case.wrapped is not None:
        reason = (
            "a wrapper given dtype= computes in its wrapped layer's dtype, "
            "not its own (Keras's TimeDistributed and Bidirectional compute "
            "in theirs)"
        )
        request.applymarker(pytest.mark.xfail(reason=reason, strict=True))
    half = policy.split("_")[1]
    if given_as == "argument":
        layer = case.make(dtype=policy)
    else:
        with global_dtype_policy(policy):
            layer = case.make()
    x = inputs_for(case)

    for training in (True, False):
        y = layer(x, training=training)
        assert keras.backend.standardize_dtype(y.dtype) == half
        assert np.all(np.isfinite(to_numpy(keras.ops.cast(y, "float32"))))
    # The weights, the statistics among them, stay float32.
    for weight in layer.weights:
        dtype = keras.backend.standardize_dtype(weight.dtype)
        assert dtype in ("float32", "bool"), weight.path
    spec = layer.compute_output_spec(keras.KerasTensor(case.input_shape, dtype=half))
    assert keras.backend.standardize_dtype(spec.dtype) == half


# --- masks --------------------------------------------------------------------


def test_supports_masking_is_as_expected(case):
    assert case.make().supports_masking == case.supports_masking


def test_masked_values_do_not_reach_the_unmasked_outputs(case):
    """Padding takes values that would spoil any statistic it leaked into;
    the outputs at the other positions must not see them."""
    if not case.supports_masking:
        pytest.skip("the layer takes no mask")
    mask = padding_mask(case.input_shape[:-1])
    full_mask = np.broadcast_to(mask[..., None], case.input_shape)
    x = inputs_for(case)
    padded = np.where(full_mask, x, 1e4).astype("float32")
    layer = case.make()
    layer.build(case.input_shape)
    initial = layer.get_weights()

    for training in (True, False):
        layer.set_weights(initial)
        y = to_numpy(layer(x, mask=mask, training=training))
        layer.set_weights(initial)
        y_padded = to_numpy(layer(padded, mask=mask, training=training))
        assert np.all(np.isfinite(y_padded))
        # A recurrent layer's last state has no steps: all of it must agree.
        keep = np.broadcast_to(mask[..., None], y.shape) if y.ndim == x.ndim else ()
        np.testing.assert_allclose(y_padded[keep], y[keep], rtol=1e-5, atol=1e-5)

    # The mask goes on to the layers that follow; a wrapper passes on what its
    # layer does.
    expected = mask if case.wrapped is None else layer.layer.compute_mask(x, mask)
    output_mask = layer.compute_mask(x, mask)
    if expected is None:
        assert output_mask is None
    else:
        np.testing.assert_array_equal(to_numpy(output_mask), to_numpy(expected))
