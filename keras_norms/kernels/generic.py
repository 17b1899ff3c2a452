"""The kernels written with `keras.ops` only: they run on every backend."""

from keras import ops

from keras_norms import _statistics

# Floor of the squared kernel norm, so an all-zero kernel column gives a zero
# effective kernel instead of NaN.
_MIN_SQUARED_NORM = 1e-12


def batch_norm(inputs, axes, epsilon):
    # No fused kernel: the layer's own keras.ops path runs.
    return None


def instance_norm(x, gamma, beta, axes, epsilon, with_statistics):
    mean, variance = _statistics.moments(x, axes)
    outputs = _statistics.normalize(x, mean, variance, gamma, beta, epsilon)
    return outputs, mean, variance


def weight_norm(v, g, norm_axes):
    """`v * (g / ||v||)` with a hand-written gradient.

    The per-unit factor `g / ||v||` is formed first, so the forward pass
    reads the full-size kernel once for the norm and once by one multiply.
    Backward, with `s = g / ||v||` and `d = sum(dw * v)` per unit (the one
    reduction, shared by both gradients):
    `dv = s * (dw - v * d / ||v||^2)` and `dg = d / ||v||`, two passes
    where autodiff takes more (`benchmarks/bench_weight_norm_forms.py`).
    Below the norm's floor the norm is a constant and `dv = s * dw`.
    """

    @ops.custom_gradient
    def normalize(v, g):
        squared = ops.sum(ops.square(v), axis=norm_axes, keepdims=True)
        inverse = ops.rsqrt(ops.maximum(squared, _MIN_SQUARED_NORM))
        scale = g * inverse
        # 1 / ||v||^2 where the norm depends on v, 0 below the floor.
        inverse_squared = ops.where(
            squared >= _MIN_SQUARED_NORM, ops.square(inverse), 0.0
        )

        def grad(*args, upstream=None):
            dw = args[0] if upstream is None else upstream
            dot = ops.sum(dw * v, axis=norm_axes, keepdims=True)
            return scale * (dw - v * (dot * inverse_squared)), dot * inverse

        return v * scale, grad

    # A TensorFlow custom gradient gives a variable argument no gradient.
    v = ops.convert_to_tensor(ops.cast(v, "float32"))
    return normalize(v, ops.convert_to_tensor(g))


def cross_replica_sum(tensors):
    return tensors


def supports_cross_replica():
    return False
