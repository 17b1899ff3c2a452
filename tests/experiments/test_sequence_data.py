"""The adding problem generator and the row-by-row image transform."""

import numpy as np
import pytest
import tensorflow as tf

from experiments.data.sequences import (
    MEAN_PREDICTOR_MSE,
    adding_problem,
    image_rows_as_steps,
    permuted_rows_as_steps,
    pixel_permutation,
)


def test_adding_problem_shapes_and_dtypes():
    inputs, targets = adding_problem(5, seq_len=7, seed=1)
    assert inputs.shape == (5, 7, 2) and inputs.dtype == np.float32
    assert targets.shape == (5, 1) and targets.dtype == np.float32


@pytest.mark.parametrize("seq_len", [2, 3, 10, 100])
def test_exactly_one_marker_in_each_half(seq_len):
    inputs, _ = adding_problem(500, seq_len=seq_len, seed=0)
    markers = inputs[..., 1]
    half = seq_len // 2
    assert set(np.unique(markers)) <= {0.0, 1.0}
    np.testing.assert_array_equal(markers[:, :half].sum(axis=1), 1.0)
    np.testing.assert_array_equal(markers[:, half:].sum(axis=1), 1.0)


def test_targets_equal_marked_sums():
    inputs, targets = adding_problem(200, seq_len=50, seed=3)
    for values, markers, target in zip(inputs[..., 0], inputs[..., 1], targets[:, 0]):
        marked = values[markers == 1.0]
        assert len(marked) == 2
        assert target == pytest.approx(marked.sum(), abs=1e-6)


def test_values_uniform_in_unit_interval():
    inputs, _ = adding_problem(1000, seq_len=20, seed=0)
    values = inputs[..., 0]
    assert values.min() >= 0.0 and values.max() < 1.0
    assert values.mean() == pytest.approx(0.5, abs=0.01)


def test_mean_predictor_mse_is_one_sixth():
    _, targets = adding_problem(200_000, seq_len=4, seed=0)
    mse = np.mean((targets - targets.mean()) ** 2)
    assert MEAN_PREDICTOR_MSE == pytest.approx(1 / 6)
    assert mse == pytest.approx(MEAN_PREDICTOR_MSE, rel=0.01)


def test_same_seed_same_data_other_seed_other_data():
    a = adding_problem(10, seq_len=30, seed=7)
    b = adding_problem(10, seq_len=30, seed=7)
    c = adding_problem(10, seq_len=30, seed=8)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])


@pytest.mark.parametrize("seq_len", [1, 0, -5])
def test_seq_len_below_two_is_refused(seq_len):
    with pytest.raises(ValueError, match=rf"seq_len.*{seq_len}"):
        adding_problem(4, seq_len=seq_len)


@pytest.mark.parametrize("seq_len", [2.5, "10", True])
def test_seq_len_must_be_an_int(seq_len):
    with pytest.raises(ValueError, match="seq_len"):
        adding_problem(4, seq_len=seq_len)


def test_count_must_be_positive():
    with pytest.raises(ValueError, match="count"):
        adding_problem(0)


@pytest.mark.parametrize("shape", [(28, 28), (28, 28, 1)])
def test_one_image_becomes_28_steps_of_28_features(shape):
    image = np.arange(28 * 28, dtype="float32").reshape(shape)
    steps = image_rows_as_steps(image)
    assert steps.shape == (28, 28) and steps.dtype == tf.float32
    # Step t is row t of the image.
    np.testing.assert_array_equal(steps.numpy()[3], image.reshape(28, 28)[3])


@pytest.mark.parametrize("shape", [(4, 28, 28), (4, 28, 28, 1)])
def test_batch_of_images(shape):
    images = np.random.default_rng(0).random(shape).astype("float32")
    steps = image_rows_as_steps(images)
    assert steps.shape == (4, 28, 28)
    np.testing.assert_array_equal(steps.numpy(), images.reshape(4, 28, 28))


def test_rows_as_steps_inside_tf_data():
    images = np.random.default_rng(0).integers(0, 255, (6, 28, 28, 1)).astype("uint8")
    labels = np.arange(6)
    dataset = (
        tf.data.Dataset.from_tensor_slices((images, labels))
        .map(lambda image, label: (image_rows_as_steps(image), label))
        .batch(3)
    )
    steps, label_batch = next(iter(dataset))
    assert steps.shape == (3, 28, 28) and steps.dtype == tf.float32
    np.testing.assert_array_equal(steps.numpy(), images[:3, ..., 0])


def test_rows_as_steps_refuses_a_vector():
    with pytest.raises(ValueError, match="shape"):
        image_rows_as_steps(np.zeros(28))


def test_permuted_rows_shuffle_every_image_by_the_same_permutation():
    images = np.random.default_rng(0).random((3, 4, 5, 1)).astype("float32")
    permutation = pixel_permutation(4, 5)
    np.testing.assert_array_equal(permutation, pixel_permutation(4, 5))  # fixed
    assert sorted(permutation) == list(range(20)) and list(permutation) != list(range(20))
    steps = permuted_rows_as_steps(images, permutation).numpy()
    expected = images.reshape(3, 20)[:, permutation].reshape(3, 4, 5)
    np.testing.assert_array_equal(steps, expected)
    dataset = tf.data.Dataset.from_tensor_slices(images).batch(2)
    [first, _] = list(dataset.map(lambda batch: permuted_rows_as_steps(batch, permutation)))
    np.testing.assert_array_equal(first.numpy(), expected[:2])
