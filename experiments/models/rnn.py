"""A one-layer LSTM or GRU sequence model with a chosen normalization.

Every model has the same layers: a per-step Dense projection of the inputs,
the recurrent layer and a Dense head on its last state. The normalization
changes only where it acts:

- `batch`, `instance`, `layer`: after the projection, on the
  `(batch, time, features)` tensor. Batch norm takes its statistics over the
  batch and time axes (time-distributed, as for the input-to-hidden transform
  of Laurent et al. 2016), instance norm over each sequence's own steps, and
  Keras's LayerNormalization, the baseline, over the features of each step.
  All three sit at the same place, so the comparison is fair.
- `weight`: weight norm on the recurrent layer's input and recurrent kernels.
- `none`: nothing.

With `mask_value`, steps whose features all equal it are padding: they are
left out of the instance and batch statistics and skipped by the recurrence.
"""

import keras

from experiments.models.norms import RNN_NORMS, apply, check_norm, uses_bias

CELLS = {"lstm": keras.layers.LSTM, "gru": keras.layers.GRU}


def build_rnn(
    norm,
    cell="lstm",
    units=64,
    input_shape=(28, 28),
    output_units=10,
    output_activation=None,
    mask_value=None,
    seed=0,
):
    """Returns the sequence model for `norm`.

    Args:
        norm: one of `RNN_NORMS`.
        cell: `"lstm"` or `"gru"`.
        units: width of the projection and of the recurrent state.
        input_shape: `(steps, features)`; steps may be None.
        output_units: outputs of the head: classes (logits) or 1 for regression.
        output_activation: activation of the head; None gives logits or a
            linear output.
        mask_value: if set, steps equal to it everywhere are masked as padding.
        seed: seeds every initializer, so the layers all norms share start
            from the same weights.
    """
    check_norm(norm, RNN_NORMS)
    if cell not in CELLS:
        raise ValueError(
            f"Unknown recurrent cell: cell={cell!r}. Choose one of: {', '.join(CELLS)}"
        )
    inputs = keras.Input(input_shape, name="sequence")
    x = inputs if mask_value is None else keras.layers.Masking(mask_value, name="mask")(inputs)
    projection = keras.layers.Dense(
        units,
        use_bias=uses_bias(norm),
        kernel_initializer=keras.initializers.GlorotUniform(seed=seed * 10),
        name="projection",
    )
    x = apply(x, projection, "none" if norm == "weight" else norm, name="projection")
    recurrent = CELLS[cell](
        units,
        kernel_initializer=keras.initializers.GlorotUniform(seed=seed * 10 + 1),
        recurrent_initializer=keras.initializers.Orthogonal(seed=seed * 10 + 2),
        name=cell,
    )
    x = apply(x, recurrent, "weight" if norm == "weight" else "none")
    outputs = keras.layers.Dense(
        output_units,
        activation=output_activation,
        kernel_initializer=keras.initializers.GlorotUniform(seed=seed * 10 + 3),
        name="head",
    )(x)
    return keras.Model(inputs, outputs, name=f"{cell}_{norm}")
