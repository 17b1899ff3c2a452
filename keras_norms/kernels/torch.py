"""torch kernels: `torch.nn.functional.batch_norm` (cuDNN on a GPU) for batch
norm and for instance norm with the channels first, a channels-last
instance norm with a hand-written gradient, and the fused weight-norm op
`torch._weight_norm`.

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


def _batch_norm(x, gamma, beta, moving_mean, moving_variance, training, channels_last, epsilon):
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
        y = F.batch_norm(x, mean, variance, gamma, beta, True, 1.0, epsilon)
        n = x.numel() // x.shape[1]
        variance = variance * ((n - 1) / n)
    else:
        mean, variance = moving_mean, moving_variance
        y = F.batch_norm(x, mean, variance, gamma, beta, False, 0.0, epsilon)
    if channels_last:
        y = y.permute(0, 2, 3, 1)
    return y.reshape(shape), mean, variance


def instance_norm(x, gamma, beta, axes, epsilon, with_statistics):
    """Channels last: `_ChannelsLastInstanceNorm` on an `(N, L, C)` view.
    Channels elsewhere: `F.batch_norm` over a `(1, N * C, L)` view, one
    channel per instance, as `F.instance_norm` does it (a copy first unless
    the channels are axis 1).

    With buffers and momentum 1 `F.batch_norm` also writes out each
    instance's mean and unbiased variance. A single value per instance
    (which it refuses) and an empty input take the generic path.
    """
    x = ops.convert_to_tensor(x)
    if x.numel() == 0:
        return generic.instance_norm(x, gamma, beta, axes, epsilon, with_statistics)
    (channel,) = [a for a in range(1, x.ndim) if a not in axes]
    if channel == x.ndim - 1:
        return _channels_last_instance_norm(x, gamma, beta, epsilon)
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


def _channels_last_instance_norm(x, gamma, beta, epsilon):
    batch, channels = x.shape[0], x.shape[-1]

    def per_channel(weight):
        return None if weight is None else _tensor(weight).reshape(1, 1, channels)

    y, mean, variance = _ChannelsLastInstanceNorm.apply(
        x.reshape(batch, -1, channels), per_channel(gamma), per_channel(beta), epsilon
    )
    shape = [batch] + [1] * (x.ndim - 2) + [channels]
    return y.reshape(x.shape), mean.reshape(shape), variance.reshape(shape)


def _centered_moments(x):
    """The mean over axis 1, the centered `x` and the biased variance."""
    mean = x.mean(1, keepdim=True)
    centered = x - mean
    return mean, centered, (centered * centered).mean(1, keepdim=True)


class _ChannelsLastInstanceNorm(torch.autograd.Function):
    """Instance norm of an `(N, L, C)` tensor over L, in place in its
    channels-last layout.

    torch's own kernels want channels first, and the copies there and back
    (of the input, the output's gradient and the input's gradient) cost
    more than the normalization. Here every pass is a contiguous elementwise
    op or a reduction over L, and the gradient is written out directly
    rather than left to autograd, which would keep and reread the
    intermediates. The variance takes two passes (of the centered input), as
    the generic path does: one pass loses digits for inputs far from zero.
    Returns the outputs and the biased statistics, shaped `(N, 1, C)`.
    """

    @staticmethod
    def forward(ctx, x, gamma, beta, epsilon):
        mean, centered, variance = _centered_moments(x)
        inv = torch.rsqrt(variance + epsilon)
        scale = inv if gamma is None else inv * gamma
        if beta is None:
            y = centered.mul_(scale)
        else:
            # Into `centered`'s memory: on the CPU a fresh tensor of this
            # size costs its page faults, more than the pass itself.
            y = torch.addcmul(beta, centered, scale, out=centered)
        ctx.save_for_backward(x, gamma, beta, mean, inv)
        ctx.epsilon = epsilon
        ctx.mark_non_differentiable(mean, variance)
        return y, mean, variance

    @staticmethod
    def backward(ctx, dy, _, __):
        x, gamma, beta, mean, inv = ctx.saved_tensors
        if torch.is_grad_enabled():
            return _ChannelsLastInstanceNorm._differentiable_backward(ctx, dy)
        # With xhat = (x - mean) * inv, a = gamma * inv and means over L:
        # dx = a * (dy - mean(dy) - xhat * mean(dy * xhat)).
        size = x.shape[1]
        centered = x - mean
        dy_sum = dy.sum(1, keepdim=True)
        dy_centered_sum = (dy * centered).sum(1, keepdim=True)
        a = inv if gamma is None else inv * gamma
        dx = None
        if ctx.needs_input_grad[0]:
            b = a * inv.square() * dy_centered_sum / -size
            dx = torch.addcmul(a * dy_sum / -size, centered, b, out=centered)
            dx.addcmul_(dy, a)
        dgamma = dbeta = None
        if gamma is not None and ctx.needs_input_grad[1]:
            dgamma = (inv * dy_centered_sum).sum(0, keepdim=True)
        if beta is not None and ctx.needs_input_grad[2]:
            dbeta = dy_sum.sum(0, keepdim=True)
        return dx, dgamma, dbeta, None

    @staticmethod
    def _differentiable_backward(ctx, dy):
        # A backward pass that builds a graph (create_graph=True, for a
        # gradient penalty, say) differentiates the formula itself, so that
        # higher derivatives are exact.
        x, gamma, beta = ctx.saved_tensors[:3]
        wanted = [
            t
            for t, needed in zip((x, gamma, beta), ctx.needs_input_grad)
            if needed and t is not None
        ]
        with torch.enable_grad():
            _, centered, variance = _centered_moments(x)
            y = centered * torch.rsqrt(variance + ctx.epsilon)
            if gamma is not None:
                y = y * gamma
            if beta is not None:
                y = y + beta
        grads = iter(torch.autograd.grad(y, wanted, dy, create_graph=True))
        return tuple(
            next(grads) if needed and t is not None else None
            for t, needed in zip((x, gamma, beta), ctx.needs_input_grad)
        ) + (None,)


def weight_norm(v, g, norm_axes):
    """The fused `torch._weight_norm` where one axis indexes output units."""
    v = ops.cast(v, "float32")
    unit_axes = [a for a in range(v.ndim) if a not in norm_axes]
    if len(unit_axes) != 1:
        return generic.weight_norm(v, g, norm_axes)
    return torch._weight_norm(v, _tensor(g), unit_axes[0])


def is_nonempty(x):
    """Under `torch.compile` the size may be symbolic, and only a tensor made
    from it traces; eagerly it is an int."""
    if torch.compiler.is_compiling():
        return torch.scalar_tensor(x.numel(), device=x.device) > 0
    return x.numel() > 0
