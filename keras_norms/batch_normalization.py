"""Batch normalization with a fused TensorFlow kernel, masking and ghost batches."""

import keras
from keras import backend
from keras import ops
from keras.layers import InputSpec
from keras.layers import Layer

from keras_norms import _statistics
from keras_norms import _validation
from keras_norms import _weights
from keras_norms import kernels


@keras.saving.register_keras_serializable(package="keras_norms")
class BatchNormalization(Layer):
    """Normalizes each channel with the statistics of the batch.

    In training (`fit()`, or a call with `training=True`), each channel is
    normalized with the mean and variance of the current batch:

    `y = gamma * (x - mean(x)) / sqrt(var(x) + epsilon) + beta`

    and moving averages of those statistics are updated:

    `moving_mean = momentum * moving_mean + (1 - momentum) * mean(x)`, and the
    same for `moving_variance`. The variance is the biased batch variance (the
    mean squared deviation, divided by `n`, not `n - 1`), as in Keras, so a
    channel with a single value in the batch gives variance 0 and a finite
    output instead of NaN.

    In inference (`evaluate()`, `predict()`, `training=False`), the moving
    statistics take the place of the batch's. A frozen layer
    (`trainable=False`) always runs in inference mode and never updates its
    moving statistics, as in Keras.

    A drop-in for `keras.layers.BatchNormalization`, with the same arguments,
    plus a list `axis` and ghost batches (`virtual_batch_size`). On the
    TensorFlow and torch backends it runs the framework's fused batch-norm
    kernel (`fused_batch_norm`, `torch.nn.functional.batch_norm`) whenever
    that kernel computes the same thing (no mask, no ghost batches, one
    normalized axis that is first or last after the batch axis, no
    cross-replica statistics); everywhere else, and on JAX, it runs a generic
    `keras.ops` path. Statistics and weights stay float32 under mixed precision.

    Args:
        axis: Integer or list of integers, the axes that keep their own
            statistics (typically the features axis; `axis=1` after a
            `channels_first` convolution). All other axes are reduced.
        momentum: Momentum of the moving averages, in [0, 1).
        epsilon: Positive float added to the variance to avoid dividing by
            zero.
        center: If `True`, add the offset `beta`.
        scale: If `True`, multiply by `gamma`.
        beta_initializer: Initializer for `beta`.
        gamma_initializer: Initializer for `gamma`.
        moving_mean_initializer: Initializer for the moving mean.
        moving_variance_initializer: Initializer for the moving variance.
        beta_regularizer: Optional regularizer for `beta`.
        gamma_regularizer: Optional regularizer for `gamma`.
        beta_constraint: Optional constraint for `beta`.
        gamma_constraint: Optional constraint for `gamma`.
        synchronized: If `True` (TensorFlow backend only), the statistics are
            those of the global batch across all replicas of a
            `tf.distribute` strategy; otherwise each replica uses its own.
        virtual_batch_size: Optional positive integer: ghost batch
            normalization. The batch is split into groups of this many
            samples, each normalized with its own statistics; the batch size
            must be a multiple of it. The moving statistics average those of
            the groups.
        **kwargs: Base layer keyword arguments (e.g. `name` and `dtype`).

    Call arguments:
        inputs: Input tensor of rank >= 2.
        training: Python boolean, whether to normalize with the batch's
            statistics (and update the moving ones) or with the moving ones.
        mask: Optional boolean tensor with the input's shape minus the
            normalized axis, e.g. `(batch, time)` for `(batch, time,
            features)`. Masked positions are left out of the batch
            statistics.

    Example:

    >>> layer = keras_norms.BatchNormalization()
    >>> x = np.random.normal(3.0, 2.0, size=(32, 8, 8, 16))
    >>> y = layer(x, training=True)  # zero mean, unit variance per channel

    Reference:
        - [Ioffe and Szegedy, 2015](https://arxiv.org/abs/1502.03167).
        - [Hoffer et al., 2017](https://arxiv.org/abs/1705.08741) (ghost
          batch normalization).
    """

    def __init__(
        self,
        axis=-1,
        momentum=0.99,
        epsilon=1e-3,
        center=True,
        scale=True,
        beta_initializer="zeros",
        gamma_initializer="ones",
        moving_mean_initializer="zeros",
        moving_variance_initializer="ones",
        beta_regularizer=None,
        gamma_regularizer=None,
        beta_constraint=None,
        gamma_constraint=None,
        synchronized=False,
        virtual_batch_size=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.axis = _validation.check_axis(axis, allow_list=True)
        self.momentum = _validation.check_momentum(momentum)
        self.epsilon = _validation.check_epsilon(epsilon)
        if synchronized and not kernels.supports_cross_replica():
            raise ValueError(
                "Argument `synchronized=True` is only supported with the "
                f"TensorFlow backend. Received: synchronized={synchronized!r} "
                f"on the {kernels.backend_name()} backend"
            )
        self.synchronized = bool(synchronized)
        if virtual_batch_size is not None and (
            not isinstance(virtual_batch_size, int)
            or isinstance(virtual_batch_size, bool)
            or virtual_batch_size < 1
        ):
            raise ValueError(
                "Argument `virtual_batch_size` must be a positive integer or "
                f"None. Received: virtual_batch_size={virtual_batch_size!r}"
            )
        self.virtual_batch_size = virtual_batch_size
        self.center = center
        self.scale = scale
        _weights.set_arguments(
            self,
            "gamma",
            initializer=gamma_initializer,
            regularizer=gamma_regularizer,
            constraint=gamma_constraint,
        )
        _weights.set_arguments(
            self,
            "beta",
            initializer=beta_initializer,
            regularizer=beta_regularizer,
            constraint=beta_constraint,
        )
        _weights.set_arguments(
            self, "moving_mean", initializer=moving_mean_initializer
        )
        _weights.set_arguments(
            self, "moving_variance", initializer=moving_variance_initializer
        )
        self.supports_masking = True

        self.gamma = None
        self.beta = None
        self.moving_mean = None
        self.moving_variance = None

    def build(self, input_shape):
        self._axes = _validation.check_input_shape(
            input_shape, self.axis, 2, self.name
        )
        ndim = len(input_shape)
        self._reduction_axes = tuple(
            a for a in range(ndim) if a not in self._axes
        )
        # Weights have the normalized axes' sizes; in `call` they are
        # reshaped to broadcast against the input.
        shape = tuple(input_shape[a] for a in self._axes)
        self._broadcast_shape = _weights.broadcast_shape(input_shape, self._axes)
        if self.scale:
            self.gamma = _weights.add_affine(self, "gamma", shape)
        if self.center:
            self.beta = _weights.add_affine(self, "beta", shape)
        self.moving_mean = _weights.add_moving_statistic(
            self, "moving_mean", shape
        )
        self.moving_variance = _weights.add_moving_statistic(
            self, "moving_variance", shape
        )
        self.input_spec = InputSpec(
            ndim=ndim, axes={a: input_shape[a] for a in self._axes}
        )

    def call(self, inputs, training=None, mask=None):
        training = bool(training) and self.trainable
        if mask is not None:
            mask = self._check_mask(inputs, mask)
        self._check_virtual_batch(inputs)

        fused = self._fused_kernel(inputs, mask)
        if fused is not None:
            return self._call_fused(fused, inputs, training)

        # Statistics in float32 (or float64 for float64 inputs): float16
        # overflows when squaring inputs of magnitude ~1e3 and above.
        compute_dtype = backend.result_type(inputs.dtype, "float32")
        x = ops.cast(inputs, compute_dtype)
        gamma, beta, moving_mean, moving_variance = (
            self._weights_as(compute_dtype, self._broadcast_shape)
        )
        if training:
            mean, variance = self._batch_moments(x, mask)
            self._update_moving_statistics(mean, variance, mask)
            if self.virtual_batch_size is not None:
                outputs = self._ghost_normalize(x, mean, variance, gamma, beta)
                return ops.cast(outputs, self.compute_dtype)
        else:
            mean, variance = moving_mean, moving_variance
        outputs = _statistics.normalize(
            x, mean, variance, gamma, beta, self.epsilon
        )
        return ops.cast(outputs, self.compute_dtype)

    def _weights_as(self, dtype, shape):
        return tuple(
            _weights.as_broadcast(weight, dtype, shape)
            for weight in (
                self.gamma,
                self.beta,
                self.moving_mean,
                self.moving_variance,
            )
        )

    def _batch_moments(self, x, mask):
        """Batch statistics, shaped like `_broadcast_shape`.

        With ghost batches, the statistics have an extra leading axis, one
        entry per virtual batch.
        """
        all_reduce = kernels.cross_replica_sum if self.synchronized else None
        if self.virtual_batch_size is None:
            return _statistics.moments(
                x, self._reduction_axes, mask=mask, all_reduce=all_reduce
            )
        x = self._split_virtual_batches(x)
        if mask is not None:
            mask = self._split_virtual_batches(mask)
        axes = (1,) + tuple(a + 1 for a in self._reduction_axes if a != 0)
        return _statistics.moments(x, axes, mask=mask, all_reduce=all_reduce)

    def _split_virtual_batches(self, x):
        shape = ops.shape(x)
        return ops.reshape(
            x, (-1, self.virtual_batch_size) + tuple(shape[1:])
        )

    def _ghost_normalize(self, x, mean, variance, gamma, beta):
        shape = ops.shape(x)
        x = self._split_virtual_batches(x)
        outputs = _statistics.normalize(
            x, mean, variance, gamma, beta, self.epsilon
        )
        return ops.reshape(outputs, shape)

    def _update_moving_statistics(self, mean, variance, mask):
        if self.virtual_batch_size is not None:
            mean = ops.mean(mean, axis=0)
            variance = ops.mean(variance, axis=0)
        shape = self.moving_mean.shape
        mean = ops.reshape(mean, shape)
        variance = ops.reshape(variance, shape)
        if mask is not None:
            # A batch with every position masked has no statistics: its
            # zeros must not pull the moving averages towards 0.
            any_valid = ops.any(mask)
            mean = ops.where(
                any_valid, mean, ops.convert_to_tensor(self.moving_mean)
            )
            variance = ops.where(
                any_valid, variance, ops.convert_to_tensor(self.moving_variance)
            )
        _statistics.moving_average(self.moving_mean, mean, self.momentum)
        _statistics.moving_average(
            self.moving_variance, variance, self.momentum
        )

    def _fused_kernel(self, inputs, mask):
        """The backend's fused kernel for these inputs, or None."""
        if (
            mask is not None
            or self.virtual_batch_size is not None
            or self.synchronized
        ):
            return None
        return kernels.batch_norm(inputs, self._axes, self.epsilon)

    def _call_fused(self, fused, inputs, training):
        outputs, mean, variance = fused(
            inputs,
            self.gamma,
            self.beta,
            self.moving_mean,
            self.moving_variance,
            training=training,
        )
        if training:
            _statistics.moving_average(self.moving_mean, mean, self.momentum)
            _statistics.moving_average(
                self.moving_variance, variance, self.momentum
            )
        return ops.cast(outputs, self.compute_dtype)

    def _check_mask(self, inputs, mask):
        if len(self._axes) != 1 or len(mask.shape) != len(inputs.shape) - 1:
            raise ValueError(
                "The mask must have the input's shape without the normalized "
                f"axis. Received: mask.shape={tuple(mask.shape)}, "
                f"inputs.shape={tuple(inputs.shape)}, axis={self.axis!r}"
            )
        return ops.expand_dims(mask, self._axes[0])

    def _check_virtual_batch(self, inputs):
        batch = inputs.shape[0]
        if (
            self.virtual_batch_size is not None
            and batch is not None
            and batch % self.virtual_batch_size
        ):
            raise ValueError(
                "Argument `virtual_batch_size` must divide the batch size. "
                f"Received: virtual_batch_size={self.virtual_batch_size} for "
                f"a batch of {batch}"
            )

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        base_config = super().get_config()
        config = {
            "axis": list(self.axis)
            if isinstance(self.axis, tuple)
            else self.axis,
            "momentum": self.momentum,
            "epsilon": self.epsilon,
            "center": self.center,
            "scale": self.scale,
            **_weights.config(
                self, "beta", "gamma", "moving_mean", "moving_variance"
            ),
            "synchronized": self.synchronized,
            "virtual_batch_size": self.virtual_batch_size,
        }
        return {**base_config, **config}
