"""Backend-neutral helpers for the layer tests."""

import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

BACKEND = keras.backend.backend()

tensorflow_only = pytest.mark.skipif(
    BACKEND != "tensorflow",
    reason="TensorFlow-specific; the TensorFlow backend run covers it",
)


def to_numpy(x):
    return np.asarray(keras.ops.convert_to_numpy(x))


def random_normal(shape, seed=0, loc=0.0, scale=1.0):
    """A float32 NumPy array of normal samples, reproducible by `seed`."""
    return np.random.RandomState(seed).normal(loc, scale, shape).astype("float32")


# Unit roundoff of the formats float32 matmuls may run in.
ROUNDOFF = {"float32": 2.0**-24, "bfloat16_3x": 2.0**-17, "tf32": 2.0**-11, "bfloat16": 2.0**-8}


def float32_matmul_roundoff():
    """Unit roundoff of float32 matmuls and convolutions as this backend
    runs them on its device.

    On a CPU they are float32. On a GPU, TensorFlow runs them as TF32
    unless `tf.config.experimental.enable_tensor_float_32_execution(False)`;
    JAX by its `jax_default_matmul_precision` (TF32 at the default);
    torch as TF32 where `allow_tf32` is set for cuDNN (the default) or for
    cuBLAS.
    """
    if BACKEND == "tensorflow":
        import tensorflow as tf

        gpu = bool(tf.config.list_logical_devices("GPU"))
        tf32 = gpu and tf.config.experimental.tensor_float_32_execution_enabled()
        return ROUNDOFF["tf32" if tf32 else "float32"]
    if BACKEND == "jax":
        import jax

        if jax.devices()[0].platform != "gpu":
            return ROUNDOFF["float32"]
        precision = str(jax.config.jax_default_matmul_precision or "default")
        precision = precision.lower().split(".")[-1]
        # "default", "high" and "tensorfloat32" run as TF32 on a GPU.
        formats = {
            "highest": "float32",
            "float32": "float32",
            "bfloat16_3x": "bfloat16_3x",
            "bfloat16": "bfloat16",
        }
        return ROUNDOFF[formats.get(precision, "tf32")]
    import torch

    if not torch.cuda.is_available():
        return ROUNDOFF["float32"]
    tf32 = torch.backends.cudnn.allow_tf32 or torch.backends.cuda.matmul.allow_tf32
    return ROUNDOFF["tf32" if tf32 else "float32"]


def gradients(layer, x, dy, **call_kwargs):
    """Gradients of `sum(layer(x, **call_kwargs) * dy)`.

    Returns NumPy arrays: `(dx, [d_variable, ...])`, the second in
    `layer.trainable_variables` order.
    """
    x = keras.ops.convert_to_tensor(x)
    dy = keras.ops.convert_to_tensor(dy)
    if BACKEND == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = tf.reduce_sum(layer(x, **call_kwargs) * dy)
        grads = tape.gradient(loss, [x] + layer.trainable_variables)
    elif BACKEND == "jax":
        import jax

        non_trainable = [v.value for v in layer.non_trainable_variables]

        def loss(trainable, x):
            y, _ = layer.stateless_call(trainable, non_trainable, x, **call_kwargs)
            return (y * dy).sum()

        trainable = [v.value for v in layer.trainable_variables]
        d_variables, dx = jax.grad(loss, argnums=(0, 1))(trainable, x)
        grads = [dx] + list(d_variables)
    elif BACKEND == "torch":
        import torch

        x = x.detach().clone().requires_grad_(True)
        loss = (layer(x, **call_kwargs) * dy).sum()
        variables = [v.value for v in layer.trainable_variables]
        grads = torch.autograd.grad(loss, [x] + variables)
    else:
        raise NotImplementedError(f"no gradient helper for {BACKEND}")
    grads = [to_numpy(g) for g in grads]
    return grads[0], grads[1:]


def save_and_load(model, tmp_path):
    """Round trips `model` through a `.keras` file, with no custom_objects."""
    path = os.path.join(tmp_path, "model.keras")
    model.save(path)
    return keras.saving.load_model(path)


_TWO_CPUS = """\
import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
    cpu, [tf.config.LogicalDeviceConfiguration()] * 2
)
"""


def run_on_two_cpus(script, done, timeout=300):
    """Runs `script` in a fresh TensorFlow process whose CPU is split into two
    logical devices, for a `MirroredStrategy(["/cpu:0", "/cpu:1"])` (they
    must be set up before TensorFlow starts); asserts that it exits 0 and
    prints `done`."""
    env = dict(os.environ, KERAS_BACKEND="tensorflow", TF_CPP_MIN_LOG_LEVEL="3")
    root = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))
    result = subprocess.run(
        [sys.executable, "-c", _TWO_CPUS + textwrap.dedent(script)],
        capture_output=True,
        text=True,
        env=env,
        cwd=root,
        timeout=timeout,
    )
    assert result.returncode == 0 and done in result.stdout, (
        result.stdout[-2000:] + result.stderr[-3000:]
    )
