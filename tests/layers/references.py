"""NumPy references written from the normalization formulas, in float64."""

import numpy as np


def normalize(x, axes, gamma=None, beta=None, epsilon=1e-3, mask=None):
    """`gamma * (x - mean) / sqrt(var + epsilon) + beta` over `axes`.

    `mask` (broadcastable to `x`) leaves entries out of the statistics.
    Returns the output, the mean and the biased variance (keepdims).
    """
    x = np.asarray(x, np.float64)
    if mask is None:
        mean = x.mean(axis=axes, keepdims=True)
        variance = x.var(axis=axes, keepdims=True)
    else:
        w = np.broadcast_to(np.asarray(mask, np.float64), x.shape)
        count = np.maximum(w.sum(axis=axes, keepdims=True), 1.0)
        mean = (x * w).sum(axis=axes, keepdims=True) / count
        variance = (w * (x - mean) ** 2).sum(axis=axes, keepdims=True) / count
    y = (x - mean) / np.sqrt(variance + epsilon)
    if gamma is not None:
        y = y * gamma
    if beta is not None:
        y = y + beta
    return y, mean, variance


def normalize_gradients(x, dy, axes, gamma, epsilon=1e-3):
    """Gradients of `sum(normalize(x) * dy)` w.r.t. x, gamma and beta.

    From the chain rule through the mean and variance:
    `dx = inv * (g - mean(g) - x_hat * mean(g * x_hat))` with `g = dy * gamma`.
    `gamma` broadcasts against `x`; its gradients are summed to its shape.
    """
    x = np.asarray(x, np.float64)
    dy = np.asarray(dy, np.float64)
    mean = x.mean(axis=axes, keepdims=True)
    inv = 1.0 / np.sqrt(x.var(axis=axes, keepdims=True) + epsilon)
    x_hat = (x - mean) * inv
    g = dy * gamma
    dx = inv * (
        g - g.mean(axis=axes, keepdims=True) - x_hat * (g * x_hat).mean(axis=axes, keepdims=True)
    )
    gamma = np.asarray(gamma)
    param_axes = tuple(a for a in range(x.ndim) if a >= gamma.ndim or gamma.shape[a] == 1)
    dgamma = (dy * x_hat).sum(axis=param_axes, keepdims=True)
    dbeta = dy.sum(axis=param_axes, keepdims=True)
    return dx, dgamma.reshape(gamma.shape), dbeta.reshape(gamma.shape)
