"""Backend-specific kernels behind one interface.

The layers call the functions below and never ask which backend they run
on. Each backend may have a module here (`tensorflow.py`, `torch.py`) that
defines any of these functions with the same signature; a function it does
not define, and every function on a backend without a module (JAX, whose
XLA compiler fuses the generic path), comes from `generic.py`, written with
`keras.ops` only. Supporting a new backend is one file named after it.

Every backend kernel computes what the generic one computes; the tests
check outputs, gradients and statistics against it.
"""

import importlib

import keras

from keras_norms.kernels import generic

# Backend name -> its module here, or `generic` where it has none.
_modules = {}


def _backend_module(name):
    if name not in _modules:
        try:
            _modules[name] = importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as error:
            if error.name != f"{__name__}.{name}":
                raise
            _modules[name] = generic
    return _modules[name]


def _implementation(function):
    module = _backend_module(keras.backend.backend())
    return getattr(module, function, getattr(generic, function))


def backend_name():
    """The name of the running Keras backend, for error messages."""
    return keras.backend.backend()


def batch_norm(inputs, axes, epsilon):
    """A fused batch-norm kernel for `inputs`, or None where none applies.

    `axes` are the normalized (kept) axes and `inputs` a tensor with no mask
    and no ghost batches. The kernel is called as
    `kernel(x, gamma, beta, moving_mean, moving_variance, training)` with the
    layer's variables (gamma and beta may be None) and returns the outputs
    and, in training, the biased batch mean and variance, shaped like
    `moving_mean`; in inference, the moving statistics.
    """
    return _implementation("batch_norm")(inputs, axes, epsilon)


def instance_norm(x, gamma, beta, axes, epsilon, with_statistics):
    """Normalizes `x` over `axes`, per sample and channel.

    `gamma` and `beta` (or None) are shaped to broadcast against `x`.
    Returns `(outputs, mean, variance)`, the statistics per instance with
    keepdims shapes and the variance biased; both are None unless
    `with_statistics`.
    """
    return _implementation("instance_norm")(x, gamma, beta, axes, epsilon, with_statistics)


def weight_norm(v, g, norm_axes):
    """The effective kernel `g * v / ||v||`, in float32.

    The norm runs over `norm_axes`; `g` has `v`'s rank with size 1 on those
    axes. A column of `v` that is all zeros gives zeros (NaN on torch, whose
    fused kernel, like `torch.nn.utils.weight_norm`, has no floor).
    """
    return _implementation("weight_norm")(v, g, norm_axes)


def cross_replica_sum(tensors):
    """Sums each tensor of the list `tensors` across replicas.

    The identity outside a multi-replica `tf.distribute` strategy, and on
    backends whose distribution shards one global array, where ordinary
    reductions already see the whole batch.
    """
    return _implementation("cross_replica_sum")(tensors)


def supports_cross_replica():
    """Whether per-replica statistics need `cross_replica_sum` to agree."""
    return _implementation("supports_cross_replica")()


def is_nonempty(x):
    """Whether `x` has any entry, as a Python bool where its size is known
    when the layer runs or is traced, else as a boolean tensor.

    An empty batch (a replica's share of a last, partial batch under a
    distribution strategy) has no statistics: the layers' moving averages
    keep their values rather than become NaN.
    """
    return _implementation("is_nonempty")(x)
