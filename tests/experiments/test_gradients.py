"""Per-layer gradient norms: each the loss's rate of change along its own
gradient (a finite difference), measured without touching the model's state."""

import keras
import numpy as np
import pytest

from experiments.models.mlp import build_mlp
from experiments.models.steps import loss_gradients
from experiments.tasks.gradients import gradient_norms, hidden_layers


def _batch():
    rng = np.random.default_rng(0)
    return rng.random((16, 28, 28, 1), "float32"), rng.integers(0, 10, 16)


def _loss(model, inputs, labels):
    outputs = model(inputs, training=True)
    return float(keras.ops.mean(keras.losses.sparse_categorical_crossentropy(labels, outputs)))


@pytest.mark.parametrize("norm", ["none", "batch", "weight"])
def test_each_norm_is_the_loss_slope_along_the_gradient(norm):
    model = build_mlp((28, 28, 1), 10, norm, depth=3, activation="tanh", init="scaled")
    inputs, labels = _batch()
    layers = hidden_layers(model, 3)
    assert [layer.name for layer in layers] == (
        ["dense1_weight", "dense2_weight", "dense3_weight"]
        if norm == "weight"
        else ["dense1", "dense2", "dense3"]
    )
    state = [np.array(v) for v in model.non_trainable_variables]
    norms = gradient_norms(model, layers, inputs, labels)
    for variable, before in zip(model.non_trainable_variables, state):
        np.testing.assert_array_equal(np.array(variable), before, err_msg=variable.path)

    if norm == "weight":  # its data-dependent init, as the first training batch would
        model(inputs, training=True)
    for layer, expected in zip(layers, norms):
        # The slope along the gradient's direction is its norm: a direction
        # off the gradient, or a norm off its length, has a smaller slope.
        def loss():
            outputs = model(inputs, training=True)
            return (
                keras.ops.mean(keras.losses.sparse_categorical_crossentropy(labels, outputs)),
            ), None

        _, _, (gradient,) = loss_gradients(loss, [layer.trainable_weights], model.variables)
        direction = [keras.ops.convert_to_numpy(g) / expected for g in gradient]
        start = [np.array(w) for w in layer.trainable_weights]
        eps = 1e-2
        losses = []
        for sign in (1, -1):
            for weight, value, d in zip(layer.trainable_weights, start, direction):
                weight.assign(value + sign * eps * d)
            losses.append(_loss(model, inputs, labels))
        for weight, value in zip(layer.trainable_weights, start):
            weight.assign(value)
        assert (losses[0] - losses[1]) / (2 * eps) == pytest.approx(expected, rel=0.02)
