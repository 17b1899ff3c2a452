"""The kernels written with `keras.ops` only: they run on every backend."""

import math

from keras import ops

from keras_norms import _statistics

# Floor of the squared kernel norm, so an all-zero kernel column gives a zero
# effective kernel instead of NaN.
MIN_SQUARED_NORM = 1e-12


def batch_norm(inputs, axes, epsilon):
    # No fused kernel: the layer's own keras.ops path runs.
    return None


def instance_norm(x, gamma, beta, axes, epsilon, with_statistics):
    mean, variance, _ = _statistics.moments(x, axes)
    outputs = _statistics.normalize(x, mean, variance, gamma, beta, epsilon)
    return outputs, mean, variance


def weight_norm(v, g, norm_axes):
    """Forms the per-unit factor `g / ||v||` first, so the full-size kernel
    is read once for the norm and once by one multiply. XLA fuses the
    autodiff gradient as well as a hand-written one
    (`benchmarks/bench_weight_norm_forms.py`), so JAX keeps this form."""
    v = ops.cast(v, "float32")
    squared = ops.sum(ops.square(v), axis=norm_axes, keepdims=True)
    return v * (g * ops.rsqrt(ops.maximum(squared, MIN_SQUARED_NORM)))


def cross_replica_sum(tensors):
    return tensors


def supports_cross_replica():
    return False


def is_nonempty(x):
    shape = ops.shape(x)
    if all(isinstance(size, int) for size in shape):
        return math.prod(shape) > 0
    return ops.size(x) > 0
