"""Moments, moving averages and the normalization transform, in `keras.ops`.

This is the generic path that runs on every Keras backend; the backend
kernels in `keras_norms/kernels/` are tested equal to it. The three layers that
keep moving statistics (BatchNormalization, MeanOnlyBatchNormalization and
InstanceNormalization with running statistics) take their masked moments and
their moving-average updates from here.
"""

from keras import ops


def mean(x, axes, mask=None, all_reduce=None):
    """Mean of `x` over `axes` (`keepdims=True`) and the count behind it.

    Args:
        x: float tensor.
        axes: tuple of axes to reduce.
        mask: optional tensor of `x`'s rank that broadcasts to `x`; zero
            entries are left out of the mean. Where every entry of a
            reduction is masked the mean is 0, so outputs stay finite.
        all_reduce: optional function summing a list of tensors across
            replicas, for the mean over the global batch.

    Returns:
        `(mean, count)`. `count` is the number of unmasked values behind each
        entry of the mean (over all replicas); None without a mask, where
        every reduction counts all its values.
    """
    if mask is None and all_reduce is None:
        return ops.mean(x, axis=axes, keepdims=True), None
    mean, count, _ = _weighted_mean(x, axes, mask, all_reduce)
    return mean, (count if mask is not None else None)


def moments(x, axes, mask=None, all_reduce=None):
    """Mean and biased variance of `x` over `axes`, with `keepdims=True`.

    Takes the arguments of `mean`; returns `(mean, variance, count)`, with
    `count` as there. Fully masked reductions have mean and variance 0.

    The variance is computed in two passes (mean first, then the mean squared
    deviation), which keeps float32 accurate for inputs far from zero.
    """
    if mask is None and all_reduce is None:
        mean = ops.mean(x, axis=axes, keepdims=True)
        variance = ops.mean(ops.square(x - mean), axis=axes, keepdims=True)
        return mean, variance, None

    mean, count, weights = _weighted_mean(x, axes, mask, None)
    squared = ops.square(x - mean)
    if weights is not None:
        squared = squared * weights
    squared_sum = ops.sum(squared, axis=axes, keepdims=True)
    if all_reduce is None:
        variance = squared_sum / ops.maximum(count, 1.0)
    else:
        mean, variance, count = combine_moments(count, mean, squared_sum, all_reduce)
    return mean, variance, (count if mask is not None else None)


def combine_moments(count, mean, sum_squares, all_reduce):
    """Mean and variance over every replica from each replica's moments.

    Under a TensorFlow `tf.distribute` strategy each replica sees its own part
    of the global batch (on JAX, Keras's distribution API shards one global
    array, and ordinary reductions already see the whole batch).

    Args:
        count: the (weighted) number of values behind `mean` on this replica.
        mean: the mean on this replica.
        sum_squares: the sum of squared deviations from `mean`.
        all_reduce: function summing a list of tensors across replicas.

    Returns:
        `(mean, variance, count)` of every replica's values together (mean
        and variance 0 where there are none). Each replica's deviations are
        re-centred on the global mean before they are summed (Chan et al.),
        which keeps the variance accurate when the mean is large.
    """
    total_count, weighted_mean = all_reduce([count, count * mean])
    divisor = ops.maximum(total_count, 1.0)
    global_mean = weighted_mean / divisor
    (total_squares,) = all_reduce([sum_squares + count * ops.square(mean - global_mean)])
    return global_mean, total_squares / divisor, total_count


def _weighted_mean(x, axes, mask, all_reduce):
    """`(mean, count, weights)`; `weights` is the mask as `x`'s dtype."""
    if mask is None:
        weights = None
        total = ops.sum(x, axis=axes, keepdims=True)
        count = ops.ones_like(total) * ops.cast(_reduced_size(x, axes), x.dtype)
    else:
        weights = ops.broadcast_to(ops.cast(mask, x.dtype), ops.shape(x))
        total = ops.sum(x * weights, axis=axes, keepdims=True)
        count = ops.sum(weights, axis=axes, keepdims=True)
    if all_reduce is not None:
        total, count = all_reduce([total, count])
    # Fully masked reductions have count 0: their mean becomes 0.
    return total / ops.maximum(count, 1.0), count, weights


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


def update_moving_statistics(updates, momentum, count=None, grouped=False, nonempty=None):
    """Moves each moving statistic towards the batch's value of it.

    Args:
        updates: list of `(variable, statistic)` pairs, e.g. the moving mean
            and the batch mean. A statistic has the variable's values laid
            out as `moments` returns them (`keepdims` over the input's axes).
        momentum: the moving averages' momentum.
        count: optional, the count `moments` returned with the statistics.
            A statistic with count 0 comes from fully masked positions and
            has no value: it is left out, so padding never pulls the moving
            statistics towards 0.
        grouped: if set, the statistics have a leading axis of groups (ghost
            batches, or instances) and the variables move towards their
            average over the groups that have a value. A unit for which no
            group has one keeps its moving value.
        nonempty: optional boolean scalar, `kernels.is_nonempty(inputs)`:
            where false (an empty batch), every variable keeps its value.
    """
    has_value = None
    if count is not None:
        has_value = ops.cast(count > 0, updates[0][1].dtype)
    if grouped and has_value is not None:
        groups_with_value = ops.sum(has_value, axis=0)
        updates = [
            (variable, ops.sum(value * has_value, axis=0) / ops.maximum(groups_with_value, 1.0))
            for variable, value in updates
        ]
        has_value = groups_with_value
    elif grouped:
        updates = [(variable, ops.mean(value, axis=0)) for variable, value in updates]
    for variable, value in updates:
        value = ops.reshape(ops.cast(value, variable.dtype), variable.shape)
        if has_value is not None:
            keep = ops.reshape(has_value, variable.shape) == 0
            value = ops.where(keep, ops.convert_to_tensor(variable), value)
        moving_average(variable, value, momentum, nonempty=nonempty)


def moving_average(variable, value, momentum, nonempty=None):
    """Assigns `momentum * variable + (1 - momentum) * value` to `variable`,
    unless `nonempty` (a boolean scalar) is false."""
    moved = variable * momentum + value * (1.0 - momentum)
    variable.assign(unless_empty(nonempty, moved, variable))


def unless_empty(nonempty, value, variable):
    """`value`, or `variable`'s own value where `nonempty` is false.

    `nonempty` is `kernels.is_nonempty(inputs)` or None (no check): a Python
    bool needs no op, a tensor selects at run time.
    """
    if nonempty is None or nonempty is True:
        return value
    if nonempty is False:
        return ops.convert_to_tensor(variable)
    return ops.where(nonempty, value, ops.convert_to_tensor(variable))
