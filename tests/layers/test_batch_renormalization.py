"""BatchNormalization(renorm=True) against a NumPy reference of Keras's batch
renormalization."""

import functools
import re

import keras
import numpy as np
import pytest

from keras_norms import BatchNormalization
from tests.layers.backend_utils import gradients, random_normal, to_numpy

random = functools.partial(random_normal, loc=1.5, scale=2.0)
EPSILON = 1e-3


class NumpyRenorm:
    """Keras's batch renormalization, step by step, in float64."""

    def __init__(self, channels, clipping, momentum, renorm_momentum, rng):
        self.clipping = clipping
        self.momentum = momentum
        self.renorm_momentum = renorm_momentum
        self.gamma = rng.uniform(0.5, 2.0, channels)
        self.beta = rng.normal(size=channels)
        self.moving_mean = rng.normal(size=channels)
        self.moving_stddev = rng.uniform(0.5, 2.0, channels)
        self.moving_variance = self.moving_stddev**2 - EPSILON
        self.renorm_mean = rng.normal(size=channels)
        self.renorm_stddev = rng.uniform(0.5, 2.0, channels)
        self.clipped = {"r": False, "d": False}

    def load_into(self, layer):
        for name in (
            "gamma",
            "beta",
            "moving_mean",
            "moving_variance",
            "moving_stddev",
            "renorm_mean",
            "renorm_stddev",
        ):
            getattr(layer, name).assign(getattr(self, name).astype("float32"))

    def corrections(self, mean, stddev):
        renorm_stddev = np.maximum(self.renorm_stddev, np.sqrt(EPSILON))
        r = stddev / renorm_stddev
        d = (mean - self.renorm_mean) / renorm_stddev
        r_clipped = np.clip(r, self.clipping.get("rmin", 0), self.clipping.get("rmax", np.inf))
        dmax = self.clipping.get("dmax", np.inf)
        d_clipped = np.clip(d, -dmax, dmax)
        self.clipped["r"] |= bool(np.any(r_clipped != r))
        self.clipped["d"] |= bool(np.any(d_clipped != d))
        return r_clipped, d_clipped

    def step(self, x):
        """The training output for channels-last `x`; updates the state."""
        x = np.asarray(x, np.float64).reshape(-1, x.shape[-1])
        mean, variance = x.mean(axis=0), x.var(axis=0)
        stddev = np.sqrt(variance + EPSILON)
        r, d = self.corrections(mean, stddev)
        y = ((x - mean) / stddev * r + d) * self.gamma + self.beta
        m, rm = self.momentum, self.renorm_momentum
        self.renorm_mean = self.renorm_mean * rm + mean * (1 - rm)
        self.renorm_stddev = self.renorm_stddev * rm + stddev * (1 - rm)
        self.moving_mean = self.moving_mean * m + mean * (1 - m)
        self.moving_stddev = self.moving_stddev * m + stddev * (1 - m)
        self.moving_variance = np.maximum(self.moving_stddev**2 - EPSILON, 0)
        return y


STATE = ("moving_mean", "moving_variance", "moving_stddev", "renorm_mean", "renorm_stddev")
CLIPPINGS = [
    {},
    # Tight enough that r and d are clipped on these inputs.
    {"rmin": 0.9, "rmax": 1.1, "dmax": 0.2},
]


@pytest.mark.parametrize("clipping", CLIPPINGS)
@pytest.mark.parametrize("shape,axis", [((16, 5), -1), ((4, 6, 5, 3), -1), ((4, 3, 6, 5), 1)])
def test_training_steps_match_numpy(clipping, shape, axis):
    channels = shape[axis]
    reference = NumpyRenorm(channels, clipping, 0.9, 0.8, np.random.default_rng(0))
    layer = BatchNormalization(
        axis=axis,
        momentum=0.9,
        renorm=True,
        renorm_clipping=clipping,
        renorm_momentum=0.8,
    )
    layer.build(shape)
    reference.load_into(layer)
    for seed in range(3):
        x = random(shape, seed=seed)
        y = to_numpy(layer(x, training=True))
        channels_last = np.moveaxis(x, axis, -1)
        expected = reference.step(channels_last).reshape(channels_last.shape)
        np.testing.assert_allclose(y, np.moveaxis(expected, -1, axis), rtol=1e-4, atol=1e-4)
        for name in STATE:
            np.testing.assert_allclose(
                to_numpy(getattr(layer, name)),
                getattr(reference, name),
                rtol=1e-5,
                atol=1e-5,
                err_msg=name,
            )
    # The clipped cases must clip r and d somewhere, the others nowhere.
    assert reference.clipped == {"r": bool(clipping), "d": bool(clipping)}


def test_gradients_treat_r_and_d_as_constants():
    shape = (16, 4)
    reference = NumpyRenorm(4, {}, 0.9, 0.8, np.random.default_rng(1))
    layer = BatchNormalization(renorm=True)
    layer.build(shape)
    reference.load_into(layer)
    x, dy = random(shape), random(shape, seed=1)
    dx, (dgamma, dbeta) = gradients(layer, x, dy, training=True)

    xd, dyd = x.astype(np.float64), dy.astype(np.float64)
    mean, variance = xd.mean(axis=0), xd.var(axis=0)
    stddev = np.sqrt(variance + EPSILON)
    r, d = reference.corrections(mean, stddev)
    x_hat = (xd - mean) / stddev
    g = dyd * reference.gamma * r
    ref_dx = (g - g.mean(axis=0) - x_hat * (g * x_hat).mean(axis=0)) / stddev
    np.testing.assert_allclose(dx, ref_dx, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(dgamma, (dyd * (x_hat * r + d)).sum(axis=0), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(dbeta, dyd.sum(axis=0), rtol=1e-5, atol=1e-5)


def test_inference_is_that_of_batch_normalization():
    shape = (8, 6, 5)
    plain = BatchNormalization()
    renorm = BatchNormalization(renorm=True)
    for layer in (plain, renorm):
        layer.build(shape)
    rng = np.random.default_rng(2)
    for name in ("gamma", "beta", "moving_mean", "moving_variance"):
        value = rng.uniform(0.5, 2.0, 5).astype("float32")
        getattr(plain, name).assign(value)
        getattr(renorm, name).assign(value)
    x = random(shape)
    np.testing.assert_allclose(
        to_numpy(renorm(x, training=False)),
        to_numpy(plain(x, training=False)),
        atol=1e-6,
    )


def test_masked_positions_are_left_out_of_the_renorm_statistics():
    x = random((4, 6, 3))
    mask = np.ones((4, 6), bool)
    mask[:, 4:] = False
    x_masked = x.copy()
    x_masked[:, 4:] = 1e4
    valid = BatchNormalization(renorm=True, momentum=0.5, renorm_momentum=0.5)
    padded = BatchNormalization(renorm=True, momentum=0.5, renorm_momentum=0.5)
    y_valid = to_numpy(valid(x[:, :4], training=True))
    y_padded = to_numpy(padded(x_masked, training=True, mask=mask))
    np.testing.assert_allclose(y_padded[:, :4], y_valid, rtol=1e-4, atol=1e-4)
    for name in STATE:
        np.testing.assert_allclose(
            to_numpy(getattr(padded, name)),
            to_numpy(getattr(valid, name)),
            rtol=1e-5,
            atol=1e-5,
            err_msg=name,
        )


def test_fully_masked_batch_leaves_every_statistic_alone():
    layer = BatchNormalization(renorm=True)
    x = random((4, 6, 3))
    layer.build(x.shape)
    before = {name: to_numpy(getattr(layer, name)) for name in STATE}
    layer(x, training=True, mask=np.zeros((4, 6), bool))
    for name in STATE:
        np.testing.assert_array_equal(to_numpy(getattr(layer, name)), before[name])


def test_stddevs_start_at_the_root_of_the_initial_moving_variance():
    layer = BatchNormalization(
        renorm=True, moving_variance_initializer=keras.initializers.Constant(4.0)
    )
    layer.build((None, 5))
    np.testing.assert_allclose(to_numpy(layer.moving_stddev), 2.0)
    np.testing.assert_allclose(to_numpy(layer.renorm_stddev), 2.0)
    assert [w.name for w in layer.weights] == [
        "gamma",
        "beta",
        "moving_mean",
        "moving_variance",
        "moving_stddev",
        "renorm_mean",
        "renorm_stddev",
    ]
    assert len(layer.trainable_weights) == 2


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"renorm": 1}, "Argument `renorm` must be a bool. Received: renorm=1"),
        (
            {"renorm": True, "renorm_clipping": {"random_key": 1.0}},
            "Received invalid keys for `renorm_clipping` argument: {'random_key': 1.0}",
        ),
        (
            {"renorm": True, "renorm_clipping": [("rmax", 1.0)]},
            "Argument `renorm_clipping` must be a dict or None. "
            "Received: renorm_clipping=[('rmax', 1.0)]",
        ),
        (
            {"renorm": True, "renorm_clipping": {"rmax": 0.0, "rmin": 1.0}},
            "rmax should be greater than or equal to rmin in the "
            "`renorm_clipping` argument. Received: "
            "renorm_clipping={'rmax': 0.0, 'rmin': 1.0}",
        ),
        (
            {"renorm": True, "renorm_clipping": {"rmax": 1.0, "dmax": -1.0}},
            "dmax should be non-negative in the `renorm_clipping` argument. "
            "Received: renorm_clipping={'rmax': 1.0, 'dmax': -1.0}",
        ),
        ({"renorm": True, "renorm_clipping": {"rmax": "3"}}, "must map 'rmax' to a number"),
        (
            {"renorm": True, "renorm_momentum": 1.0},
            "Argument `renorm_momentum` must be a number in [0, 1). Received: renorm_momentum=1.0",
        ),
        (
            {"renorm": True, "virtual_batch_size": 2},
            "`renorm=True` cannot be combined with ghost batches",
        ),
    ],
)
def test_bad_arguments_are_named(kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        BatchNormalization(**kwargs)
