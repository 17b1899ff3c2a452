"""Sobel edge maps: the inputs of the image-to-image translation task.

Convention: images are float tensors with values in [0, 1], shaped
`(height, width, channels)` for one image or `(batch, height, width, channels)`
for a batch. Edge maps have the same shape and also lie in [0, 1].
"""

import math

import tensorflow as tf

# The Sobel gradient of an image in [0, 1] is at most 4 along each axis
# (weights 1, 2, 1 times a jump of 1), so its magnitude is at most 4 * sqrt(2).
_LARGEST_MAGNITUDE = 4.0 * math.sqrt(2.0)


def sobel_edges(images):
    """Returns the Sobel gradient magnitude of `images`, scaled to [0, 1].

    Each channel is filtered on its own. Borders are reflected, so a constant
    image has no edges anywhere, its borders included.
    """
    images = tf.convert_to_tensor(images)
    rank = images.shape.rank
    if rank not in (3, 4):
        raise ValueError(
            "images must have shape (height, width, channels) or "
            f"(batch, height, width, channels). Received: shape={images.shape}"
        )
    batch = images if rank == 4 else images[tf.newaxis]
    # tf.image.sobel_edges gives (batch, height, width, channels, [dy, dx]).
    gradients = tf.image.sobel_edges(tf.cast(batch, tf.float32))
    magnitude = tf.norm(gradients, axis=-1) / _LARGEST_MAGNITUDE
    return magnitude if rank == 4 else magnitude[0]


def edges_and_target(images, *rest):
    """Maps `images` to the pair `(sobel_edges(images), images)`.

    Made for `tf.data.Dataset.map`: further elements of a dataset element,
    such as class labels, are dropped. The target is cast to float32.
    """
    del rest  # labels play no part in translation
    return sobel_edges(images), tf.cast(images, tf.float32)
