"""The masks the normalization layers accept, and how they line up with inputs.

Keras's convention, followed here for every `axis`: a mask covers the input's
axes but the last, as `keras.layers.Masking` and `Embedding(mask_zero=True)`
produce it; for a `(batch, steps, features)` sequence it is the `(batch,
steps)` padding mask. Its sizes must equal the input's or be 1 (broadcast).
A mask of the input's own rank that broadcasts to it is taken as it is: the
way to mask inputs whose last axis is not the one to broadcast over, e.g. a
channels-first `(batch, channels, steps)` sequence takes `mask[:, None, :]`.
Any other mask is refused with both shapes named, before a backend sees it.
"""

from keras import ops


def as_input_rank(mask, inputs, layer_name):
    """`mask` with the input's rank, ready to broadcast against `inputs`.

    Raises:
        ValueError: if the mask fits neither convention.
    """
    mask_shape = tuple(mask.shape)
    input_shape = tuple(inputs.shape)
    if len(mask_shape) == len(input_shape) - 1 and _broadcasts(mask_shape, input_shape[:-1]):
        return ops.expand_dims(mask, -1)
    if len(mask_shape) == len(input_shape) and _broadcasts(mask_shape, input_shape):
        return mask
    raise ValueError(
        f"Layer {layer_name} expects a mask of shape {input_shape[:-1]} (the "
        "input's shape without its last axis, as keras.layers.Masking makes "
        "it) or of the input's rank, broadcastable to it. Received: "
        f"mask.shape={mask_shape}, inputs.shape={input_shape}"
    )


def _broadcasts(mask_shape, target_shape):
    """Whether each size is 1 or the target's; unknown sizes pass."""
    return all(m is None or t is None or m == 1 or m == t for m, t in zip(mask_shape, target_shape))
