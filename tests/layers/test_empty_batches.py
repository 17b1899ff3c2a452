"""An empty training batch leaves the moving statistics as they were.

Under a distribution strategy a last, partial batch can leave a replica
with no samples; statistics over nothing are NaN, and an average moved
towards them would be NaN for good (the layers' test-time outputs with it).
"""

import numpy as np
import pytest

from keras_norms import BatchNormalization, InstanceNormalization, MeanOnlyBatchNormalization
from tests.layers.backend_utils import random_normal, run_on_two_cpus, tensorflow_only, to_numpy

CASES = [
    (BatchNormalization, {}),
    (BatchNormalization, {"axis": 1}),
    (BatchNormalization, {"renorm": True}),
    (BatchNormalization, {"virtual_batch_size": 2}),
    (BatchNormalization, {"scale": False, "center": False}),
    (MeanOnlyBatchNormalization, {}),
    (InstanceNormalization, {"track_running_stats": True}),
]


def _trained(layer_class, kwargs):
    """The layer after one training step on a real batch."""
    layer = layer_class(momentum=0.5, **kwargs)
    layer(random_normal((4, 5, 6, 3), loc=2.0, scale=3.0), training=True)
    return layer


def _statistics(layer):
    return [to_numpy(w) for w in layer.non_trainable_weights]


@pytest.mark.parametrize("layer_class, kwargs", CASES)
def test_an_empty_batch_keeps_the_moving_statistics(layer_class, kwargs):
    layer = _trained(layer_class, kwargs)
    before = _statistics(layer)
    empty = np.zeros((0, 5, 6, 3), "float32")
    assert tuple(layer(empty, training=True).shape) == (0, 5, 6, 3)
    for kept, now in zip(before, _statistics(layer)):
        np.testing.assert_array_equal(now, kept)
    # A batch with values moves them again.
    layer(random_normal((4, 5, 6, 3), seed=3), training=True)
    assert any(not np.array_equal(now, kept) for kept, now in zip(before, _statistics(layer)))


@tensorflow_only
@pytest.mark.parametrize("jit_compile", [False, True])
@pytest.mark.parametrize("layer_class, kwargs", CASES)
def test_an_empty_batch_of_unknown_size_keeps_them_in_a_graph(layer_class, kwargs, jit_compile):
    """Traced for any batch size, the layer learns the batch is empty only
    when it runs (TensorFlow's fused kernel included)."""
    import tensorflow as tf

    layer = _trained(layer_class, kwargs)
    before = _statistics(layer)
    step = tf.function(
        lambda x: layer(x, training=True),
        input_signature=[tf.TensorSpec((None, 5, 6, 3))],
        jit_compile=jit_compile,
    )
    step(tf.zeros((0, 5, 6, 3)))
    for kept, now in zip(before, _statistics(layer)):
        np.testing.assert_array_equal(now, kept)


MIRRORED_FIT = """
    import numpy as np
    import keras
    import keras_norms

    x = np.random.RandomState(0).normal(2.0, 3.0, (9, 4)).astype("float32")
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    with strategy.scope():
        norm = keras_norms.BatchNormalization()
        model = keras.Sequential([keras.Input((4,)), norm, keras.layers.Dense(1)])
        model.compile("sgd", "mse")
    # 9 samples in batches of 8: the last batch's single sample goes to the
    # first replica, and the second replica gets none.
    model.fit(x, x[:, :1], batch_size=8, epochs=1, shuffle=False, verbose=0)
    statistics = [norm.moving_mean.numpy(), norm.moving_variance.numpy()]
    assert all(np.isfinite(s).all() for s in statistics), statistics
    assert np.isfinite(model.predict(x, verbose=0)).all()
    print("EMPTY REPLICA OK")
    """


@tensorflow_only
def test_a_replica_left_without_samples_keeps_the_statistics_finite():
    run_on_two_cpus(MIRRORED_FIT, "EMPTY REPLICA OK")
