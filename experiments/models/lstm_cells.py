"""An LSTM cell normalized inside its recurrence, as the papers that proposed
batch and layer norm for recurrent networks do.

- Layer-normalized LSTM (Ba et al. 2016): the input and the recurrent terms
  of the gate pre-activations are layer-normalized apart, each with its own
  gain and offset, and so is the cell state before its tanh:
  `gates = LN(W x) + LN(U h) + b`, `h = o * tanh(LN(c))`.
- Recurrent batch norm (Cooijmans et al. 2017): the same places with batch
  statistics, the two terms without offsets (the bias `b` is the offset),
  gains initialized to 0.1 as the paper recommends. In training each step
  is normalized by the batch's moments at that step either way; what is kept
  for inference is a choice. By default the steps share one set of moving
  averages per normalized term, which serves sequences of any length; with
  `step_statistics` each of the first T steps keeps its own, as the paper
  does, the later steps sharing step T's (the paper's rule for sequences
  longer than those trained on). The steps' statistics differ most at the
  start, where the hidden state is still near zero.

The gates' order in the kernels is Keras's (input, forget, cell, output), the
forget gate's bias starts at 1.
"""

import keras
from keras import ops

from .norms import BATCH_MOMENTUM

CELL_NORMS = ("batch", "layer")
BN_GAMMA = 0.1  # Cooijmans et al.: a small initial gain keeps the gates unsaturated


class StepBatchNormalization(keras.layers.Layer):
    """Batch norm over a recurrent cell's batch at one step, with moving
    averages kept per step (Cooijmans et al. 2017): `steps` rows of them, the
    row of the step being read as a one-hot vector passed with the inputs.

    In training it normalizes by the batch's moments and moves only the
    current step's row towards them; in inference it reads that row.

    Args:
        steps: rows of moving averages, one per step.
        center: whether to add a learned offset.
        momentum: of the moving averages, as Keras's batch norm takes it.
        epsilon: added to the variance.
    """

    def __init__(self, steps, center=True, momentum=BATCH_MOMENTUM, epsilon=1e-3, **kwargs):
        super().__init__(**kwargs)
        self.steps = steps
        self.center = center
        self.momentum = momentum
        self.epsilon = epsilon

    def build(self, input_shape):
        features = (input_shape[-1],)
        self.gamma = self.add_weight(
            shape=features, initializer=keras.initializers.Constant(BN_GAMMA), name="gamma"
        )
        self.beta = (
            self.add_weight(shape=features, initializer="zeros", name="beta")
            if self.center
            else None
        )
        rows = (self.steps, *features)
        self.moving_mean = self.add_weight(
            shape=rows, initializer="zeros", trainable=False, name="moving_mean"
        )
        self.moving_variance = self.add_weight(
            shape=rows, initializer="ones", trainable=False, name="moving_variance"
        )

    def call(self, inputs, step, training=False):
        row = ops.expand_dims(step, -1)  # (steps, 1): 1 on the current step's row
        if training:
            mean, variance = ops.moments(inputs, axes=[0])
            rate = (1 - self.momentum) * row
            self.moving_mean.assign(self.moving_mean + rate * (mean - self.moving_mean))
            self.moving_variance.assign(
                self.moving_variance + rate * (variance - self.moving_variance)
            )
        else:
            mean = ops.sum(row * self.moving_mean, axis=0)
            variance = ops.sum(row * self.moving_variance, axis=0)
        outputs = (inputs - mean) * ops.rsqrt(variance + self.epsilon) * self.gamma
        return outputs if self.beta is None else outputs + self.beta

    def get_config(self):
        return {
            **super().get_config(),
            "steps": self.steps,
            "center": self.center,
            "momentum": self.momentum,
            "epsilon": self.epsilon,
        }


class NormalizedLSTMCell(keras.layers.Layer):
    """An LSTM cell with batch or layer norm inside its recurrence (see the module).

    Args:
        units: the state's width.
        norm: `"batch"` (recurrent batch norm) or `"layer"` (layer-normalized LSTM).
        seed: seeds the kernels' initializers.
        step_statistics: batch norm only: keep moving averages for each of
            this many first steps (the cell then counts its steps in a third
            state); None: one set shared by every step.
    """

    def __init__(self, units, norm, seed=0, step_statistics=None, **kwargs):
        super().__init__(**kwargs)
        if norm not in CELL_NORMS:
            raise ValueError(
                f"norm must be one of {', '.join(CELL_NORMS)} inside an LSTM cell, got "
                f"norm={norm!r}"
            )
        if step_statistics is not None and (norm != "batch" or step_statistics < 1):
            raise ValueError(
                "step_statistics must be a positive number of steps, for batch norm only, got "
                f"step_statistics={step_statistics!r} with norm={norm!r}"
            )
        self.units = units
        self.norm = norm
        self.seed = seed
        self.step_statistics = step_statistics
        # The step counter, where the statistics are per step: a float state
        # of width 1, as every state of a Keras RNN is a float tensor.
        self.state_size = [units, units] + ([1] if step_statistics else [])
        self.output_size = units
        self.x_norm, self.h_norm = (self._norm(f"{term}_norm", offset=False) for term in "xh")
        self.c_norm = self._norm("c_norm", offset=True)

    def _norm(self, name, offset):
        if self.norm == "layer":
            return keras.layers.LayerNormalization(name=name)
        if self.step_statistics:
            return StepBatchNormalization(self.step_statistics, center=offset, name=name)
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
        h, c, *counter = states
        options = {"training": training}
        if counter:  # every example is at the same step: read it from the first
            step = ops.minimum(ops.cast(counter[0][0, 0], "int32"), self.step_statistics - 1)
            options["step"] = ops.one_hot(step, self.step_statistics, dtype=inputs.dtype)
        gates = (
            self.x_norm(ops.matmul(inputs, self.kernel), **options)
            + self.h_norm(ops.matmul(h, self.recurrent_kernel), **options)
            + self.bias
        )
        i, f, g, o = ops.split(gates, 4, axis=-1)
        c = ops.sigmoid(f) * c + ops.sigmoid(i) * ops.tanh(g)
        h = ops.sigmoid(o) * ops.tanh(self.c_norm(c, **options))
        return h, [h, c, *(count + 1 for count in counter)]

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "norm": self.norm,
            "seed": self.seed,
            "step_statistics": self.step_statistics,
        }
