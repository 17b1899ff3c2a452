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


def gradients(layer, x, dy, training=True):
    """Gradients of `sum(layer(x) * dy)` w.r.t. `x` and the trainable weights.

    Returns NumPy arrays: `(dx, [d_weight, ...])` in `trainable_weights` order.
    """
    x = keras.ops.convert_to_tensor(x)
    dy = keras.ops.convert_to_tensor(dy)
    if BACKEND == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = tf.reduce_sum(layer(x, training=training) * dy)
        grads = tape.gradient(loss, [x] + layer.trainable_weights)
    elif BACKEND == "jax":
        import jax

        non_trainable = [v.value for v in layer.non_trainable_weights]

        def loss(trainable, x):
            y, _ = layer.stateless_call(
                trainable, non_trainable, x, training=training
            )
            return (y * dy).sum()

        trainable = [v.value for v in layer.trainable_weights]
        d_weights, dx = jax.grad(loss, argnums=(0, 1))(trainable, x)
        grads = [dx] + list(d_weights)
    else:
        pytest.skip(f"no gradient helper for the {BACKEND} backend")
    grads = [np.asarray(keras.ops.convert_to_numpy(g)) for g in grads]
    return grads[0], grads[1:]


def save_and_load(model, tmp_path):
    """Round trips `model` through a `.keras` file, with no custom_objects."""
    path = os.path.join(tmp_path, "model.keras")
    model.save(path)
    return keras.saving.load_model(path)
