"""A stream of images whose distribution shifts: consecutive segments of
equal length, each seen through its own fixed permutation of the pixels (the
first through none), as in the permuted-MNIST tasks of continual learning
(Goodfellow et al. 2013). The labels keep their meaning; what a pixel
position means changes at each shift."""

import numpy as np


def permutations(segments, pixels, seed):
    """One pixel order per segment: the identity first, then random ones
    drawn from `seed` (equal seeds give equal permutations, whatever the norm)."""
    rng = np.random.default_rng(seed)
    return [np.arange(pixels)] + [rng.permutation(pixels) for _ in range(segments - 1)]


def permuted(images, order):
    """`images` (N, H, W, C) with their pixels (over H and W) in `order`."""
    count, height, width, channels = images.shape
    flat = images.reshape(count, height * width, channels)
    return flat[:, order].reshape(images.shape)


def shifting_stream(images, labels, segments, seed):
    """(images, labels, the permutations) of the stream: `images` in their
    given order cut into `segments` equal parts, part k seen through the
    k-th of `permutations(segments, H * W, seed)`."""
    if len(images) % segments:
        raise ValueError(
            f"the stream's {len(images)} images must split into segments={segments} equal parts"
        )
    size = len(images) // segments
    orders = permutations(segments, images.shape[1] * images.shape[2], seed)
    parts = [permuted(images[k * size : (k + 1) * size], orders[k]) for k in range(segments)]
    return np.concatenate(parts), labels, orders
