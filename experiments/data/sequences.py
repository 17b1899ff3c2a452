"""Sequence data for the RNN task: the adding problem and sequential images.

The adding problem (Hochreiter & Schmidhuber 1997): each step carries a random
value and a marker; exactly two steps are marked, one in each half of the
sequence, and the target is the sum of the two marked values. The model must
remember both values across the whole sequence. Predicting the mean target
(1.0) scores an MSE of 1/6, the variance of the sum of two U(0, 1) values:
the baseline a model has to beat.
"""

import numpy as np
import tensorflow as tf

# MSE of always predicting the mean target: Var(U + U') = 2 * 1/12.
MEAN_PREDICTOR_MSE = 1.0 / 6.0


def adding_problem(count, seq_len=100, seed=0):
    """Generates `count` sequences of the adding problem.

    Args:
        count: number of sequences.
        seq_len: steps per sequence, at least 2.
        seed: the same seed gives the same arrays.

    Returns:
        `(inputs, targets)`: float32 arrays of shapes `(count, seq_len, 2)`
        and `(count, 1)`. Channel 0 holds values uniform in [0, 1), channel 1
        the markers: a 1 at one step in `[0, seq_len // 2)` and one in
        `[seq_len // 2, seq_len)`, 0 elsewhere.
    """
    if isinstance(seq_len, bool) or not isinstance(seq_len, (int, np.integer)):
        raise ValueError(f"seq_len must be an int. Received: seq_len={seq_len!r}")
    if seq_len < 2:
        raise ValueError(
            f"seq_len must be at least 2, to hold the two markers. Received: seq_len={seq_len!r}"
        )
    if isinstance(count, bool) or not isinstance(count, (int, np.integer)) or count < 1:
        raise ValueError(f"count must be a positive int. Received: count={count!r}")
    rng = np.random.default_rng(seed)
    values = rng.random((count, seq_len))
    half = seq_len // 2
    first = rng.integers(0, half, size=count)
    second = rng.integers(half, seq_len, size=count)
    rows = np.arange(count)
    markers = np.zeros((count, seq_len))
    markers[rows, first] = 1.0
    markers[rows, second] = 1.0
    inputs = np.stack([values, markers], axis=-1).astype("float32")
    targets = (values[rows, first] + values[rows, second])[:, None]
    return inputs, targets.astype("float32")


def image_rows_as_steps(images):
    """Reads images row by row: `(..., height, width[, 1])` to `(..., height, width)`.

    Each row becomes one step whose features are the row's pixels, so a 28x28
    Fashion-MNIST image is a sequence of 28 steps of 28 features. Works on one
    image or a batch, on NumPy arrays or tensors, and inside
    `tf.data.Dataset.map`; a trailing channel axis of size 1 is dropped.
    Returns a float32 tensor; pixel values are left as they are.
    """
    images = tf.convert_to_tensor(images)
    if images.shape.rank is not None and images.shape.rank >= 3 and images.shape[-1] == 1:
        images = tf.squeeze(images, axis=-1)
    if images.shape.rank is None or images.shape.rank < 2:
        raise ValueError(
            f"images must have shape (..., height, width[, 1]). Received: shape={images.shape}"
        )
    return tf.cast(images, tf.float32)


# The permutation of permuted sequential images: one for every run, fixed.
PERMUTATION_SEED = 0


def pixel_permutation(height, width, seed=PERMUTATION_SEED):
    """A fixed permutation of an image's `height * width` pixels (indices)."""
    return np.random.default_rng(seed).permutation(height * width)


def permuted_rows_as_steps(images, permutation):
    """`image_rows_as_steps` after shuffling each image's pixels by
    `permutation` (`pixel_permutation`), the same for every image: neighbouring
    pixels land far apart in the sequence, so the model must carry what it saw
    over many steps (permuted sequential MNIST, Le et al. 2015, read here by
    rows of pixels rather than one pixel per step)."""
    rows = image_rows_as_steps(images)
    height, width = rows.shape[-2], rows.shape[-1]
    flat = tf.reshape(rows, tf.concat([tf.shape(rows)[:-2], [height * width]], axis=0))
    shuffled = tf.gather(flat, permutation, axis=-1)
    return tf.reshape(shuffled, tf.shape(rows))
