"""A small ResNet-style image classifier with a chosen normalization."""

import keras

from .norms import apply, check_norm, uses_bias

STAGE_WIDTHS = (16, 32, 64)

# Group norm's groups: 4, 8 and 16 channels each over the stages' widths (the
# group norm paper finds 2 channels per group, what 8 groups of the 16-channel
# stage would give, among its worst settings).
GROUPS = 4


def _conv(filters, strides, norm, seed, name):
    # A seeded initializer per layer, so the same seed gives the same kernels
    # whatever normalization (and so whatever other layers) the model has.
    return keras.layers.Conv2D(
        filters,
        3,
        strides=strides,
        padding="same",
        use_bias=uses_bias(norm),
        kernel_initializer=keras.initializers.HeNormal(seed=seed),
        name=name,
    )


def _stage_of_blocks(depth):
    """Spreads `depth` residual blocks evenly over at most three stages."""
    stages = min(depth, len(STAGE_WIDTHS))
    return [block * stages // depth for block in range(depth)]


def build_cnn(
    input_shape,
    num_classes,
    norm,
    depth=3,
    seed=0,
    stats_batch=None,
    activation="relu",
    shortcuts=True,
    dropout=0.0,
):
    """Returns a ResNet-style classifier whose every normalization is `norm`.

    A strided 3x3 stem convolution, then `depth` residual blocks (two 3x3 convolutions
    each, every convolution followed by the normalization and the activation) over up
    to three stages of 16, 32 and 64 channels, each later stage halving the
    resolution; global average pooling and a dense softmax head. Without
    `shortcuts` the blocks are plain stacks of convolutions (the batch norm
    paper's sigmoid network has none).

    Args:
        input_shape: image shape (height, width, channels).
        num_classes: number of output classes.
        norm: one of `experiments.models.norms.NORMS`.
        depth: number of residual blocks, at least 1.
        seed: seeds every initializer: equal seeds give equal initial kernels.
        stats_batch: batch norm's statistics batch (ghost batches of this
            many examples); None: the whole batch.
        activation: a Keras activation's name.
        shortcuts: whether the blocks are residual.
        dropout: the rate of a dropout before the head (Inception's place for
            it, which the batch norm paper removes); 0: none.
    """
    check_norm(norm)
    if depth < 1:
        raise ValueError(f"depth must be a positive integer, got depth={depth!r}")
    seeds = iter(range(seed * 1000, seed * 1000 + 1000))

    def conv_norm(x, width, strides, name):
        conv = _conv(width, strides, norm, next(seeds), name)
        return apply(
            x,
            conv,
            norm,
            name=name,
            groups=GROUPS,
            stats_batch=stats_batch,
            layer_over_space=True,
        )

    inputs = keras.Input(input_shape, name="image")

    # A strided stem: the 14x14 maps that follow cost a quarter of 28x28 ones.
    def act(x, name):
        return keras.layers.Activation(activation, name=f"{name}_{activation}")(x)

    x = act(conv_norm(inputs, STAGE_WIDTHS[0], 2, "stem"), "stem")
    previous_stage = 0
    for block, stage in enumerate(_stage_of_blocks(depth)):
        width, strides = STAGE_WIDTHS[stage], (2 if stage > previous_stage else 1)
        previous_stage = stage
        prefix = f"block{block + 1}"
        shortcut = x
        if shortcuts and strides > 1:
            # A projection shortcut where the shape changes, normalized like the rest.
            shortcut = conv_norm(x, width, strides, f"{prefix}_proj")
        y = act(conv_norm(x, width, strides, f"{prefix}_conv1"), f"{prefix}_1")
        y = conv_norm(y, width, 1, f"{prefix}_conv2")
        if shortcuts:
            y = keras.layers.Add(name=f"{prefix}_add")([shortcut, y])
        x = act(y, f"{prefix}_2")
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    if dropout:
        x = keras.layers.Dropout(dropout, seed=next(seeds), name="dropout")(x)
    outputs = keras.layers.Dense(
        num_classes,
        activation="softmax",
        kernel_initializer=keras.initializers.GlorotUniform(seed=next(seeds)),
        name="classifier",
    )(x)
    kind = "resnet" if shortcuts else "plain"
    return keras.Model(inputs, outputs, name=f"{kind}{depth}_{norm}")
