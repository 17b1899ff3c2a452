"""BatchNormalization with `center=False` or `scale=False`, on every path.

On TensorFlow both the fused kernel and the generic path are checked (the
fused one is confirmed taken); elsewhere the generic path is the only one.
Outputs, gradients and moving statistics are compared with NumPy.
"""

import functools

import numpy as np
import pytest

from keras_norms import BatchNormalization
from tests.layers import references
from tests.layers.backend_utils import BACKEND, gradients, random_normal, to_numpy

random = functools.partial(random_normal, loc=1.5, scale=2.0)

PATHS = ["fused", "generic"] if BACKEND == "tensorflow" else ["generic"]


@pytest.fixture(params=PATHS)
def path(request, monkeypatch):
    """Forces the generic path, or records that the fused kernel was used."""
    chosen = []
    original = BatchNormalization._fused_kernel

    def fused_kernel(self, inputs, mask):
        kernel = None if request.param == "generic" else original(self, inputs, mask)
        chosen.append(kernel is not None)
        return kernel

    monkeypatch.setattr(BatchNormalization, "_fused_kernel", fused_kernel)
    yield request.param
    assert chosen and all(used == (request.param == "fused") for used in chosen)


def broadcast(values, shape, axis):
    target = [1] * len(shape)
    target[axis] = -1
    return np.reshape(values, target)


@pytest.mark.parametrize("center,scale", [(False, True), (True, False), (False, False)])
@pytest.mark.parametrize("shape,axis", [((8, 5, 4, 3), 3), ((6, 3, 5, 4), 1)])
def test_training_matches_numpy_without_beta_or_gamma(path, center, scale, shape, axis):
    x, dy = random(shape), random(shape, seed=1)
    layer = BatchNormalization(axis=axis, center=center, scale=scale, momentum=0.5)
    layer.build(shape)
    rng = np.random.RandomState(3)
    gamma = beta = None
    if scale:
        layer.gamma.assign(rng.uniform(0.5, 2.0, layer.gamma.shape))
        gamma = broadcast(to_numpy(layer.gamma), shape, axis)
    if center:
        layer.beta.assign(rng.normal(size=layer.beta.shape))
        beta = broadcast(to_numpy(layer.beta), shape, axis)
    assert (layer.gamma is None) != scale and (layer.beta is None) != center

    y = to_numpy(layer(x, training=True))

    reduce = tuple(a for a in range(len(shape)) if a != axis)
    expected, mean, variance = references.normalize(x, reduce, gamma=gamma, beta=beta)
    np.testing.assert_allclose(y, expected, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(to_numpy(layer.moving_mean), 0.5 * mean.ravel(), rtol=1e-5)
    np.testing.assert_allclose(
        to_numpy(layer.moving_variance),
        0.5 + 0.5 * variance.ravel(),
        rtol=1e-5,
    )

    dx, dweights = gradients(layer, x, dy, training=True)
    ones = np.ones_like(mean)
    expected_dx, dgamma, dbeta = references.normalize_gradients(
        x, dy, reduce, gamma if scale else ones
    )
    np.testing.assert_allclose(dx, expected_dx, rtol=1e-3, atol=1e-4)
    expected_dweights = ([dgamma.ravel()] if scale else []) + ([dbeta.ravel()] if center else [])
    assert len(dweights) == len(expected_dweights)
    for got, want in zip(dweights, expected_dweights):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("center,scale", [(False, True), (True, False), (False, False)])
def test_inference_matches_numpy_without_beta_or_gamma(path, center, scale):
    shape = (8, 5, 4, 3)
    layer = BatchNormalization(center=center, scale=scale)
    layer.build(shape)
    rng = np.random.RandomState(4)
    layer.moving_mean.assign(rng.normal(size=3))
    layer.moving_variance.assign(rng.uniform(0.5, 3.0, 3))
    x = random(shape)
    expected = (x - to_numpy(layer.moving_mean)) / np.sqrt(to_numpy(layer.moving_variance) + 1e-3)
    if scale:
        layer.gamma.assign(rng.uniform(0.5, 2.0, 3))
        expected = expected * to_numpy(layer.gamma)
    if center:
        layer.beta.assign(rng.normal(size=3))
        expected = expected + to_numpy(layer.beta)

    y = to_numpy(layer(x, training=False))

    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-5)
