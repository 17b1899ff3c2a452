"""Batch normalization with a fused TensorFlow kernel, masking and ghost batches."""

import keras
from keras import backend, ops
from keras.layers import InputSpec, Layer

from keras_norms import _masks, _statistics, _validation, _weights, kernels


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

    A drop-in for `keras.layers.BatchNormalization`, with the same arguments
    (batch renormalization included), plus a list `axis` and ghost batches
    (`virtual_batch_size`). On the TensorFlow and torch backends it runs the
    framework's fused batch-norm kernel (`fused_batch_norm`,
    `torch.nn.functional.batch_norm`) whenever that kernel computes the same
    thing (no mask, no ghost batches, no renorm in training, one normalized
    axis that is first or last after the batch axis, no cross-replica
    statistics); everywhere else, and on JAX, it runs a generic `keras.ops`
    path. Statistics and weights stay float32 under mixed precision.

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
            normalization. In training the batch is split into groups of
            this many samples, each normalized with its own statistics; the
            batch size must be a multiple of it then. The moving statistics
            average those of the groups, and inference takes any batch size
            (Keras 2 asked for a multiple there too).
        renorm: If `True`, batch renormalization: in training, the
            normalized batch is corrected to `x_hat * r + d` with
            `r = sqrt(var + epsilon) / renorm_stddev` and
            `d = (mean - renorm_mean) / renorm_stddev` (constants for the
            gradient), moving averages of the batch mean and standard
            deviation kept with `renorm_momentum`. Inference is unchanged.
            Adds the non-trainable weights `moving_stddev`, `renorm_mean`
            and `renorm_stddev`; the moving variance is derived from
            `moving_stddev`, as in Keras. Not with `virtual_batch_size`.
        renorm_clipping: Optional dict with keys among `"rmax"`, `"rmin"`,
            `"dmax"`: `r` is clipped to `[rmin, rmax]` and `d` to
            `[-dmax, dmax]`; a missing key leaves that side unclipped.
        renorm_momentum: Momentum of the renorm averages, in [0, 1).
        **kwargs: Base layer keyword arguments (e.g. `name` and `dtype`).

    Call arguments:
        inputs: Input tensor of rank >= 2.
        training: Python boolean, whether to normalize with the batch's
            statistics (and update the moving ones) or with the moving ones.
        mask: Optional boolean tensor with the input's shape without its
            last axis, as `keras.layers.Masking` makes it (e.g. `(batch,
            time)` for `(batch, time, features)`), or of the input's rank and
            broadcastable to it. Masked positions are left out of the batch
            statistics; a batch, or ghost batch, whose positions are all
            masked leaves the moving statistics as they are.

    Example:

    >>> layer = keras_norms.BatchNormalization()
    >>> x = np.random.normal(3.0, 2.0, size=(32, 8, 8, 16))
    >>> y = layer(x, training=True)  # zero mean, unit variance per channel

    Reference:
        - [Ioffe and Szegedy, 2015](https://arxiv.org/abs/1502.03167).
        - [Hoffer et al., 2017](https://arxiv.org/abs/1705.08741) (ghost
          batch normalization).
        - [Ioffe, 2017](https://arxiv.org/abs/1702.03275) (batch
          renormalization).
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
        renorm=False,
        renorm_clipping=None,
        renorm_momentum=0.99,
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
        if not isinstance(renorm, bool):
            raise ValueError(f"Argument `renorm` must be a bool. Received: renorm={renorm!r}")
        if renorm and virtual_batch_size is not None:
            raise ValueError(
                "Argument `renorm=True` cannot be combined with ghost batches. "
                f"Received: renorm={renorm!r}, "
                f"virtual_batch_size={virtual_batch_size!r}"
            )
        self.renorm = renorm
        self.renorm_clipping = _validation.check_renorm_clipping(renorm_clipping)
        self.renorm_momentum = _validation.check_momentum(renorm_momentum, "renorm_momentum")
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
        _weights.set_arguments(self, "moving_mean", initializer=moving_mean_initializer)
        _weights.set_arguments(self, "moving_variance", initializer=moving_variance_initializer)
        self.supports_masking = True

        self.gamma = None
        self.beta = None
        self.moving_mean = None
        self.moving_variance = None

    def build(self, input_shape):
        self._axes = _validation.check_input_shape(input_shape, self.axis, 2, self.name)
        ndim = len(input_shape)
        self._reduction_axes = tuple(a for a in range(ndim) if a not in self._axes)
        # Weights have the normalized axes' sizes; in `call` they are
        # reshaped to broadcast against the input.
        shape = tuple(input_shape[a] for a in self._axes)
        self._broadcast_shape = _weights.broadcast_shape(input_shape, self._axes)
        if self.scale:
            self.gamma = _weights.add_affine(self, "gamma", shape)
        if self.center:
            self.beta = _weights.add_affine(self, "beta", shape)
        self.moving_mean = _weights.add_moving_statistic(self, "moving_mean", shape)
        self.moving_variance = _weights.add_moving_statistic(self, "moving_variance", shape)
        if self.renorm:
            self._add_renorm_statistics(shape)
        self.input_spec = InputSpec(ndim=ndim, axes={a: input_shape[a] for a in self._axes})

    def call(self, inputs, training=None, mask=None):
        training = bool(training) and self.trainable
        if mask is not None:
            mask = _masks.as_input_rank(mask, inputs, self.name)
        if training:  # inference normalizes with the moving statistics, whatever the batch
            self._check_virtual_batch(inputs)

        # Batch renormalization corrects the batch statistics: no fused kernel.
        fused = None if self.renorm and training else self._fused_kernel(inputs, mask)
        if fused is not None:
            return self._call_fused(fused, inputs, training)

        # Statistics in float32 (or float64 for float64 inputs): float16
        # overflows when squaring inputs of magnitude ~1e3 and above.
        compute_dtype = backend.result_type(inputs.dtype, "float32")
        x = ops.cast(inputs, compute_dtype)
        gamma, beta, moving_mean, moving_variance = self._weights_as(
            compute_dtype, self._broadcast_shape
        )
        if training:
            mean, variance, count = self._batch_moments(x, mask)
            nonempty = kernels.is_nonempty(x)
            if self.renorm:
                gamma, beta = self._renorm_corrected(mean, variance, gamma, beta)
                if mask is not None:
                    nonempty = ops.logical_and(nonempty, ops.any(mask))
                self._update_renorm_statistics(mean, variance, nonempty)
            else:
                self._update_moving_statistics(mean, variance, count, nonempty)
            if self.virtual_batch_size is not None:
                outputs = self._ghost_normalize(x, mean, variance, gamma, beta)
                return ops.cast(outputs, self.compute_dtype)
        else:
            mean, variance = moving_mean, moving_variance
        outputs = _statistics.normalize(x, mean, variance, gamma, beta, self.epsilon)
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
        """Batch statistics and their count, shaped like `_broadcast_shape`.

        With ghost batches, they have an extra leading axis, one entry per
        virtual batch.
        """
        all_reduce = kernels.cross_replica_sum if self.synchronized else None
        if self.virtual_batch_size is None:
            return _statistics.moments(x, self._reduction_axes, mask=mask, all_reduce=all_reduce)
        if mask is not None:
            # A mask broadcast over the batch is split like the batch.
            batch_shape = (ops.shape(x)[0],) + tuple(ops.shape(mask)[1:])
            mask = self._split_virtual_batches(ops.broadcast_to(mask, batch_shape))
        x = self._split_virtual_batches(x)
        axes = (1,) + tuple(a + 1 for a in self._reduction_axes if a != 0)
        return _statistics.moments(x, axes, mask=mask, all_reduce=all_reduce)

    def _split_virtual_batches(self, x):
        shape = ops.shape(x)
        return ops.reshape(x, (-1, self.virtual_batch_size) + tuple(shape[1:]))

    def _ghost_normalize(self, x, mean, variance, gamma, beta):
        shape = ops.shape(x)
        x = self._split_virtual_batches(x)
        outputs = _statistics.normalize(x, mean, variance, gamma, beta, self.epsilon)
        return ops.reshape(outputs, shape)

    def _update_moving_statistics(self, mean, variance, count, nonempty):
        _statistics.update_moving_statistics(
            [(self.moving_mean, mean), (self.moving_variance, variance)],
            self.momentum,
            count=count,
            grouped=self.virtual_batch_size is not None,
            nonempty=nonempty,
        )

    def _add_renorm_statistics(self, shape):
        """`moving_stddev`, `renorm_mean` and `renorm_stddev`, as in Keras.

        The standard deviations start at the square root of the moving
        variance's initial value.
        """
        moving_variance_initializer = self.moving_variance_initializer

        def stddev_initializer(shape, dtype=None):
            return ops.sqrt(moving_variance_initializer(shape, dtype=dtype))

        self.moving_stddev = _weights.add_moving_statistic(
            self, "moving_stddev", shape, initializer=stddev_initializer
        )
        self.renorm_mean = _weights.add_moving_statistic(
            self, "renorm_mean", shape, initializer=self.moving_mean_initializer
        )
        self.renorm_stddev = _weights.add_moving_statistic(
            self, "renorm_stddev", shape, initializer=stddev_initializer
        )

    def _renorm_corrected(self, mean, variance, gamma, beta):
        """`gamma` and `beta` with the renorm correction folded in.

        With `r = stddev / renorm_stddev` and
        `d = (mean - renorm_mean) / renorm_stddev`, clipped and held
        constant for the gradient, the output `(x_hat * r + d) * gamma +
        beta` is `x_hat * (r * gamma) + (d * gamma + beta)`.
        """
        dtype = mean.dtype
        shape = self._broadcast_shape
        stddev = ops.sqrt(variance + self.epsilon)
        renorm_mean = _weights.as_broadcast(self.renorm_mean, dtype, shape)
        # The floor keeps r and d finite early in training.
        renorm_stddev = ops.maximum(
            _weights.as_broadcast(self.renorm_stddev, dtype, shape),
            self.epsilon**0.5,
        )
        r = stddev / renorm_stddev
        d = (mean - renorm_mean) / renorm_stddev
        clipping = self.renorm_clipping
        if "rmin" in clipping:
            r = ops.maximum(r, clipping["rmin"])
        if "rmax" in clipping:
            r = ops.minimum(r, clipping["rmax"])
        if "dmax" in clipping:
            d = ops.clip(d, -clipping["dmax"], clipping["dmax"])
        r, d = ops.stop_gradient(r), ops.stop_gradient(d)
        if gamma is not None:
            r, d = r * gamma, d * gamma
        if beta is not None:
            d = d + beta
        return r, d

    def _update_renorm_statistics(self, mean, variance, nonempty):
        """Moves the renorm statistics (by `renorm_momentum`) and the moving
        ones (by `momentum`) towards the batch's, as Keras does: the moving
        standard deviation is averaged and the moving variance derived from
        it. A batch without values (`nonempty` false: empty, or fully
        masked) keeps every average."""
        shape = self.moving_mean.shape
        mean = ops.reshape(mean, shape)
        stddev = ops.reshape(ops.sqrt(variance + self.epsilon), shape)
        updates = [
            (self.renorm_mean, mean, self.renorm_momentum),
            (self.renorm_stddev, stddev, self.renorm_momentum),
            (self.moving_mean, mean, self.momentum),
            (self.moving_stddev, stddev, self.momentum),
        ]
        # Rounding could make the difference negative.
        variance = ops.relu(
            ops.square(
                ops.convert_to_tensor(self.moving_stddev) * self.momentum
                + stddev * (1.0 - self.momentum)
            )
            - self.epsilon
        )
        for variable, value, momentum in updates:
            _statistics.moving_average(variable, value, momentum, nonempty)
        self.moving_variance.assign(
            _statistics.unless_empty(nonempty, variance, self.moving_variance)
        )

    def _fused_kernel(self, inputs, mask):
        """The backend's fused kernel for these inputs, or None."""
        if mask is not None or self.virtual_batch_size is not None or self.synchronized:
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
            nonempty = kernels.is_nonempty(inputs)
            _statistics.moving_average(self.moving_mean, mean, self.momentum, nonempty)
            _statistics.moving_average(self.moving_variance, variance, self.momentum, nonempty)
        return ops.cast(outputs, self.compute_dtype)

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
            "axis": list(self.axis) if isinstance(self.axis, tuple) else self.axis,
            "momentum": self.momentum,
            "epsilon": self.epsilon,
            "center": self.center,
            "scale": self.scale,
            **_weights.config(self, "beta", "gamma", "moving_mean", "moving_variance"),
            "synchronized": self.synchronized,
            "virtual_batch_size": self.virtual_batch_size,
            "renorm": self.renorm,
            "renorm_clipping": dict(self.renorm_clipping),
            "renorm_momentum": self.renorm_momentum,
        }
        return {**base_config, **config}
