"""Backend-neutral helpers for the layer tests."""

import os

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
    return np.random.RandomState(seed).normal(loc, scale, shape).astype(
        "float32"
    )


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
            y, _ = layer.stateless_call(
                trainable, non_trainable, x, **call_kwargs
            )
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
