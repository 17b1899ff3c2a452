"""torch kernels: `torch.nn.functional.batch_norm` (cuDNN on a GPU) for batch
and instance norm, and the fused weight-norm op `torch._weight_norm`.

Imported only on the torch backend, through `keras_norms.kernels`.
"""

import functools

import torch
import torch.nn.functional as F
from keras import ops

from keras_norms.kernels import generic

_BATCH_NORM_DTYPES = (torch.float16, torch.bfloat16, torch.float32)


def _tensor(x):
    return None if x is None else ops.convert_to_tensor(x)


def batch_norm(inputs, axes, epsilon):
    """`F.batch_norm` where it computes what the layer does.

    It normalizes axis 1 of an `(N, C, ...)` tensor; a channels-last input
    is viewed as a `(1, C, M, 1)` tensor in torch's channels_last layout
    (same memory), which its channels-last kernel reads in place. torch
    refuses a training batch with a single value per channel (the layers
    give it variance 0), so such inputs take the generic path.
    """
    ndim = len(inputs.shape)
    if (
        len(axes) != 1
        or axes[0] not in (1, ndim - 1)
        or inputs.dtype not in _BATCH_NORM_DTYPES
        or inputs.numel() < 2 * inputs.shape[axes[0]]
    ):
        return None
    return functools.partial(
        _batch_norm,
        channels_last=axes[0] == ndim - 1,
        epsilon=epsilon,
    )


def _batch_norm(
    x, gamma, beta, moving_mean, moving_variance, training, channels_last, epsilon
):
    shape = x.shape
    x = ops.cast(x, "float32")
    if channels_last:
        x = x.reshape(1, -1, 1, shape[-1]).permute(0, 3, 1, 2)
    gamma, beta = _tensor(gamma), _tensor(beta)
    moving_mean, moving_variance = _tensor(moving_mean), _tensor(moving_variance)
    if training:
        # With momentum 1 torch writes the batch mean and the unbiased batch
        # variance into these buffers; the layers keep the biased variance.
        mean = torch.zeros_like(moving_mean)
        variance = torch.zeros_like(moving_variance)
        y = F.batch_norm(
            x, mean, variance, gamma, beta, True, 1.0, epsilon
        )
        n = x.numel() // x.shape[1]
        variance = variance * ((n - 1) / n)
    else:
        mean, variance = moving_mean, moving_variance
        y = F.batch_norm(x, mean, variance, gamma, beta, False, 0.0, epsilon)
    if channels_last:
        y = y.permute(0, 2, 3, 1)
    return y.reshape(shape), mean, variance


def instance_norm(x, gamma, beta, axes, epsilon, with_statistics):
    """`F.batch_norm` over a `(1, N * C, -1)` view: one channel per instance,
    as `F.instance_norm` does it.

    A channels-last input is copied to channels-first first: torch's
    channels-last group norm on the CPU takes the variance in one pass and
    loses digits for inputs far from zero. With buffers and momentum 1 the
    kernel also writes out each instance's mean and unbiased variance.
    A single value per instance (which torch refuses) takes the generic path.
    """
    x = ops.convert_to_tensor(x)
    (channel,) = [a for a in range(1, x.ndim) if a not in axes]
    x_first = torch.movedim(x, channel, 1).contiguous()
    batch, channels = x_first.shape[:2]
    size = x_first[0, 0].numel()
    if size < 2:
        return generic.instance_norm(x, gamma, beta, axes, epsilon, with_statistics)

    def per_instance(weight):
        if weight is None:
            return None
        return _tensor(weight).reshape(channels).repeat(batch)

    mean = variance = None
    if with_statistics:
        mean = x.new_zeros(batch * channels)
        variance = x.new_zeros(batch * channels)
    y = F.batch_norm(
        x_first.reshape(1, batch * channels, size),
        mean,
        variance,
        per_instance(gamma),
        per_instance(beta),
        True,
        1.0,
        epsilon,
    )
    y = torch.movedim(y.reshape(x_first.shape), 1, channel)
    if not with_statistics:
        return y, None, None
    shape = [1] * x.ndim
    shape[0], shape[channel] = batch, channels
    mean = mean.reshape(batch, channels).reshape(shape)
    variance = variance * ((size - 1) / size)
    variance = variance.reshape(batch, channels).reshape(shape)
    return y, mean, variance


def weight_norm(v, g, norm_axes):
    """The fused `torch._weight_norm` where one axis indexes output units."""
    v = ops.cast(v, "float32")
    unit_axes = [a for a in range(v.ndim) if a not in norm_axes]
    if len(unit_axes) != 1:
        return generic.weight_norm(v, g, norm_axes)
    return torch._weight_norm(v, _tensor(g), unit_axes[0])
