"""The layers the conformance harness (test_conformance.py) checks, one row a
configuration.

Each row says how to make the layer, what input it takes and what any Keras
layer of that configuration must show: its numbers of trainable and
non-trainable weights and whether it takes masks. The rows cover each layer's
defaults and its non-default arguments, so the config and `.keras` round
trips see every argument.
"""

import dataclasses
from typing import Callable, Optional

import keras

from keras_norms import (
    BatchNormalization,
    FilterResponseNormalization,
    InstanceNormalization,
    MeanOnlyBatchNormalization,
    WeightNormalization,
)

L = keras.layers


@dataclasses.dataclass(frozen=True)
class LayerCase:
    """One layer configuration and what the harness expects of it."""

    id: str
    layer_class: type
    kwargs: dict
    input_shape: tuple
    trainable: int  # the number of trainable weights
    non_trainable: int  # and of the others
    supports_masking: bool = True
    # A wrapper's layer, made anew for each instance: a layer can be wrapped once.
    wrapped: Optional[Callable[[], keras.layers.Layer]] = None
    # Whether a training step moves the non-trainable weights (moving
    # statistics, data-dependent initialization).
    training_moves_state: bool = True
    # Why this backend cannot run the row at all, if it cannot.
    needs_tensorflow: Optional[str] = None

    def make(self, **extra_kwargs):
        kwargs = {**self.kwargs, **extra_kwargs}
        if self.wrapped is not None:
            return self.layer_class(self.wrapped(), **kwargs)
        return self.layer_class(**kwargs)


CASES = [
    LayerCase("batch_norm", BatchNormalization, {}, (8, 4, 3, 3), trainable=2, non_trainable=2),
    LayerCase(
        "batch_norm_two_axes_ghost_batches",
        BatchNormalization,
        dict(axis=[1, 3], momentum=0.5, virtual_batch_size=2),
        (4, 5, 5, 2),
        trainable=2,
        non_trainable=2,
    ),
    LayerCase(
        "batch_norm_every_argument",
        BatchNormalization,
        dict(
            axis=[1, 2],
            momentum=0.8,
            epsilon=1e-4,
            center=False,
            scale=True,
            beta_initializer="ones",
            gamma_initializer="zeros",
            moving_mean_initializer="ones",
            moving_variance_initializer="zeros",
            beta_regularizer=None,
            gamma_regularizer="l2",
            beta_constraint=None,
            gamma_constraint="non_neg",
            synchronized=False,
            virtual_batch_size=4,
        ),
        (8, 3, 4, 2),
        trainable=1,
        non_trainable=2,
    ),
    LayerCase(
        "batch_norm_synchronized",
        BatchNormalization,
        dict(synchronized=True),
        (8, 5),
        trainable=2,
        non_trainable=2,
        needs_tensorflow="synchronized=True is documented as TensorFlow-only",
    ),
    LayerCase(
        "batch_renorm",
        BatchNormalization,
        dict(
            renorm=True,
            renorm_clipping={"rmax": 3.0, "rmin": 0.3, "dmax": 5.0},
            renorm_momentum=0.7,
        ),
        (8, 4),
        trainable=2,
        # moving mean, variance and stddev; renorm mean and stddev.
        non_trainable=5,
    ),
    LayerCase(
        "mean_only_batch_norm",
        MeanOnlyBatchNormalization,
        {},
        (4, 6, 6, 3),
        trainable=1,
        non_trainable=1,
    ),
    LayerCase(
        "mean_only_batch_norm_every_argument",
        MeanOnlyBatchNormalization,
        dict(axis=1, momentum=0.5, center=False, beta_regularizer="l2", name="m"),
        (4, 3, 7),
        trainable=0,
        non_trainable=1,
    ),
    LayerCase(
        "instance_norm",
        InstanceNormalization,
        {},
        (2, 6, 5, 3),
        trainable=2,
        non_trainable=0,
        training_moves_state=False,
    ),
    LayerCase(
        "instance_norm_every_argument",
        InstanceNormalization,
        dict(
            axis=1,
            epsilon=1e-5,
            center=False,
            scale=True,
            beta_initializer="ones",
            gamma_initializer="random_uniform",
            beta_regularizer="l1",
            gamma_regularizer="l2",
            beta_constraint="non_neg",
            gamma_constraint="unit_norm",
            track_running_stats=True,
            momentum=0.9,
        ),
        (2, 3, 6, 5),
        trainable=1,
        non_trainable=2,
    ),
    LayerCase(
        # The arguments tfa.layers.InstanceNormalization users passed.
        "instance_norm_tensorflow_addons_arguments",
        InstanceNormalization,
        dict(
            axis=3,
            center=True,
            scale=True,
            beta_initializer="random_uniform",
            gamma_initializer="random_uniform",
        ),
        (2, 4, 4, 3),
        trainable=2,
        non_trainable=0,
        training_moves_state=False,
    ),
    LayerCase(
        "filter_response_norm",
        FilterResponseNormalization,
        {},
        (2, 6, 6, 5),
        trainable=2,
        non_trainable=0,
        training_moves_state=False,
    ),
    LayerCase(
        "filter_response_norm_every_argument",
        FilterResponseNormalization,
        dict(
            epsilon=1e-4,
            axis=[2, 3],
            beta_initializer="random_normal",
            gamma_regularizer="l2",
            beta_constraint="non_neg",
            learned_epsilon=True,
            learned_epsilon_constraint="non_neg",
            tlu=True,
            tau_initializer="ones",
            tau_regularizer="l1",
            tau_constraint="max_norm",
            name="frn",
        ),
        (2, 5, 4, 6),
        # gamma, beta, the learned epsilon and tau.
        trainable=4,
        non_trainable=0,
        training_moves_state=False,
    ),
    LayerCase(
        "weight_norm_dense",
        WeightNormalization,
        {},
        (6, 4),
        # g, and the Dense's kernel (v) and bias.
        trainable=3,
        # g_offset, bias_offset, initialized.
        non_trainable=3,
        wrapped=lambda: L.Dense(5),
    ),
    LayerCase(
        "weight_norm_conv2d_every_argument",
        WeightNormalization,
        dict(data_init=False, epsilon=1e-4, name="w"),
        (2, 5, 5, 2),
        trainable=3,
        non_trainable=3,
        supports_masking=False,
        wrapped=lambda: L.Conv2D(3, 2, activation="relu"),
        # Without data init nothing but the optimizer changes a weight.
        training_moves_state=False,
    ),
    LayerCase(
        "weight_norm_simple_rnn",
        WeightNormalization,
        {},
        (3, 5, 3),
        # g and recurrent_g; the kernel, recurrent kernel and bias.
        trainable=5,
        non_trainable=3,
        wrapped=lambda: L.SimpleRNN(4),
    ),
    LayerCase(
        "weight_norm_lstm",
        WeightNormalization,
        {},
        (3, 5, 3),
        trainable=5,
        non_trainable=3,
        wrapped=lambda: L.LSTM(4, return_sequences=True),
    ),
    LayerCase(
        "weight_norm_gru",
        WeightNormalization,
        {},
        (3, 5, 3),
        trainable=5,
        non_trainable=3,
        wrapped=lambda: L.GRU(4),
    ),
]
