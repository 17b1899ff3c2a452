"""The Sobel edge-map transform of the translation task's input pipeline."""

import numpy as np
import pytest
import tensorflow as tf

from experiments.data.edges import edges_and_target, sobel_edges


def step_image(column=14, size=28):
    """0 left of `column`, 1 from `column` on: a vertical step."""
    image = np.zeros((size, size, 1), "float32")
    image[:, column:] = 1.0
    return image


@pytest.mark.parametrize("value", [0.0, 0.3, 1.0])
def test_constant_image_has_no_edges(value):
    edges = sobel_edges(np.full((28, 28, 1), value, "float32"))
    np.testing.assert_allclose(edges.numpy(), 0.0, atol=1e-6)


def test_vertical_step_gives_edges_on_the_step_columns_only():
    edges = sobel_edges(step_image(column=14)).numpy()[..., 0]
    # The 3x3 kernel sees the jump from the two columns beside it.
    np.testing.assert_allclose(edges[:, 13], edges[0, 13])
    np.testing.assert_allclose(edges[:, 14], edges[0, 14])
    assert edges[0, 13] > 0.5 and edges[0, 14] > 0.5
    others = np.delete(edges, [13, 14], axis=1)
    np.testing.assert_allclose(others, 0.0, atol=1e-6)


def test_edges_lie_in_unit_interval():
    images = np.random.default_rng(0).integers(0, 2, (8, 28, 28, 1)).astype("float32")
    edges = sobel_edges(images).numpy()
    assert edges.min() >= 0.0 and edges.max() <= 1.0 + 1e-6
    # A checkerboard corner reaches the largest gradient on both axes.
    assert edges.max() > 0.5


def test_batched_equals_unbatched():
    images = np.random.default_rng(1).random((3, 28, 28, 1)).astype("float32")
    batched = sobel_edges(images).numpy()
    for image, expected in zip(images, batched):
        np.testing.assert_allclose(sobel_edges(image).numpy(), expected, atol=1e-6)


@pytest.mark.parametrize("shape", [(28, 28, 1), (5, 28, 28, 1), (5, 16, 20, 3)])
def test_shape_and_dtype_are_kept(shape):
    images = np.zeros(shape, "float64")
    edges = sobel_edges(images)
    assert edges.shape == shape and edges.dtype == tf.float32


def test_rank_other_than_3_or_4_is_refused():
    with pytest.raises(ValueError, match="shape"):
        sobel_edges(np.zeros((28, 28), "float32"))


def test_pairs_inside_tf_data_drop_labels():
    images = np.stack([step_image(10), step_image(20)])
    labels = np.array([3, 4])
    dataset = tf.data.Dataset.from_tensor_slices((images, labels)).map(edges_and_target)
    pairs = list(dataset.batch(2))
    assert len(pairs) == 1
    edges, target = pairs[0]
    assert edges.shape == (2, 28, 28, 1) and target.shape == (2, 28, 28, 1)
    assert edges.dtype == tf.float32 and target.dtype == tf.float32
    np.testing.assert_array_equal(target.numpy(), images)
    np.testing.assert_allclose(edges.numpy()[0], sobel_edges(images[0]).numpy())


def test_pairs_on_a_batched_dataset():
    images = np.random.default_rng(2).random((4, 28, 28, 1)).astype("float32")
    dataset = tf.data.Dataset.from_tensor_slices(images).batch(2).map(edges_and_target)
    edges, target = next(iter(dataset))
    np.testing.assert_allclose(edges.numpy(), sobel_edges(images[:2]).numpy(), atol=1e-6)
    np.testing.assert_array_equal(target.numpy(), images[:2])
