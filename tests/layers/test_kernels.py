"""The backend kernels (TensorFlow's, torch's) agree with the generic path."""

import functools
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

from keras_norms import BatchNormalization, InstanceNormalization, WeightNormalization, kernels
from keras_norms.kernels import generic
from tests.layers.backend_utils import BACKEND, gradients, random_normal, tensorflow_only, to_numpy

pytestmark = pytest.mark.skipif(
    BACKEND == "jax", reason="JAX runs the generic kernels: nothing to compare"
)

if BACKEND == "tensorflow":
    import tensorflow as tf


random = functools.partial(random_normal, loc=1.5, scale=2.0)


def generic_path(monkeypatch):
    """Makes every layer run the generic kernels."""
    monkeypatch.setattr(kernels, "_implementation", lambda name: getattr(generic, name))


def run(layer_class, kwargs, x, dy, training):
    """Outputs, gradients and weights of a layer after one call.

    A layer with moving statistics first trains on another batch, so that
    inference uses statistics the kernel (or generic path) computed.
    """
    layer = layer_class(**{"momentum": 0.5, **kwargs})
    layer.build(x.shape)
    rng = np.random.RandomState(5)
    if layer.gamma is not None:
        layer.gamma.assign(rng.uniform(0.5, 2.0, layer.gamma.shape))
    if layer.beta is not None:
        layer.beta.assign(rng.normal(size=layer.beta.shape))
    if layer.non_trainable_weights:
        layer(random(x.shape, seed=2) * 3.0 - 1.0, training=True)
    y = to_numpy(layer(x, training=training))
    dx, dweights = gradients(layer, x, dy, training=training)
    return [y, dx] + dweights + [to_numpy(w) for w in layer.non_trainable_weights]


CASES = [
    (BatchNormalization, (16, 5), {}),
    (BatchNormalization, (8, 6, 5), {}),
    (BatchNormalization, (4, 6, 5, 3), {}),
    (BatchNormalization, (4, 3, 6, 5), {"axis": 1}),
    (BatchNormalization, (2, 3, 4, 5, 3), {}),
    (BatchNormalization, (2, 3, 4, 5, 3), {"axis": 1}),
    (BatchNormalization, (1, 1, 1, 3), {}),
    (BatchNormalization, (4, 6, 5, 3), {"center": False}),
    (BatchNormalization, (4, 6, 5, 3), {"scale": False, "momentum": 0.5}),
    (InstanceNormalization, (3, 10, 4), {"track_running_stats": True}),
    (InstanceNormalization, (2, 6, 5, 3), {"track_running_stats": True}),
    (InstanceNormalization, (2, 6, 5, 3), {}),
    (InstanceNormalization, (2, 3, 6, 5), {"axis": 1}),
    (InstanceNormalization, (2, 4, 3, 5, 2), {}),
    (InstanceNormalization, (2, 6, 5, 3), {"center": False}),
    (InstanceNormalization, (2, 6, 5, 3), {"scale": False}),
    (InstanceNormalization, (2, 6, 5, 3), {"center": False, "scale": False}),
    (InstanceNormalization, (2, 1, 1, 3), {"track_running_stats": True}),
]


@pytest.mark.parametrize("layer_class,shape,kwargs", CASES)
@pytest.mark.parametrize("training", [True, False])
def test_kernel_equals_generic_path(monkeypatch, layer_class, shape, kwargs, training):
    """Outputs, gradients of the input and weights, and moving statistics."""
    x, dy = random(shape), random(shape, seed=1)
    fast = run(layer_class, kwargs, x, dy, training)
    generic_path(monkeypatch)
    slow = run(layer_class, kwargs, x, dy, training)
    assert len(fast) == len(slow)
    for a, b in zip(fast, slow):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)


def test_instance_norm_kernel_keeps_its_digits_far_from_zero():
    """Inputs at 1000 with spread 1: the variance of the centered input keeps
    its digits, where `E[x^2] - E[x]^2` would lose about half of them."""
    x = random_normal((2, 7, 6, 4), loc=1000.0)
    y = to_numpy(InstanceNormalization(epsilon=1e-6)(x, training=True))
    x64 = x.astype("float64")
    mean = x64.mean(axis=(1, 2), keepdims=True)
    expected = (x64 - mean) / np.sqrt(x64.var(axis=(1, 2), keepdims=True) + 1e-6)
    np.testing.assert_allclose(y, expected, atol=2e-3)


@pytest.mark.skipif(BACKEND != "torch", reason="a torch-only autograd.Function")
@pytest.mark.parametrize("kwargs", [{}, {"center": False, "scale": False}])
def test_instance_norm_kernel_second_derivatives_equal_generic_path(monkeypatch, kwargs):
    """A gradient penalty, the gradient of `||d sum(y * dy) / dx||^2`, as a
    GAN's critic takes it: it differentiates the kernel's gradient."""
    import torch

    x, dy = random((2, 6, 5, 3)), random((2, 6, 5, 3), seed=1)
    results = []
    for force_generic in (False, True):
        if force_generic:
            generic_path(monkeypatch)
        layer = InstanceNormalization(**kwargs)
        layer.build(x.shape)
        if layer.gamma is not None:
            layer.gamma.assign(np.random.RandomState(5).uniform(0.5, 2.0, 3))
        inputs = keras.ops.convert_to_tensor(x).requires_grad_(True)
        y = layer(inputs, training=True)
        loss = (y * keras.ops.convert_to_tensor(dy)).sum()
        (dx,) = torch.autograd.grad(loss, inputs, create_graph=True)
        targets = [inputs] + [v.value for v in layer.trainable_variables]
        grads = torch.autograd.grad((dx**2).sum(), targets, allow_unused=True)
        results.append(
            [to_numpy(dx)]
            + [np.zeros(t.shape) if g is None else to_numpy(g) for t, g in zip(targets, grads)]
        )
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)


WEIGHT_NORM_CASES = [
    (lambda: keras.layers.Dense(6), (8, 5)),
    (lambda: keras.layers.Conv2D(4, 3), (2, 7, 7, 3)),
    (lambda: keras.layers.Conv2DTranspose(4, 3), (2, 5, 5, 3)),
    (lambda: keras.layers.DepthwiseConv2D(3, depth_multiplier=2), (2, 6, 6, 3)),
    (lambda: keras.layers.LSTM(4), (3, 5, 6)),
]


@pytest.mark.parametrize("factory,shape", WEIGHT_NORM_CASES)
def test_weight_norm_kernel_equals_generic_path(monkeypatch, factory, shape):
    x = random(shape)
    results = []
    for force_generic in (False, True):
        if force_generic:
            generic_path(monkeypatch)
        keras.utils.set_random_seed(3)
        wn = WeightNormalization(factory(), data_init=False)
        y = wn(x)
        dy = random(tuple(y.shape), seed=4)
        dx, dweights = gradients(wn, x, dy)
        results.append([to_numpy(y), dx] + dweights)
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(
    "kwargs,training,uses_kernel",
    [
        ({}, True, True),
        # Without running statistics inference is the same computation.
        ({}, False, True),
        ({"track_running_stats": True}, True, True),
        # With them, inference normalizes with the moving statistics: a
        # per-channel affine map, which the instance-norm kernel does not
        # compute; `test_fast_path_equals_generic_path` checks its numbers.
        ({"track_running_stats": True}, False, False),
    ],
)
def test_instance_norm_kernel_is_used_where_it_applies(monkeypatch, kwargs, training, uses_kernel):
    module = kernels._backend_module(BACKEND)
    assert module is not generic
    calls = []
    original = module.instance_norm

    def spy(*args, **kw):
        calls.append(1)
        return original(*args, **kw)

    monkeypatch.setattr(module, "instance_norm", spy)
    InstanceNormalization(**kwargs)(random((2, 6, 5, 3)), training=training)
    assert bool(calls) == uses_kernel


@pytest.mark.parametrize(
    "shape,kwargs,uses_kernel",
    [
        ((4, 6, 5, 3), {}, True),
        ((4, 3, 6, 5), {"axis": 1}, True),
        ((8, 5), {}, True),
        ((4, 6, 5, 3), {"axis": [1, 3]}, False),
        ((4, 6, 5, 3), {"axis": 2}, False),
        ((4, 6, 5, 3), {"virtual_batch_size": 2}, False),
        # TensorFlow's fused op raises a smaller epsilon; torch's does not.
        ((4, 6, 5, 3), {"epsilon": 1e-6}, BACKEND == "torch"),
        # torch refuses one value per channel in training.
        ((1, 1, 1, 3), {}, BACKEND == "tensorflow"),
    ],
)
def test_fused_kernel_is_chosen_only_where_it_is_exact(monkeypatch, shape, kwargs, uses_kernel):
    calls = []
    original = kernels.batch_norm

    def spy(*args):
        kernel = original(*args)
        if kernel is None:
            return None
        return lambda *a, **k: calls.append(1) or kernel(*a, **k)

    monkeypatch.setattr(kernels, "batch_norm", spy)
    BatchNormalization(**kwargs)(random(shape), training=True)
    assert bool(calls) == uses_kernel


def test_fused_kernel_skipped_with_a_mask(monkeypatch):
    monkeypatch.setattr(
        kernels,
        "batch_norm",
        lambda *a: pytest.fail("fused kernel looked up with a mask"),
    )
    mask = np.ones((4, 6), bool)
    BatchNormalization()(random((4, 6, 3)), training=True, mask=mask)


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
@pytest.mark.parametrize("layer_class", [BatchNormalization, InstanceNormalization])
def test_kernel_equals_generic_path_in_mixed_precision(monkeypatch, policy, layer_class):
    x = random((4, 6, 5, 3)) * 100 + 1e3
    outputs = []
    for force_generic in (False, True):
        if force_generic:
            generic_path(monkeypatch)
        layer = layer_class(dtype=policy)
        y = layer(x, training=True)
        assert keras.backend.standardize_dtype(y.dtype) == policy.split("_")[1]
        outputs.append(to_numpy(keras.ops.cast(y, "float32")))
    np.testing.assert_allclose(outputs[0], outputs[1], atol=0.05)


@tensorflow_only
@pytest.mark.parametrize("layer_class", [BatchNormalization, InstanceNormalization])
@pytest.mark.parametrize("jit_compile", [False, True])
def test_tf_function_with_unknown_dimensions(layer_class, jit_compile):
    layer = layer_class()
    layer.build((None, None, None, 3))

    @tf.function(
        jit_compile=jit_compile,
        input_signature=[tf.TensorSpec((None, None, None, 3), tf.float32)],
    )
    def step(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x, training=True)
            loss = tf.reduce_sum(y * y * tf.range(3, dtype=tf.float32))
        return y, tape.gradient(loss, [x] + layer.trainable_weights)

    for shape in ((2, 5, 4, 3), (3, 7, 6, 3)):
        x = random(shape)
        y, grads = step(tf.constant(x))
        eager_layer = layer_class()
        eager_layer.build(x.shape)
        expected = eager_layer(x, training=True)
        np.testing.assert_allclose(y.numpy(), expected.numpy(), atol=1e-4)
        assert all(np.all(np.isfinite(g.numpy())) for g in grads)


SYNCHRONIZED_SCRIPT = textwrap.dedent(
    """
    import numpy as np
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import keras_norms

    x = np.random.RandomState(0).normal(size=(8, 3)).astype("float32")
    # Replicas see different distributions: their local statistics differ.
    x[4:] = x[4:] * 5 + 3
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    dataset = strategy.experimental_distribute_dataset(
        tf.data.Dataset.from_tensor_slices(x).batch(8))
    results = {}
    for synchronized in (True, False):
        with strategy.scope():
            layer = keras_norms.BatchNormalization(
                synchronized=synchronized, momentum=0.0)
            layer.build((None, 3))
        batch = next(iter(dataset))
        y = strategy.run(lambda b: layer(b, training=True), args=(batch,))
        y = np.concatenate([t.numpy() for t in y.values])
        results[synchronized] = (y, layer.moving_variance.numpy())
        # Replicas average their updates: every copy holds the same values.
        copies = [v.numpy() for v in layer.moving_variance.value.values]
        np.testing.assert_allclose(copies[0], copies[1])
    single = keras_norms.BatchNormalization(momentum=0.0)
    expected = single(x, training=True).numpy()
    np.testing.assert_allclose(results[True][0], expected, atol=1e-4)
    np.testing.assert_allclose(
        results[True][1], single.moving_variance.numpy(), rtol=1e-4)
    assert not np.allclose(results[False][0], expected, atol=1e-2)
    print("SYNCHRONIZED OK")
    """
)


@tensorflow_only
def test_synchronized_statistics_cover_the_global_batch():
    env = dict(os.environ, KERAS_BACKEND="tensorflow", TF_CPP_MIN_LOG_LEVEL="3")
    result = subprocess.run(
        [sys.executable, "-c", SYNCHRONIZED_SCRIPT],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert "SYNCHRONIZED OK" in result.stdout, result.stderr[-3000:]
