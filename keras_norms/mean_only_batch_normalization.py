"""Mean-only batch normalization: batch centring with a learned bias."""

import keras
from keras import backend, ops
from keras.layers import InputSpec, Layer

from keras_norms import _masks, _statistics, _validation, _weights, kernels


@keras.saving.register_keras_serializable(package="keras_norms")
class MeanOnlyBatchNormalization(Layer):
    """Subtracts the batch mean of each channel and adds a learned bias.

    In training (`fit()`, or a call with `training=True`):

    `y = x - mean(x) + beta`

    with the mean taken over every axis but the channel axis, and the moving
    mean is updated: `moving_mean = momentum * moving_mean + (1 - momentum)
    * mean(x)`. In inference the moving mean takes the place of the batch's.
    The activations are not divided by their standard deviation, so the
    layer adds less noise than full batch normalization; combined with
    `WeightNormalization`, which fixes the scale, it is the configuration
    that did best in the weight normalization paper:

    ```python
    x = keras_norms.WeightNormalization(keras.layers.Conv2D(64, 3, use_bias=False))(x)
    x = keras_norms.MeanOnlyBatchNormalization()(x)
    ```

    The mean, the moving mean and `beta` stay float32 under mixed
    precision; the output has the layer's compute dtype.

    Args:
        axis: Integer, the channel axis, which keeps its own mean.
        momentum: Momentum of the moving mean, in [0, 1).
        center: If `True`, add the learned bias `beta`.
        beta_initializer: Initializer for `beta`.
        moving_mean_initializer: Initializer for the moving mean.
        beta_regularizer: Optional regularizer for `beta`.
        beta_constraint: Optional constraint for `beta`.
        **kwargs: Base layer keyword arguments (e.g. `name` and `dtype`).

    Call arguments:
        inputs: Input tensor of rank >= 2.
        training: Python boolean, whether to subtract the batch's mean (and
            update the moving one) or the moving mean.
        mask: Optional boolean tensor with the input's shape without its
            last axis, as `keras.layers.Masking` makes it (e.g. `(batch,
            time)` for `(batch, time, features)`), or of the input's rank and
            broadcastable to it. Masked positions are left out of the batch
            mean; a batch whose positions are all masked leaves the moving
            mean as it is.

    Example:

    >>> layer = keras_norms.MeanOnlyBatchNormalization()
    >>> x = np.random.normal(3.0, 2.0, size=(32, 16))
    >>> y = layer(x, training=True)  # zero mean per channel, scale kept

    Reference:

    - [Salimans & Kingma, 2016](https://arxiv.org/abs/1602.07868), section 3.
    """

    def __init__(
        self,
        axis=-1,
        momentum=0.99,
        center=True,
        beta_initializer="zeros",
        moving_mean_initializer="zeros",
        beta_regularizer=None,
        beta_constraint=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.axis = _validation.check_axis(axis)
        self.momentum = _validation.check_momentum(momentum)
        if not isinstance(center, bool):
            raise ValueError(f"Argument `center` must be a bool. Received: center={center!r}")
        self.center = center
        _weights.set_arguments(
            self,
            "beta",
            initializer=beta_initializer,
            regularizer=beta_regularizer,
            constraint=beta_constraint,
        )
        _weights.set_arguments(self, "moving_mean", initializer=moving_mean_initializer)
        self.supports_masking = True
        self.beta = None
        self.moving_mean = None

    def build(self, input_shape):
        (self._channel_axis,) = _validation.check_input_shape(input_shape, self.axis, 2, self.name)
        ndim = len(input_shape)
        self._reduction_axes = tuple(a for a in range(ndim) if a != self._channel_axis)
        channels = input_shape[self._channel_axis]
        self._broadcast_shape = _weights.broadcast_shape(input_shape, (self._channel_axis,))
        if self.center:
            self.beta = _weights.add_affine(self, "beta", (channels,))
        self.moving_mean = _weights.add_moving_statistic(self, "moving_mean", (channels,))
        self.input_spec = InputSpec(ndim=ndim, axes={self._channel_axis: channels})

    def call(self, inputs, training=None, mask=None):
        training = bool(training) and self.trainable
        if mask is not None:
            mask = _masks.as_input_rank(mask, inputs, self.name)
        # The mean in float32 (float64 for float64 inputs): a float16 sum over
        # a large batch loses the mean's low digits.
        dtype = backend.result_type(inputs.dtype, "float32")
        x = ops.cast(inputs, dtype)
        if training:
            mean, count = _statistics.mean(x, self._reduction_axes, mask=mask)
            _statistics.update_moving_statistics(
                [(self.moving_mean, mean)],
                self.momentum,
                count=count,
                nonempty=kernels.is_nonempty(x),
            )
            mean = ops.reshape(mean, (-1,))
        else:
            mean = ops.cast(self.moving_mean, dtype)
        offset = -mean
        if self.beta is not None:
            offset = offset + ops.cast(self.beta, dtype)
        outputs = x + ops.reshape(offset, self._broadcast_shape)
        return ops.cast(outputs, self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        base_config = super().get_config()
        config = {
            "axis": self.axis,
            "momentum": self.momentum,
            "center": self.center,
            **_weights.config(self, "beta", "moving_mean"),
        }
        return {**base_config, **config}
