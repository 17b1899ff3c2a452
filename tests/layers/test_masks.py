"""Masks in the three batch-statistics layers: the convention and the guards.

The mask follows Keras's convention for every `axis` (the input's shape
without its last axis) or has the input's own rank; masked positions hold
1e4, so any leak into the statistics shows. A batch, ghost batch or sample
whose positions are all masked has no statistics and leaves the moving
ones as they are.
"""

import functools
import re

import keras
import numpy as np
import pytest

from keras_norms import BatchNormalization, InstanceNormalization, MeanOnlyBatchNormalization
from tests.layers import references
from tests.layers.backend_utils import random_normal, to_numpy

random = functools.partial(random_normal, loc=1.5, scale=2.0)


def random_mask(shape, seed=7):
    mask = np.random.RandomState(seed).uniform(size=shape) < 0.7
    mask.flat[0] = True
    return mask


def padded(x, mask):
    """`x` with 1e4 wherever `mask` (of `x`'s rank) is False."""
    return np.where(np.broadcast_to(mask, x.shape), x, 1e4).astype("float32")


def keras_mask_and_full(shape, seed=7):
    """A mask in Keras's convention and the same mask at the input's rank."""
    mask = random_mask(shape[:-1], seed)
    return mask, mask[..., None]


# (input shape, axis): the normalized axis first, last, in the middle, a list.
BATCH_CASES = [
    ((5, 2, 3), 1),
    ((5, 2, 3), -1),
    ((4, 3, 6, 5), 1),
    ((4, 6, 5, 3), 2),
    ((4, 6, 5, 3), [1, 3]),
]


def normalized_axes(shape, axis):
    axes = axis if isinstance(axis, list) else [axis]
    return tuple(sorted(a % len(shape) for a in axes))


@pytest.mark.parametrize("shape,axis", BATCH_CASES)
def test_batch_normalization_takes_keras_masks_for_every_axis(shape, axis):
    mask, full = keras_mask_and_full(shape)
    x = padded(random(shape), full)
    layer = BatchNormalization(axis=axis, momentum=0.0)

    y = to_numpy(layer(x, training=True, mask=mask))

    kept = normalized_axes(shape, axis)
    reduce = tuple(a for a in range(len(shape)) if a not in kept)
    expected, mean, variance = references.normalize(x, reduce, mask=full)
    valid = np.broadcast_to(full, shape)
    np.testing.assert_allclose(y[valid], expected[valid], rtol=1e-4, atol=1e-4)
    moving_shape = layer.moving_mean.shape
    np.testing.assert_allclose(to_numpy(layer.moving_mean), mean.reshape(moving_shape), rtol=1e-5)
    np.testing.assert_allclose(
        to_numpy(layer.moving_variance),
        variance.reshape(moving_shape),
        rtol=1e-4,
    )


@pytest.mark.parametrize("shape,axis", [((5, 2, 3), 1), ((4, 6, 5, 3), 2)])
def test_mean_only_batch_normalization_takes_keras_masks(shape, axis):
    mask, full = keras_mask_and_full(shape)
    x = padded(random(shape), full)
    layer = MeanOnlyBatchNormalization(axis=axis, momentum=0.0, center=False)

    y = to_numpy(layer(x, training=True, mask=mask))

    reduce = tuple(a for a in range(len(shape)) if a != axis % len(shape))
    weights = np.broadcast_to(full, shape).astype(np.float64)
    mean = (x * weights).sum(reduce, keepdims=True) / weights.sum(reduce, keepdims=True)
    valid = np.broadcast_to(full, shape)
    np.testing.assert_allclose(y[valid], (x - mean)[valid], atol=1e-3)
    np.testing.assert_allclose(to_numpy(layer.moving_mean), mean.ravel(), rtol=1e-5)


@pytest.mark.parametrize("shape,axis", [((3, 8, 2), -1), ((3, 4, 8), 1), ((2, 5, 4, 3), -1)])
def test_instance_normalization_takes_keras_masks(shape, axis):
    mask, full = keras_mask_and_full(shape)
    x = padded(random(shape), full)
    layer = InstanceNormalization(axis=axis, center=False, scale=False)

    y = to_numpy(layer(x, mask=mask))

    channel = axis % len(shape)
    reduce = tuple(a for a in range(1, len(shape)) if a != channel)
    expected, _, _ = references.normalize(x, reduce, mask=full)
    valid = np.broadcast_to(full, shape)
    np.testing.assert_allclose(y[valid], expected[valid], rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize(
    "layer_class,kwargs",
    [
        (BatchNormalization, {"axis": 1, "momentum": 0.0}),
        (MeanOnlyBatchNormalization, {"axis": 1, "momentum": 0.0}),
        (InstanceNormalization, {"axis": 1, "track_running_stats": True, "momentum": 0.0}),
    ],
)
def test_channels_first_sequence_takes_a_mask_of_its_own_rank(layer_class, kwargs):
    """`(batch, steps)` padding on `(batch, channels, steps)`: mask[:, None]."""
    x = random((4, 3, 7))
    steps = random_mask((4, 7))
    x = padded(x, steps[:, None, :])
    channels_first = layer_class(**kwargs)
    channels_last = layer_class(**{**kwargs, "axis": -1})

    y_first = to_numpy(channels_first(x, training=True, mask=steps[:, None, :]))
    y_last = to_numpy(channels_last(np.transpose(x, (0, 2, 1)), training=True, mask=steps))

    valid = np.broadcast_to(steps[:, None, :], x.shape)
    np.testing.assert_allclose(y_first[valid], np.transpose(y_last, (0, 2, 1))[valid], atol=1e-4)
    for a, b in zip(channels_first.weights, channels_last.weights):
        np.testing.assert_allclose(to_numpy(a), to_numpy(b), rtol=1e-5)


@pytest.mark.parametrize(
    "layer_class", [BatchNormalization, MeanOnlyBatchNormalization, InstanceNormalization]
)
def test_a_mask_with_sizes_of_one_broadcasts(layer_class):
    x = random((2, 3, 4, 2))
    rows = random_mask((1, 3, 1))
    rows[0, 1, 0] = False
    layer = layer_class()
    broadcast = layer_class()

    y = to_numpy(layer(x, training=True, mask=rows))
    y_full = to_numpy(broadcast(x, training=True, mask=np.broadcast_to(rows, (2, 3, 4))))

    np.testing.assert_allclose(y, y_full, rtol=1e-6, atol=1e-6)
    assert not np.allclose(y, to_numpy(layer_class()(x, training=True)))


@pytest.mark.parametrize(
    "layer_class", [BatchNormalization, MeanOnlyBatchNormalization, InstanceNormalization]
)
@pytest.mark.parametrize(
    "input_shape,axis,mask_shape",
    [
        # The normalized axis left out instead of the last one.
        ((4, 3, 7), 1, (4, 7)),
        ((4, 7, 3), -1, (4, 3)),
        ((4, 7, 3), -1, (4,)),
        ((4, 7, 3), -1, (4, 7, 3, 1)),
        ((4, 7, 3), -1, (4, 7, 2)),
    ],
)
def test_a_mask_that_fits_no_convention_is_refused(layer_class, input_shape, axis, mask_shape):
    layer = layer_class(axis=axis)
    message = f"mask.shape={mask_shape}, inputs.shape={input_shape}"
    with pytest.raises(ValueError, match=re.escape(message)):
        layer(random(input_shape), training=True, mask=np.ones(mask_shape, bool))


def test_fully_masked_ghost_batch_is_left_out_of_the_moving_statistics():
    x = random((6, 4, 2))
    mask = np.ones((6, 4), bool)
    mask[2:4] = False  # the second of three ghost batches
    mask[0, 3] = False
    x = padded(x, mask[..., None])
    layer = BatchNormalization(virtual_batch_size=2, momentum=0.5)
    layer.build(x.shape)
    layer.moving_mean.assign([1.0, -1.0])
    layer.moving_variance.assign([2.0, 3.0])

    y = to_numpy(layer(x, training=True, mask=mask))

    groups = x.reshape(3, 2, 4, 2)
    group_mask = mask.reshape(3, 2, 4, 1)
    expected, mean, variance = references.normalize(groups, (1, 2), mask=group_mask)
    valid_groups = [0, 2]
    np.testing.assert_allclose(
        to_numpy(layer.moving_mean),
        0.5 * np.array([1.0, -1.0]) + 0.5 * mean[valid_groups].mean(axis=0).ravel(),
        rtol=1e-5,
    )
    np.testing.assert_allclose(
        to_numpy(layer.moving_variance),
        0.5 * np.array([2.0, 3.0]) + 0.5 * variance[valid_groups].mean(axis=0).ravel(),
        rtol=1e-5,
    )
    expected = expected.reshape(x.shape)
    np.testing.assert_allclose(y[mask], expected[mask], atol=1e-4)
    assert np.all(np.isfinite(y))


def test_ghost_batches_all_masked_leave_the_moving_statistics_alone():
    layer = BatchNormalization(virtual_batch_size=2, momentum=0.5)
    layer.build((4, 5, 3))
    layer.moving_mean.assign([1.0, 2.0, 3.0])

    y = layer(random((4, 5, 3)), training=True, mask=np.zeros((4, 5), bool))

    assert np.all(np.isfinite(to_numpy(y)))
    np.testing.assert_allclose(to_numpy(layer.moving_mean), [1.0, 2.0, 3.0])
    np.testing.assert_allclose(to_numpy(layer.moving_variance), np.ones(3))


def test_mean_only_fully_masked_batch_leaves_the_moving_mean_alone():
    layer = MeanOnlyBatchNormalization(momentum=0.5)
    layer.build((2, 4, 3))
    layer.moving_mean.assign([1.0, 2.0, 3.0])

    y = layer(random((2, 4, 3)), training=True, mask=np.zeros((2, 4), bool))

    assert np.all(np.isfinite(to_numpy(y)))
    np.testing.assert_allclose(to_numpy(layer.moving_mean), [1.0, 2.0, 3.0])


@pytest.mark.parametrize(
    "layer",
    [
        lambda: BatchNormalization(momentum=0.5, name="norm"),
        lambda: BatchNormalization(momentum=0.5, virtual_batch_size=2, name="norm"),
        lambda: MeanOnlyBatchNormalization(momentum=0.5, name="norm"),
        lambda: InstanceNormalization(track_running_stats=True, momentum=0.5, name="norm"),
    ],
    ids=["batch", "ghost", "mean_only", "instance"],
)
def test_fully_padded_batches_in_compiled_fit_leave_moving_statistics(layer):
    """Under `fit(jit_compile=True)` the guard is traced, not a Python `if`."""
    valid = random((4, 5, 3), loc=4.0)
    x = np.concatenate([valid, np.zeros((4, 5, 3), "float32")])
    inputs = keras.Input((5, 3))
    norm = layer()
    model = keras.Model(inputs, norm(keras.layers.Masking(0.0)(inputs)))
    model.compile("sgd", "mse", jit_compile=True)
    model.fit(x, x, batch_size=4, epochs=1, shuffle=False, verbose=0)
    after_valid_batch = [to_numpy(v) for v in norm.non_trainable_weights]

    model.fit(x[4:], x[4:], batch_size=4, epochs=3, verbose=0)

    for before, variable in zip(after_valid_batch, norm.non_trainable_weights):
        np.testing.assert_allclose(to_numpy(variable), before, rtol=1e-6)
    # The valid batch did move them (a check that can fail).
    assert not np.allclose(to_numpy(norm.non_trainable_weights[0]), 0.0)
