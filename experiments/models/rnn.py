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
- `recurrent_batch`, `recurrent_layer`: inside the LSTM cell, on the
  input and recurrent terms of the gates apart and on the cell state
  (Cooijmans et al. 2017; Ba et al. 2016; `experiments.models.lstm_cells`),
  with the projection plain. LSTM only. Batch norm there keeps one set of
  moving averages for every step, or with `step_statistics` one per step.
- `weight`: weight norm on the recurrent layer's input and recurrent kernels,
  with its data-dependent initialization unless `data_init` is False.
- `none`: nothing.

With `mask_value`, steps whose features all equal it are padding: they are
left out of the instance and batch statistics and skipped by the recurrence.
"""

import keras

from .lstm_cells import NormalizedLSTMCell
from .norms import RECURRENT_NORMS, RNN_NORMS, apply, check_norm, uses_bias

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
    data_init=True,
    step_statistics=False,
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
        data_init: weight norm's data-dependent initialization, on or off.
        step_statistics: `recurrent_batch` only: moving averages per time
            step, one for each of the input's steps.
    """
    check_norm(norm, RNN_NORMS)
    if cell not in CELLS:
        raise ValueError(
            f"Unknown recurrent cell: cell={cell!r}. Choose one of: {', '.join(CELLS)}"
        )
    if norm in RECURRENT_NORMS and cell != "lstm":
        raise ValueError(f"norm={norm!r} normalizes inside an LSTM cell, got cell={cell!r}")
    if step_statistics and (norm != "recurrent_batch" or input_shape[0] is None):
        raise ValueError(
            "step_statistics needs norm='recurrent_batch' and a known number of steps, got "
            f"norm={norm!r}, input_shape={input_shape!r}"
        )
    inputs = keras.Input(input_shape, name="sequence")
    x = inputs if mask_value is None else keras.layers.Masking(mask_value, name="mask")(inputs)
    projection = keras.layers.Dense(
        units,
        use_bias=uses_bias(norm),
        kernel_initializer=keras.initializers.GlorotUniform(seed=seed * 10),
        name="projection",
    )
    on_projection = norm if norm not in ("weight", *RECURRENT_NORMS) else "none"
    x = apply(x, projection, on_projection, name="projection")
    if norm in RECURRENT_NORMS:
        # On JAX the steps run in a `lax.scan`, where batch norm's moving
        # statistics cannot be assigned; unrolled, they update as elsewhere.
        unroll = keras.config.backend() == "jax" and RECURRENT_NORMS[norm] == "batch"
        recurrent = keras.layers.RNN(
            NormalizedLSTMCell(
                units,
                RECURRENT_NORMS[norm],
                seed=seed * 10 + 1,
                step_statistics=input_shape[0] if step_statistics else None,
            ),
            unroll=unroll,
            name=cell,
        )
    else:
        recurrent = CELLS[cell](
            units,
            kernel_initializer=keras.initializers.GlorotUniform(seed=seed * 10 + 1),
            recurrent_initializer=keras.initializers.Orthogonal(seed=seed * 10 + 2),
            name=cell,
        )
    x = apply(x, recurrent, "weight" if norm == "weight" else "none", data_init=data_init)
    outputs = keras.layers.Dense(
        output_units,
        activation=output_activation,
        kernel_initializer=keras.initializers.GlorotUniform(seed=seed * 10 + 3),
        name="head",
    )(x)
    return keras.Model(inputs, outputs, name=f"{cell}_{norm}")
