"""Tests of keras_norms.WeightNormalization against NumPy references."""

import functools

import keras
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import keras_norms
from keras_norms import WeightNormalization, kernels
from tests.layers.backend_utils import (
    BACKEND,
    ROUNDOFF,
    float32_matmul_roundoff,
    gradients,
    random_normal,
    run_on_two_cpus,
    save_and_load,
    tensorflow_only,
    to_numpy,
)

L = keras.layers

# name: (layer factory, input shape, output-unit axes of each kernel).
CASES = {
    "Dense": (lambda: L.Dense(5), (6, 4), (1,)),
    "Conv1D": (lambda: L.Conv1D(4, 3, padding="causal"), (2, 9, 3), (2,)),
    "Conv2D": (lambda: L.Conv2D(4, 3, strides=2), (2, 7, 7, 3), (3,)),
    "Conv3D": (lambda: L.Conv3D(2, 2), (2, 4, 4, 4, 3), (4,)),
    "Conv1DTranspose": (lambda: L.Conv1DTranspose(4, 3, strides=2), (2, 5, 3), (1,)),
    "Conv2DTranspose": (
        lambda: L.Conv2DTranspose(4, 3, strides=2),
        (2, 5, 5, 3),
        (2,),
    ),
    "Conv3DTranspose": (lambda: L.Conv3DTranspose(2, 2), (2, 3, 3, 3, 3), (3,)),
    "DepthwiseConv1D": (
        lambda: L.DepthwiseConv1D(3, depth_multiplier=2, padding="same"),
        (2, 9, 3),
        (1, 2),
    ),
    "DepthwiseConv2D": (
        lambda: L.DepthwiseConv2D(3, depth_multiplier=2),
        (2, 6, 6, 3),
        (2, 3),
    ),
    "SimpleRNN": (lambda: L.SimpleRNN(4), (3, 5, 3), (1,)),
    "LSTM": (lambda: L.LSTM(4, return_sequences=True), (3, 5, 3), (1,)),
    "GRU": (lambda: L.GRU(4), (3, 5, 3), (1,)),
}
# TensorFlow's CPU convolutions only take channels_last inputs.
if BACKEND != "tensorflow":
    CASES["Conv2D_channels_first"] = (
        lambda: L.Conv2D(4, 2, data_format="channels_first"),
        (2, 3, 5, 5),
        (3,),
    )


random_inputs = functools.partial(random_normal, loc=1.0, scale=2.0)


def numpy_kernel(v, g, unit_axes):
    """`g * v / ||v||`, the norm over every axis but `unit_axes`, in float64."""
    v = np.asarray(v, np.float64)
    norm_axes = tuple(a for a in range(v.ndim) if a not in unit_axes)
    norm = np.sqrt((v**2).sum(axis=norm_axes, keepdims=True))
    shape = [v.shape[a] if a in unit_axes else 1 for a in range(v.ndim)]
    return np.reshape(g, shape) * v / norm


def kernels_of(wn):
    """`(g, v)` pairs of the wrapper: the input kernel, then the recurrent one."""
    pairs = [(wn.g, wn.v)]
    if hasattr(wn, "recurrent_g"):
        pairs.append((wn.recurrent_g, wn.recurrent_v))
    return pairs


def plain_layer_with(wn, shape, values):
    """A plain copy of the wrapped layer with some weights replaced.

    `values` maps `id(variable)` of the wrapped layer's weights to NumPy
    arrays; the other weights are copied.
    """
    layer = wn.layer
    plain = type(layer).from_config(layer.get_config())
    plain.build(shape)
    plain.set_weights([values.get(id(v), keras.ops.convert_to_numpy(v)) for v in layer.weights])
    return plain


def wrapped_with_random_g(name, seed=0, data_init=False):
    factory, shape, unit_axes = CASES[name]
    wn = WeightNormalization(factory(), data_init=data_init)
    wn.build(shape)
    rng = np.random.default_rng(seed)
    for g, _ in kernels_of(wn):
        g.assign(rng.uniform(0.5, 2.0, g.shape).astype("float32"))
    return wn, shape, unit_axes


def weight_gradients(layer, x, dy):
    """Gradients of `sum(layer(x) * dy)` by `id` of each trainable variable."""
    _, grads = gradients(layer, x, dy)
    return {id(v): g for v, g in zip(layer.trainable_variables, grads)}


# --- the reparameterization --------------------------------------------------


@pytest.mark.parametrize("name", sorted(CASES))
def test_outputs_match_numpy_kernel_and_fold(name):
    factory, shape, unit_axes = CASES[name]
    layer = factory()
    x = random_inputs(shape)
    unwrapped = to_numpy(layer(x))
    wn = WeightNormalization(layer)
    # g starts at ||v||: wrapping keeps the layer's function.
    np.testing.assert_allclose(to_numpy(wn(x)), unwrapped, atol=1e-5)

    rng = np.random.default_rng(1)
    for g, _ in kernels_of(wn):
        g.assign(rng.uniform(0.5, 2.0, g.shape).astype("float32"))
    values = {id(v): numpy_kernel(to_numpy(v), to_numpy(g), unit_axes) for g, v in kernels_of(wn)}
    expected = plain_layer_with(wn, shape, values)(x)
    np.testing.assert_allclose(to_numpy(wn(x)), to_numpy(expected), atol=1e-5)
    for g, v in kernels_of(wn):
        assert g.shape == tuple(v.shape[a] for a in unit_axes)
        # Each output unit's slice of the effective kernel has norm g.
        w = values[id(v)]
        norm_axes = tuple(a for a in range(w.ndim) if a not in unit_axes)
        np.testing.assert_allclose(np.sqrt((w**2).sum(axis=norm_axes)), to_numpy(g), rtol=1e-6)

    wn(x, training=True)  # data init: non-zero offsets of g and the bias
    folded = wn.fold()
    assert type(folded) is type(layer)
    assert len(folded.weights) == len(layer.weights)
    np.testing.assert_allclose(to_numpy(folded(x)), to_numpy(wn(x)), atol=1e-5)


def test_dense_output_is_numpy_formula():
    wn, shape, _ = wrapped_with_random_g("Dense")
    x = random_inputs(shape)
    v, g = to_numpy(wn.v).astype(np.float64), to_numpy(wn.g)
    w = g * v / np.linalg.norm(v, axis=0)
    expected = x @ w + to_numpy(wn.layer.bias)
    np.testing.assert_allclose(to_numpy(wn(x)), expected, atol=1e-5)


def test_transposed_convolution_normalizes_its_output_axis():
    # A Conv2DTranspose kernel is (height, width, filters, in_channels): one
    # magnitude per filter, the norm over height, width and input channels.
    wn = WeightNormalization(L.Conv2DTranspose(5, 3), data_init=False)
    wn.build((1, 4, 4, 2))
    assert tuple(wn.v.shape) == (3, 3, 5, 2)
    assert tuple(wn.g.shape) == (5,)
    np.testing.assert_allclose(
        to_numpy(wn.g),
        np.sqrt((to_numpy(wn.v) ** 2).sum(axis=(0, 1, 3))),
        rtol=1e-6,
    )


@pytest.mark.parametrize(
    "name",
    ["Dense", "Conv2D", "Conv2DTranspose", "DepthwiseConv1D", "DepthwiseConv2D", "LSTM"],
)
def test_gradients_of_g_and_v_match_numpy(name):
    wn, shape, unit_axes = wrapped_with_random_g(name)
    x = random_inputs(shape)
    dy = random_inputs(to_numpy(wn(x)).shape, seed=1, loc=0.0, scale=1.0)
    pairs = kernels_of(wn)
    w_values = {id(v): numpy_kernel(to_numpy(v), to_numpy(g), unit_axes) for g, v in pairs}
    # dL/dw from the plain layer holding w, then the chain rule through
    # w = g * v / ||v||: dL/dg = sum(dL/dw * v_hat) over the norm axes and
    # dL/dv = g / ||v|| * (dL/dw - v_hat * dL/dg).
    plain = plain_layer_with(wn, shape, w_values)
    # The plain copy lists its weights in the wrapped layer's order.
    d_w = dict(
        zip(
            [id(v) for v in wn.layer.trainable_variables],
            weight_gradients(plain, x, dy).values(),
        )
    )
    wn_grads = weight_gradients(wn, x, dy)
    for g, v in pairs:
        dw = d_w[id(v)].astype(np.float64)
        v_np = to_numpy(v).astype(np.float64)
        norm_axes = tuple(a for a in range(v_np.ndim) if a not in unit_axes)
        norm = np.sqrt((v_np**2).sum(axis=norm_axes, keepdims=True))
        v_hat = v_np / norm
        dg = (dw * v_hat).sum(axis=norm_axes, keepdims=True)
        dv = np.reshape(to_numpy(g), dg.shape) / norm * (dw - v_hat * dg)
        np.testing.assert_allclose(wn_grads[id(g)], dg.reshape(g.shape), rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(wn_grads[id(v)], dv, rtol=1e-4, atol=1e-5)


def test_all_zero_column_gives_zero_kernel_and_finite_gradients():
    wn, shape, _ = wrapped_with_random_g("Dense")
    v = to_numpy(wn.v)
    v[:, 2] = 0.0
    wn.v.assign(v)
    x = random_inputs(shape)
    dy = random_inputs((shape[0], 5), seed=1, loc=0.0, scale=1.0)
    w = to_numpy(kernels.weight_norm(wn.v, wn.g[None, :], (0,)))
    if BACKEND == "torch":
        # Documented: torch's fused kernel, like torch.nn.utils.weight_norm,
        # has no floor under the norm.
        assert np.all(np.isnan(w[:, 2])) and np.all(np.isfinite(w[:, :2]))
        return
    np.testing.assert_array_equal(w[:, 2], 0.0)
    grads = weight_gradients(wn, x, dy)
    assert all(np.all(np.isfinite(g)) for g in grads.values())
    # Below the floor the norm is a constant: dv = g / sqrt(floor) * dw.
    plain = plain_layer_with(wn, shape, {id(wn.v): w})
    dw = weight_gradients(plain, x, dy)[id(plain.kernel)]
    scale = to_numpy(wn.g)[2] * 1e6
    np.testing.assert_allclose(grads[id(wn.v)][:, 2], scale * dw[:, 2], rtol=1e-4)


@settings(max_examples=10, deadline=None)
@given(
    scale=st.floats(min_value=1e-3, max_value=1e3),
    name=st.sampled_from(["Dense", "Conv2DTranspose", "GRU"]),
)
def test_output_is_invariant_to_scaling_v(scale, name):
    wn, shape, _ = wrapped_with_random_g(name)
    x = random_inputs(shape)
    before = to_numpy(wn(x))
    for _, v in kernels_of(wn):
        v.assign(v * scale)
    np.testing.assert_allclose(to_numpy(wn(x)), before, rtol=1e-4, atol=1e-5)


# --- data-dependent initialization --------------------------------------------


# How close data init gets the pre-activations to zero mean and unit
# variance depends on the precision of the matmuls and convolutions that
# measure them: float32 on a CPU, TF32 on a recent GPU unless switched off
# (JAX's default there), whose rounding moves the means by a few 1e-4. Four
# unit roundoffs of the format in use, never below float32's 1e-4.
def init_tolerance(roundoff):
    return max(1e-4, 4 * roundoff)


INIT_TOLERANCE = init_tolerance(float32_matmul_roundoff())


def preactivation_moments(wn, x):
    """Per-unit mean and std of the wrapped layer's pre-activation.

    The layers under test have a linear activation, so the output of the
    folded layer is the pre-activation; units are moved to the last axis.
    """
    y = to_numpy(wn.fold()(x)).astype(np.float64)
    if getattr(wn.layer, "data_format", None) == "channels_first":
        y = np.moveaxis(y, 1, -1)
    y = y.reshape(-1, y.shape[-1])
    return y.mean(axis=0), y.std(axis=0)


INIT_CASES = [
    (lambda: L.Dense(6), (64, 5)),
    (lambda: L.Conv1D(4, 3, padding="causal", dilation_rate=2), (8, 12, 3)),
    (lambda: L.Conv2DTranspose(3, 3, strides=2), (8, 5, 5, 2)),
    (lambda: L.DepthwiseConv1D(3, depth_multiplier=2), (8, 12, 3)),
    (lambda: L.DepthwiseConv2D(3, depth_multiplier=2), (8, 7, 7, 3)),
]
if BACKEND != "tensorflow":
    INIT_CASES.append((lambda: L.Conv2D(4, 3, data_format="channels_first"), (8, 3, 9, 9)))


@pytest.mark.parametrize("factory, shape", INIT_CASES)
def test_data_init_standardizes_preactivations(factory, shape):
    wn = WeightNormalization(factory())
    x = random_inputs(shape, loc=3.0, scale=5.0)
    wn(x, training=True)
    mean, std = preactivation_moments(wn, x)
    np.testing.assert_allclose(mean, 0.0, atol=INIT_TOLERANCE)
    np.testing.assert_allclose(std, 1.0, rtol=INIT_TOLERANCE)


def _as_tf32(x):
    """`x` rounded to TF32's 10 mantissa bits, as a GPU's tensor cores read
    float32 operands."""
    bits = keras.ops.view(keras.ops.convert_to_tensor(x, "float32"), "int32")
    return keras.ops.view(keras.ops.bitwise_and(bits + 0x1000, ~0x1FFF), "float32")


def test_data_init_tolerance_allows_for_tf32_matmuls(monkeypatch):
    """TF32 emulated on the CPU: every matmul rounds its operands as tensor
    cores do. The pre-activations' moments move by a few 1e-4, as measured
    on a GPU: beyond float32's tolerance, within the one set for TF32."""
    from keras.src import backend as keras_backend

    matmul = keras_backend.numpy.matmul
    monkeypatch.setattr(
        keras_backend.numpy, "matmul", lambda a, b: matmul(_as_tf32(a), _as_tf32(b))
    )
    wn = WeightNormalization(L.Dense(6))
    x = random_inputs((64, 5), loc=3.0, scale=5.0)
    wn(x, training=True)
    mean, std = preactivation_moments(wn, x)
    deviation = max(np.abs(mean).max(), np.abs(std - 1.0).max())
    assert init_tolerance(ROUNDOFF["float32"]) < deviation
    assert deviation <= init_tolerance(ROUNDOFF["tf32"])


def test_data_init_runs_once():
    wn = WeightNormalization(L.Dense(3))
    x = random_inputs((32, 4))
    wn(x, training=True)
    offsets = [to_numpy(wn.g_offset), to_numpy(wn.bias_offset)]
    assert np.all(offsets[0] != 0.0)
    wn(random_inputs((32, 4), seed=5, loc=-4.0, scale=9.0), training=True)
    np.testing.assert_array_equal(to_numpy(wn.g_offset), offsets[0])
    np.testing.assert_array_equal(to_numpy(wn.bias_offset), offsets[1])
    mean, std = preactivation_moments(wn, x)
    np.testing.assert_allclose(mean, 0.0, atol=INIT_TOLERANCE)
    np.testing.assert_allclose(std, 1.0, rtol=INIT_TOLERANCE)


def test_inference_calls_do_not_initialize():
    wn = WeightNormalization(L.Dense(3))
    x = random_inputs((16, 4))
    wn(x)
    wn(x, training=False)
    assert not bool(to_numpy(wn.initialized))
    np.testing.assert_array_equal(to_numpy(wn.g_offset), 0.0)


def test_data_init_without_bias_rescales_only():
    wn = WeightNormalization(L.Dense(3, use_bias=False))
    x = random_inputs((64, 4), loc=2.0)
    wn(x, training=True)
    y = to_numpy(wn(x)).astype(np.float64)
    np.testing.assert_allclose(y.std(axis=0), 1.0, rtol=INIT_TOLERANCE)


def test_data_init_leaves_masked_steps_out():
    wn = WeightNormalization(L.Dense(3))
    x = random_inputs((8, 6, 4))
    mask = np.arange(6)[None, :] < np.array([6, 5, 4, 3, 6, 2, 1, 4])[:, None]
    x_with_garbage = np.where(mask[..., None], x, 1e3).astype("float32")
    wn(x_with_garbage, training=True, mask=mask)
    y = to_numpy(wn(x))[mask].astype(np.float64)
    np.testing.assert_allclose(y.mean(axis=0), 0.0, atol=INIT_TOLERANCE)
    np.testing.assert_allclose(y.std(axis=0), 1.0, rtol=INIT_TOLERANCE)


@pytest.mark.parametrize("batch", ["empty", "all masked"])
def test_a_batch_without_values_leaves_data_init_for_the_next(batch):
    """Nothing to measure: the offsets stay 0 and the flag False (rather
    than offsets from a variance of 0, about 1/sqrt(epsilon)), and the next
    batch with values initializes."""
    wn = WeightNormalization(L.Dense(3))
    if batch == "empty":
        wn(np.zeros((0, 6, 4), "float32"), training=True)
    else:
        mask = np.zeros((8, 6), bool)
        wn(random_inputs((8, 6, 4), loc=1e3), training=True, mask=mask)
    assert not bool(to_numpy(wn.initialized))
    np.testing.assert_array_equal(to_numpy(wn.g_offset), 0.0)
    np.testing.assert_array_equal(to_numpy(wn.bias_offset), 0.0)
    x = random_inputs((8, 6, 4), loc=3.0, scale=5.0)
    wn(x, training=True)
    assert bool(to_numpy(wn.initialized))
    mean, std = preactivation_moments(wn, x)
    np.testing.assert_allclose(mean, 0.0, atol=INIT_TOLERANCE)
    np.testing.assert_allclose(std, 1.0, rtol=INIT_TOLERANCE)


@pytest.mark.parametrize("cls", [L.SimpleRNN, L.LSTM, L.GRU])
def test_recurrent_data_init_standardizes_input_projection(cls):
    # The input projection x @ kernel of every gate unit gets zero mean and
    # unit variance; the bias is shifted, keeping its initial value (the
    # LSTM forget-gate bias of 1) as the centre.
    layer = cls(4)
    x = random_inputs((16, 7, 3), loc=2.0, scale=3.0)
    wn = WeightNormalization(layer)
    wn(x, training=True)
    folded = wn.fold()
    bias_before = to_numpy(layer.cell.bias)
    z = x.reshape(-1, 3).astype(np.float64) @ to_numpy(folded.cell.kernel)
    shift = to_numpy(folded.cell.bias) - bias_before
    if shift.ndim == 2:  # GRU(reset_after=True): (input bias, recurrent bias)
        np.testing.assert_array_equal(shift[1], 0.0)
        shift = shift[0]
    np.testing.assert_allclose((z + shift).mean(axis=0), 0.0, atol=INIT_TOLERANCE)
    np.testing.assert_allclose(z.std(axis=0), 1.0, rtol=INIT_TOLERANCE)
    # The recurrent kernel keeps its magnitude.
    np.testing.assert_allclose(
        to_numpy(folded.cell.recurrent_kernel),
        to_numpy(layer.cell.recurrent_kernel),
        atol=1e-6,
    )


def test_initialize_method():
    wn = WeightNormalization(L.Dense(3), data_init=False)
    x = random_inputs((32, 4))
    wn.initialize(x)
    assert wn.built and bool(to_numpy(wn.initialized))
    mean, std = preactivation_moments(wn, x)
    np.testing.assert_allclose(mean, 0.0, atol=INIT_TOLERANCE)
    np.testing.assert_allclose(std, 1.0, rtol=INIT_TOLERANCE)
    with pytest.raises(ValueError, match="already initialized"):
        wn.initialize(x)


def test_data_init_in_fit_with_jit_compile_runs_once_then_trains():
    """Compiled `fit` initializes on the first batch only, then trains.

    The later batches have other statistics, so an init that ran again would
    move the offsets; the reference initializes on batch 1 alone and then
    takes plain SGD steps from NumPy gradients of the MSE loss.
    """
    first = random_inputs((16, 5), loc=2.0, scale=4.0)
    later = random_inputs((48, 5), seed=3, loc=-5.0, scale=0.5)
    x = np.concatenate([first, later])
    y = random_inputs((64, 3), seed=1)
    learning_rate = 0.05
    wn = WeightNormalization(L.Dense(3))
    model = keras.Sequential([keras.Input((5,)), wn])
    start = [to_numpy(v) for v in wn.trainable_variables]
    model.compile(keras.optimizers.SGD(learning_rate), "mse", jit_compile=True)
    model.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0)

    reference = WeightNormalization(L.Dense(3))
    reference.build((None, 5))
    for variable, value in zip(reference.trainable_variables, start):
        variable.assign(value)
    reference.initialize(first)
    for i in range(0, 64, 16):
        xb, yb = x[i : i + 16], y[i : i + 16]
        out = to_numpy(reference(xb))  # inference: no init
        dy = 2.0 * (out - yb) / out.size  # d mean((out - yb)^2) / d out
        _, grads = gradients(reference, xb, dy)
        for variable, grad in zip(reference.trainable_variables, grads):
            variable.assign(to_numpy(variable) - learning_rate * grad)

    for name in ("g_offset", "bias_offset"):
        np.testing.assert_allclose(
            to_numpy(getattr(wn, name)),
            to_numpy(getattr(reference, name)),
            rtol=1e-4,
            atol=1e-5,
            err_msg=name,
        )
    for variable, expected in zip(wn.trainable_variables, reference.trainable_variables):
        np.testing.assert_allclose(
            to_numpy(variable),
            to_numpy(expected),
            rtol=1e-4,
            atol=1e-5,
            err_msg=variable.path,
        )
    assert not np.allclose(to_numpy(wn.g), start[0])


@tensorflow_only
def test_data_init_inside_tf_function():
    import tensorflow as tf

    wn = WeightNormalization(L.Conv2D(3, 3))
    x = random_inputs((4, 8, 8, 2))
    wn.build(x.shape)

    @tf.function(input_signature=[tf.TensorSpec((None, None, None, 2))])
    def step(inputs):
        return wn(inputs, training=True)

    step(x)
    offset = to_numpy(wn.g_offset)
    step(random_inputs((4, 10, 10, 2), seed=3))
    np.testing.assert_array_equal(to_numpy(wn.g_offset), offset)
    mean, std = preactivation_moments(wn, x)
    np.testing.assert_allclose(mean, 0.0, atol=INIT_TOLERANCE)
    np.testing.assert_allclose(std, 1.0, rtol=INIT_TOLERANCE)


_STRATEGY_SCRIPT = """
    import numpy as np
    import tensorflow as tf
    import keras
    import keras_norms

    x = np.random.default_rng(0).normal(2.0, 3.0, (16, 5)).astype("float32")
    x[8:] *= 4.0  # the replicas see different statistics
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    with strategy.scope():
        wn = keras_norms.WeightNormalization(keras.layers.Dense(3))
        model = keras.Sequential([keras.Input((5,)), wn])
        model.compile(keras.optimizers.SGD(0.0), "mse")
    model.fit(x, np.zeros((16, 3)), batch_size=16, shuffle=False, verbose=0)
    for variable in (wn.g_offset, wn.bias_offset):
        replicas = [v.numpy() for v in variable.value.values]
        np.testing.assert_array_equal(replicas[0], replicas[1])
    y = wn.fold()(x).numpy().astype(np.float64)
    np.testing.assert_allclose(y.mean(axis=0), 0.0, atol=1e-4)
    np.testing.assert_allclose(y.std(axis=0), 1.0, rtol=1e-4)
    print("replicas agree")
    """


@tensorflow_only
def test_data_init_under_mirrored_strategy_uses_global_batch():
    run_on_two_cpus(_STRATEGY_SCRIPT, "replicas agree")


@pytest.fixture
def mixed_precision():
    keras.config.set_dtype_policy("mixed_float16")
    yield
    keras.config.set_dtype_policy("float32")


@pytest.mark.parametrize(
    "factory, shape",
    [
        (lambda: L.Dense(4), (32, 6)),
        (lambda: L.LSTM(4), (16, 5, 6)),
    ],
)
def test_mixed_float16_data_init(mixed_precision, factory, shape):
    # Output and weight dtypes under each policy: test_conformance.py.
    wn = WeightNormalization(factory())
    x = random_inputs(shape, loc=2.0, scale=3.0)
    y = wn(x, training=True)
    assert bool(to_numpy(wn.initialized))
    if isinstance(wn.layer, L.Dense):
        # Statistics in float32: the output is standardized to float16 precision.
        y = to_numpy(y).astype(np.float64)
        np.testing.assert_allclose(y.mean(axis=0), 0.0, atol=1e-2)
        np.testing.assert_allclose(y.std(axis=0), 1.0, rtol=1e-2)


# --- fold ---------------------------------------------------------------------


def test_fold_needs_a_built_wrapper():
    with pytest.raises(ValueError, match="must be built"):
        WeightNormalization(L.Dense(2), name="unbuilt").fold()


# --- training and serialization -------------------------------------------------


def test_gradient_step_trains_g_and_v():
    x = random_inputs((32, 4))
    y = random_inputs((32, 2), seed=1)
    wn = WeightNormalization(L.Dense(2))
    model = keras.Sequential([keras.Input((4,)), wn])
    model.compile(keras.optimizers.SGD(0.1), "mse")
    model.fit(x, y, batch_size=32, epochs=1, verbose=0)
    g_offset = to_numpy(wn.g_offset)
    g, v = to_numpy(wn.g), to_numpy(wn.v)
    model.fit(x, y, batch_size=32, epochs=1, verbose=0)
    assert np.all(to_numpy(wn.g) != g)
    assert np.all(to_numpy(wn.v) != v)
    np.testing.assert_array_equal(to_numpy(wn.g_offset), g_offset)


def build_model(factory, shape):
    inputs = keras.Input(shape[1:])
    outputs = WeightNormalization(factory(), name="wn")(inputs)
    if len(outputs.shape) > 2:
        outputs = L.Flatten()(outputs)
    outputs = L.Dense(2)(outputs)
    return keras.Model(inputs, outputs)


@pytest.mark.parametrize("name", ["Dense", "SimpleRNN", "LSTM", "GRU"])
def test_a_loaded_model_does_not_initialize_again(name, tmp_path):
    # That the file gives back the same weights and outputs is
    # test_conformance.py's.
    factory, shape, _ = CASES[name]
    model = build_model(factory, shape)
    model.compile(keras.optimizers.Adam(0.01), "mse")
    model.fit(random_inputs(shape), np.zeros((shape[0], 2)), epochs=1, verbose=0)

    loaded = save_and_load(model, tmp_path)
    wn = loaded.get_layer("wn")
    offsets = to_numpy(wn.g_offset)
    loaded.compile(keras.optimizers.SGD(0.0), "mse")
    loaded.fit(random_inputs(shape, seed=9, loc=5.0), np.zeros((shape[0], 2)), verbose=0)

    np.testing.assert_array_equal(to_numpy(wn.g_offset), offsets)


def test_unknown_batch_and_spatial_dims():
    inputs = keras.Input((None, None, 2))
    wn = WeightNormalization(L.Conv2D(3, 3, padding="same"))
    model = keras.Model(inputs, wn(inputs))
    model.compile("sgd", "mse")
    x = random_inputs((4, 6, 5, 2))
    model.fit(x, np.zeros((4, 6, 5, 3)), verbose=0)
    assert model(random_inputs((2, 9, 7, 2))).shape == (2, 9, 7, 3)


def test_experiment_vocabulary_builds_weight_norm_with_mean_only_bn():
    x = random_inputs((8, 6, 6, 2))
    y = x
    for layer in [
        keras_norms.WeightNormalization(L.Conv2D(4, 3, use_bias=False)),
        keras_norms.MeanOnlyBatchNormalization(name="wn_meanbn"),
    ]:
        y = layer(y, training=True)
    y = to_numpy(y).reshape(-1, 4).astype(np.float64)
    # Data init scales each channel to unit variance; mean-only BN centres it.
    np.testing.assert_allclose(y.mean(axis=0), 0.0, atol=INIT_TOLERANCE)
    np.testing.assert_allclose(y.std(axis=0), 1.0, rtol=INIT_TOLERANCE)


# --- bad input ----------------------------------------------------------------


@pytest.mark.parametrize(
    "layer, message",
    [
        (L.ReLU(name="relu_layer"), "'relu_layer' \\(ReLU\\).*has no kernel"),
        (L.Flatten(name="flat"), "'flat' \\(Flatten\\).*has no kernel"),
        (
            L.SeparableConv2D(2, 3, name="separable"),
            "'separable' \\(SeparableConv2D\\).*has no kernel",
        ),
        (
            WeightNormalization(L.Dense(2, name="inner"), name="outer"),
            "'inner' \\(Dense\\).*already wrapped.*'outer'",
        ),
    ],
)
def test_unwrappable_layers_raise(layer, message):
    with pytest.raises(ValueError, match=message):
        WeightNormalization(layer)


def test_layer_wrapped_twice_raises():
    dense = L.Dense(2, name="inner")
    WeightNormalization(dense, name="first")
    with pytest.raises(ValueError, match="'inner' \\(Dense\\).*already wrapped.*'first'"):
        WeightNormalization(dense)


def test_non_layer_raises():
    with pytest.raises(ValueError, match="layer=3"):
        WeightNormalization(3)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"data_init": 1}, "data_init=1"),
        ({"epsilon": 0.0}, "epsilon=0.0"),
        ({"epsilon": "small"}, "epsilon='small'"),
    ],
)
def test_bad_arguments_raise(kwargs, message):
    with pytest.raises(ValueError, match=message):
        WeightNormalization(L.Dense(2), **kwargs)


def test_initialize_after_training_initialization_raises():
    wn = WeightNormalization(L.Dense(2), name="trained")
    wn(random_inputs((8, 3)), training=True)
    with pytest.raises(ValueError, match="'trained' is already initialized"):
        wn.initialize(random_inputs((8, 3)))
