"""Moments that agree across the replicas of a distribution strategy.

Under a TensorFlow `tf.distribute` strategy each replica sees its own part of
the global batch, so per-replica statistics differ; they are combined here
with all-reduce sums. On JAX, Keras's distribution API shards one global
array, and ordinary reductions already see the whole batch.
"""

import keras
from keras import ops


def _identity(tensors):
    return tensors


def _all_reduce_sum():
    if keras.backend.backend() != "tensorflow":
        return _identity
    from keras_norms._tf_kernels import all_reduce_sum

    return all_reduce_sum


def combine_moments(count, mean, sum_squares):
    """Mean and variance over all replicas from each replica's moments.

    Args:
        count: scalar, the (weighted) number of values on this replica.
        mean: per-unit mean on this replica.
        sum_squares: per-unit sum of squared deviations from `mean`.

    Returns:
        `(mean, variance)` of the values of all replicas together. Each
        replica's deviations are re-centred on the global mean before they
        are summed (Chan et al.), which keeps the variance accurate when the
        mean is large.
    """
    all_reduce_sum = _all_reduce_sum()
    total_count, weighted_mean = all_reduce_sum([count, count * mean])
    total_count = ops.maximum(total_count, 1.0)
    global_mean = weighted_mean / total_count
    (total_squares,) = all_reduce_sum(
        [sum_squares + count * ops.square(mean - global_mean)]
    )
    return global_mean, total_squares / total_count
