"""Moments that agree across the replicas of a distribution strategy.

Under a TensorFlow `tf.distribute` strategy each replica sees its own part of
the global batch, so per-replica statistics differ; they are combined here
with sums across replicas (`kernels.cross_replica_sum`). On JAX, Keras's
distribution API shards one global array, and ordinary reductions already
see the whole batch.
"""

from keras import ops

from keras_norms import kernels


def combine_moments(count, mean, sum_squares):
    """Mean and variance over all replicas from each replica's moments.

    Args:
        count: scalar, the (weighted) number of values on this replica.
        mean: per-unit mean on this replica.
        sum_squares: per-unit sum of squared deviations from `mean`.

    Returns:
        `(mean, variance, count)` of the values of all replicas together
        (mean and variance 0 where there are none). Each
        replica's deviations are re-centred on the global mean before they
        are summed (Chan et al.), which keeps the variance accurate when the
        mean is large.
    """
    total_count, weighted_mean = kernels.cross_replica_sum([count, count * mean])
    divisor = ops.maximum(total_count, 1.0)
    global_mean = weighted_mean / divisor
    (total_squares,) = kernels.cross_replica_sum(
        [sum_squares + count * ops.square(mean - global_mean)]
    )
    return global_mean, total_squares / divisor, total_count
