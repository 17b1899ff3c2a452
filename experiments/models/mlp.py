"""The batch norm paper's MNIST network: a fully connected classifier, 100 units
per hidden layer, with a chosen normalization before each activation; and its
residual version, each hidden layer after the first added to its input."""

import keras

from .inits import INITS, initializer
from .norms import MLP_NORMS, apply, check_norm, uses_bias

WIDTH = 100  # Ioffe & Szegedy 2015, section 4.1: 3 hidden layers of 100 units


def build_mlp(
    input_shape,
    num_classes,
    norm,
    depth=3,
    seed=0,
    stats_batch=None,
    activation="sigmoid",
    dropout=0.0,
    residual=False,
    init="paper",
    output_activation="softmax",
    input_name="image",
):
    """Returns a classifier of `depth` hidden dense layers of `WIDTH` units, each
    followed by `norm` and `activation`, and a dense head (softmax unless
    `output_activation` says otherwise).

    Args:
        input_shape: image shape (height, width, channels), flattened first.
        num_classes: number of output classes.
        norm: one of `MLP_NORMS`.
        depth: hidden layers, at least 1.
        seed: seeds every initializer: equal seeds give equal initial kernels.
        stats_batch: batch norm's statistics batch (ghost batches); None: the
            whole batch.
        activation: a Keras activation's name (the paper's: sigmoid).
        dropout: the rate of a dropout after each hidden layer; 0: none.
        residual: each hidden layer after the first adds its input to its
            output (after the activation).
        init: one of `INITS`; "depth-scaled" only with `residual`, where
            the first hidden layer is not a branch.
        output_activation: the head's activation: "softmax" for class
            probabilities, "linear" for values (a Q-network's).
        input_name: the name of the input (an image, an observation).
    """
    check_norm(norm, MLP_NORMS)
    if init not in INITS:
        raise ValueError(f"init must be one of {', '.join(INITS)}, got init={init!r}")
    if init == "depth-scaled" and not residual:
        raise ValueError("init='depth-scaled' applies to residual networks, got residual=False")
    if depth < 1:
        raise ValueError(f"depth must be a positive integer, got depth={depth!r}")
    inputs = keras.Input(input_shape, name=input_name)
    x = keras.layers.Flatten(name="flatten")(inputs)
    for index in range(depth):
        name = f"dense{index + 1}"
        dense = keras.layers.Dense(
            WIDTH,
            use_bias=uses_bias(norm),
            kernel_initializer=initializer(
                init, activation, seed * 1000 + index, branches=depth - 1 if index else 1
            ),
            name=name,
        )
        h = apply(x, dense, norm, name=name, stats_batch=stats_batch)
        h = keras.layers.Activation(activation, name=f"{name}_{activation}")(h)
        x = keras.layers.Add(name=f"{name}_shortcut")([x, h]) if residual and index else h
        if dropout:
            x = keras.layers.Dropout(
                dropout, seed=seed * 1000 + 500 + index, name=f"{name}_dropout"
            )(x)
    outputs = keras.layers.Dense(
        num_classes,
        activation=output_activation,
        kernel_initializer=keras.initializers.GlorotUniform(seed=seed * 1000 + depth),
        name="classifier",
    )(x)
    kind = "resmlp" if residual else "mlp"
    return keras.Model(inputs, outputs, name=f"{kind}{depth}_{norm}")
