"""An LSTM cell normalized inside its recurrence, as the papers that proposed
batch and layer norm for recurrent networks do.

- Layer-normalized LSTM (Ba et al. 2016): the input and the recurrent terms
  of the gate pre-activations are layer-normalized apart, each with its own
  gain and offset, and so is the cell state before its tanh:
  `gates = LN(W x) + LN(U h) + b`, `h = o * tanh(LN(c))`.
- Recurrent batch norm (Cooijmans et al. 2017): the same places with batch
  statistics, the two terms without offsets (the bias `b` is the offset),
  gains initialized to 0.1 as the paper recommends. The paper keeps
  population statistics per time step; here the steps share them (one set of
  moving averages per normalized term), which the paper reports works as
  well past the first steps and which serves sequences of any length.

The gates' order in the kernels is Keras's (input, forget, cell, output), the
forget gate's bias starts at 1.
"""

import keras
from keras import ops

from .norms import BATCH_MOMENTUM

CELL_NORMS = ("batch", "layer")
BN_GAMMA = 0.1  # Cooijmans et al.: a small initial gain keeps the gates unsaturated


class NormalizedLSTMCell(keras.layers.Layer):
    """An LSTM cell with batch or layer norm inside its recurrence (see the module).

    Args:
        units: the state's width.
        norm: `"batch"` (recurrent batch norm) or `"layer"` (layer-normalized LSTM).
        seed: seeds the kernels' initializers.
    """

    def __init__(self, units, norm, seed=0, **kwargs):
        super().__init__(**kwargs)
        if norm not in CELL_NORMS:
            raise ValueError(
                f"norm must be one of {', '.join(CELL_NORMS)} inside an LSTM cell, got "
                f"norm={norm!r}"
            )
        self.units = units
        self.norm = norm
        self.seed = seed
        self.state_size = [units, units]
        self.output_size = units
        self.x_norm, self.h_norm = (self._norm(f"{term}_norm", offset=False) for term in "xh")
        self.c_norm = self._norm("c_norm", offset=True)

    def _norm(self, name, offset):
        if self.norm == "layer":
            return keras.layers.LayerNormalization(name=name)
        from keras_norms import BatchNormalization

        return BatchNormalization(
            momentum=BATCH_MOMENTUM,
            center=offset,
            gamma_initializer=keras.initializers.Constant(BN_GAMMA),
            name=name,
        )

    def build(self, input_shape):
        self.kernel = self.add_weight(
            shape=(input_shape[-1], 4 * self.units),
            initializer=keras.initializers.GlorotUniform(seed=self.seed),
            name="kernel",
        )
        self.recurrent_kernel = self.add_weight(
            shape=(self.units, 4 * self.units),
            initializer=keras.initializers.Orthogonal(seed=self.seed + 1),
            name="recurrent_kernel",
        )

        def bias_initializer(shape, dtype=None):
            ones = ops.ones((self.units,), dtype=dtype)
            zeros = ops.zeros((self.units,), dtype=dtype)
            return ops.concatenate([zeros, ones, zeros, zeros])  # forget gate at 1

        self.bias = self.add_weight(
            shape=(4 * self.units,), initializer=bias_initializer, name="bias"
        )
        self.x_norm.build((None, 4 * self.units))
        self.h_norm.build((None, 4 * self.units))
        self.c_norm.build((None, self.units))

    def call(self, inputs, states, training=False):
        h, c = states
        gates = (
            self.x_norm(ops.matmul(inputs, self.kernel), training=training)
            + self.h_norm(ops.matmul(h, self.recurrent_kernel), training=training)
            + self.bias
        )
        i, f, g, o = ops.split(gates, 4, axis=-1)
        c = ops.sigmoid(f) * c + ops.sigmoid(i) * ops.tanh(g)
        h = ops.sigmoid(o) * ops.tanh(self.c_norm(c, training=training))
        return h, [h, c]

    def get_config(self):
        return {**super().get_config(), "units": self.units, "norm": self.norm, "seed": self.seed}
