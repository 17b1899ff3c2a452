"""Moments and the normalization transform, written with `keras.ops` only.

This is the generic path that runs on every Keras backend; the backend
kernels in `keras_norms/kernels/` are tested equal to it.
"""

from keras import ops


def moments(x, axes, mask=None, all_reduce=None):
    """Mean and biased variance of `x` over `axes`, with `keepdims=True`.

    Args:
        x: float tensor.
        axes: tuple of axes to reduce.
        mask: optional tensor broadcastable to `x`; zero entries are left out
            of the statistics. Where every entry of a reduction is masked the
            mean and variance are 0, so the output stays finite.
        all_reduce: optional function summing a list of tensors across
            replicas, for statistics over the global batch.

    The variance is computed in two passes (mean first, then the mean squared
    deviation), which keeps float32 accurate for inputs far from zero.
    """
    if mask is None and all_reduce is None:
        mean = ops.mean(x, axis=axes, keepdims=True)
        variance = ops.mean(ops.square(x - mean), axis=axes, keepdims=True)
        return mean, variance

    if mask is None:
        total = ops.sum(x, axis=axes, keepdims=True)
        count = ops.cast(_reduced_size(x, axes), x.dtype)
        count = ops.ones_like(total) * count
    else:
        weights = ops.cast(mask, x.dtype)
        weights = ops.broadcast_to(weights, ops.shape(x))
        total = ops.sum(x * weights, axis=axes, keepdims=True)
        count = ops.sum(weights, axis=axes, keepdims=True)
    if all_reduce is not None:
        total, count = all_reduce([total, count])
    # Fully masked reductions have count 0: their statistics become 0.
    safe_count = ops.maximum(count, 1.0)
    mean = total / safe_count

    squared = ops.square(x - mean)
    if mask is not None:
        squared = squared * weights
    squared_sum = ops.sum(squared, axis=axes, keepdims=True)
    if all_reduce is not None:
        (squared_sum,) = all_reduce([squared_sum])
    return mean, squared_sum / safe_count


def _reduced_size(x, axes):
    shape = ops.shape(x)
    size = 1
    for a in axes:
        size = size * shape[a]
    return size


def normalize(x, mean, variance, gamma, beta, epsilon):
    """Returns `gamma * (x - mean) / sqrt(variance + epsilon) + beta`.

    Folds the statistics and the affine weights into one per-channel scale
    and offset first, so the full-size tensor is read once, by one multiply
    and one add. `gamma` and `beta` may be None.
    """
    inv = ops.rsqrt(variance + epsilon)
    if gamma is not None:
        inv = inv * gamma
    offset = -mean * inv
    if beta is not None:
        offset = offset + beta
    return x * inv + offset


def moving_average(variable, value, momentum):
    """Assigns `momentum * variable + (1 - momentum) * value` to `variable`."""
    variable.assign(variable * momentum + value * (1.0 - momentum))
