"""TensorFlow kernels: the fused batch-norm op, instance norm and weight norm
with hand-written gradients, and sums across `tf.distribute` replicas.

Imported only on the TensorFlow backend, through `keras_norms.kernels`.
"""

import tensorflow as tf

from keras_norms.kernels import generic

# TensorFlow's fused kernel raises a smaller epsilon to this value.
_FUSED_MIN_EPSILON = 1.001e-5
_FUSED_DTYPES = ("float16", "bfloat16", "float32")


def batch_norm(inputs, axes, epsilon):
    return FusedBatchNorm.for_inputs(inputs, axes, epsilon)


class FusedBatchNorm:
    """Batch norm through `tf.compat.v1.nn.fused_batch_norm`.

    The kernel normalizes the channel axis of a rank-4 tensor, reducing over
    the three others. Any input whose single normalized axis is the last one
    or axis 1 reshapes to that form for free: channels-last to
    `(-1, 1, 1, C)` (NHWC), channels-first to `(batch, C, -1, 1)` (NCHW).
    """

    def __init__(self, channel_axis, ndim, epsilon):
        self.channels_last = channel_axis == ndim - 1
        self.epsilon = epsilon

    @classmethod
    def for_inputs(cls, inputs, axes, epsilon):
        """Returns a kernel for `inputs`, or None where it does not apply."""
        ndim = len(inputs.shape)
        if (
            len(axes) != 1
            or axes[0] not in (1, ndim - 1)
            or epsilon < _FUSED_MIN_EPSILON
            or tf.as_dtype(inputs.dtype).name not in _FUSED_DTYPES
        ):
            return None
        return cls(axes[0], ndim, epsilon)

    def __call__(self, x, gamma, beta, moving_mean, moving_variance, training):
        """Returns the outputs (in `x.dtype`) and the biased batch moments.

        In inference the returned moments are the moving statistics.
        """
        x = tf.convert_to_tensor(x)
        shape = tf.shape(x)
        channels = moving_mean.shape[0]
        if self.channels_last:
            x4 = tf.reshape(x, (-1, 1, 1, channels))
            data_format = "NHWC"
        else:
            x4 = tf.reshape(x, (shape[0], channels, -1, 1))
            data_format = "NCHW"
        gamma = tf.ones((channels,)) if gamma is None else tf.identity(gamma)
        beta = tf.zeros((channels,)) if beta is None else tf.identity(beta)
        if training:
            y, mean, variance = tf.compat.v1.nn.fused_batch_norm(
                x4,
                gamma,
                beta,
                epsilon=self.epsilon,
                data_format=data_format,
                is_training=True,
            )
            # The kernel returns the unbiased variance; the layers keep the
            # biased one. n == 1 gives 0 either way.
            n = tf.cast(tf.size(x4) // channels, variance.dtype)
            variance = variance * (n - 1.0) / tf.maximum(n, 1.0)
        else:
            mean = tf.identity(moving_mean)
            variance = tf.identity(moving_variance)
            y, _, _ = tf.compat.v1.nn.fused_batch_norm(
                x4,
                gamma,
                beta,
                mean=mean,
                variance=variance,
                epsilon=self.epsilon,
                data_format=data_format,
                is_training=False,
            )
        return tf.reshape(y, shape), mean, variance


def supports_cross_replica():
    return True


def cross_replica_sum(tensors):
    """Sums `tensors` across the replicas of the current tf.distribute strategy.

    Outside a replica context (no strategy, or the default one) this is the
    identity.
    """
    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return tensors
    return context.all_reduce(tf.distribute.ReduceOp.SUM, tensors)


def instance_norm(x, gamma, beta, axes, epsilon, with_statistics):
    """Normalizes `x` over `axes` with a hand-written gradient.

    The statistics come with the outputs at no extra cost, so they are
    returned whether or not `with_statistics` asks for them.

    Autodiff through the moments would re-read the tensor many times; the
    closed form below needs two reductions (means of `dy` and of `dy` times
    the centred input) and one elementwise pass:
    `dx = scale * (dy - mean(dy) - x_hat * mean(dy * x_hat))`.
    """
    # A missing gamma or beta is a constant that broadcasts against anything.
    unit = [1] * len(x.shape)
    gamma = tf.ones(unit, x.dtype) if gamma is None else tf.convert_to_tensor(gamma)
    beta = tf.zeros(unit, x.dtype) if beta is None else tf.convert_to_tensor(beta)

    @tf.custom_gradient
    def normalize(x, gamma, beta):
        mean, variance = tf.nn.moments(x, axes, keepdims=True)
        inv = tf.math.rsqrt(variance + epsilon)
        scale = inv * gamma
        y = x * scale + (beta - mean * scale)

        def grad(dy, unused_dmean, unused_dvariance):
            # Centred, so inputs far from zero keep their precision.
            centred = x - mean
            mean_dy = tf.reduce_mean(dy, axis=axes, keepdims=True)
            mean_dy_xhat = inv * tf.reduce_mean(dy * centred, axis=axes, keepdims=True)
            dx = dy * scale - centred * (scale * inv * mean_dy_xhat) - (scale * mean_dy)
            size = tf.cast(tf.size(x) // tf.size(mean), x.dtype)
            dgamma = _sum_to_shape_of(mean_dy_xhat * size, gamma)
            dbeta = _sum_to_shape_of(mean_dy * size, beta)
            return dx, dgamma, dbeta

        return (y, mean, variance), grad

    return normalize(x, gamma, beta)


def _sum_to_shape_of(values, like):
    """Sums `values` over the axes where `like` has size 1, to `like`'s shape.

    Per-instance gradients of a broadcast weight add up over the batch (and
    over every axis, for a scalar stand-in).
    """
    axes = [a for a, size in enumerate(like.shape) if size == 1]
    return tf.reshape(tf.reduce_sum(values, axis=axes, keepdims=True), tf.shape(like))


def weight_norm(v, g, norm_axes):
    """`v * (g / ||v||)` with a hand-written gradient.

    With `s = g / ||v||` and `d = sum(dw * v)` per unit (one reduction,
    shared by both gradients): `dv = s * (dw - v * d / ||v||^2)` and
    `dg = d / ||v||`. TensorFlow runs autodiff's gradient as more separate
    passes over the kernel (`benchmarks/bench_weight_norm_forms.py`). Below
    the norm's floor the norm is a constant and `dv = s * dw`.
    """

    @tf.custom_gradient
    def normalize(v, g):
        squared = tf.reduce_sum(tf.square(v), axis=norm_axes, keepdims=True)
        inverse = tf.math.rsqrt(tf.maximum(squared, generic.MIN_SQUARED_NORM))
        scale = g * inverse
        # 1 / ||v||^2 where the norm depends on v, 0 below the floor.
        inverse_squared = tf.where(squared >= generic.MIN_SQUARED_NORM, tf.square(inverse), 0.0)

        def grad(dw):
            dot = tf.reduce_sum(dw * v, axis=norm_axes, keepdims=True)
            return scale * (dw - v * (dot * inverse_squared)), dot * inverse

        return v * scale, grad

    # A variable argument of a custom gradient would get no gradient.
    v = tf.cast(tf.convert_to_tensor(v), tf.float32)
    return normalize(v, tf.convert_to_tensor(g))
