"""A small transformer text classifier with a chosen normalization.

Token and learned position embeddings, `blocks` pre-norm transformer blocks
(x + attention(norm(x)), then x + MLP(norm(x)): Xiong et al. 2020's layout,
which trains without a warm-up), a final norm, the mean over the sentence's
tokens and a dense head giving logits. The norm is the only difference:

- `layer`: Keras's LayerNormalization over each token's features, the
  transformer's own (Vaswani et al. 2017; Ba et al. 2016);
- `batch`: keras-norms's BatchNormalization over the batch and its tokens,
  each feature apart (Shen et al. 2020's "naive" batch norm in a
  transformer), the padding kept out of its statistics;
- `none`: nothing.

Token 0 is padding: its mask keeps it out of the attention, the batch
statistics and the mean.
"""

import keras

import keras_norms

from .norms import BATCH_MOMENTUM, TEXT_NORMS, check_norm

# BERT's and GPT-2's embedding scale.
EMBEDDING_STDDEV = 0.02


@keras.saving.register_keras_serializable(package="keras_norms_experiments")
class PositionEmbedding(keras.layers.Layer):
    """Adds a learned vector per position to a `(batch, steps, features)`
    sequence; passes its mask on."""

    def __init__(self, initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        self.initializer = keras.initializers.get(initializer)
        self.supports_masking = True

    def build(self, input_shape):
        self.positions = self.add_weight(
            shape=tuple(input_shape[1:]), initializer=self.initializer, name="positions"
        )

    def call(self, inputs):
        return inputs + self.positions

    def get_config(self):
        return {
            **super().get_config(),
            "initializer": keras.initializers.serialize(self.initializer),
        }


def _normalized(x, norm, name, real):
    """`x` through `norm`'s layer (none: as it is); batch norm's statistics
    over the tokens where `real` (batch, steps) is True."""
    if norm == "none":
        return x
    if norm == "layer":
        # The transformer's epsilon (Keras's default is 1e-3).
        return keras.layers.LayerNormalization(epsilon=1e-5, name=f"{name}_layer")(x)
    batch_norm = keras_norms.BatchNormalization(momentum=BATCH_MOMENTUM, name=f"{name}_batch")
    return batch_norm(x, mask=real)


def build_text_classifier(
    norm, vocabulary, max_len, num_classes=2, width=64, heads=4, blocks=2, seed=0
):
    """Returns the classifier for `norm` (one of `TEXT_NORMS`) of token
    sequences `(batch, max_len)` over `vocabulary` ids, 0 the padding.

    Args:
        width: the embedding and every block's width; `heads` must divide it.
        heads: attention heads per block.
        blocks: transformer blocks, at least 1.
        seed: seeds every initializer: equal seeds give equal initial weights.
    """
    check_norm(norm, TEXT_NORMS)
    if width % heads:
        raise ValueError(f"heads must divide width, got width={width!r} and heads={heads!r}")
    if blocks < 1:
        raise ValueError(f"blocks must be a positive integer, got blocks={blocks!r}")

    def init(offset):
        return keras.initializers.RandomNormal(stddev=EMBEDDING_STDDEV, seed=seed * 100 + offset)

    def glorot(offset):
        return keras.initializers.GlorotUniform(seed=seed * 100 + offset)

    tokens = keras.Input((max_len,), dtype="int32", name="tokens")
    x = keras.layers.Embedding(
        vocabulary, width, mask_zero=True, embeddings_initializer=init(0), name="embedding"
    )(tokens)
    x = PositionEmbedding(init(1), name="positions")(x)
    # Given to batch norm, attention and the mean explicitly: Keras's
    # MultiHeadAttention drops the masks of the tensors it is called on, so a
    # residual stream fed to it unnormalized would reach the next block
    # without its mask.
    real = keras.ops.not_equal(tokens, 0)
    attention_mask = keras.ops.logical_and(real[:, :, None], real[:, None, :])
    for block in range(blocks):
        name = f"block{block + 1}"
        h = _normalized(x, norm, f"{name}_attention", real)
        h = keras.layers.MultiHeadAttention(
            heads,
            width // heads,
            kernel_initializer=glorot(10 * block + 2),
            name=f"{name}_attention",
        )(h, h, attention_mask=attention_mask)
        x = keras.layers.Add(name=f"{name}_attention_residual")([x, h])
        h = _normalized(x, norm, f"{name}_mlp", real)
        h = keras.layers.Dense(
            2 * width,
            activation="gelu",
            kernel_initializer=glorot(10 * block + 3),
            name=f"{name}_mlp_in",
        )(h)
        h = keras.layers.Dense(
            width, kernel_initializer=glorot(10 * block + 4), name=f"{name}_mlp_out"
        )(h)
        x = keras.layers.Add(name=f"{name}_mlp_residual")([x, h])
    x = _normalized(x, norm, "final", real)
    x = keras.layers.GlobalAveragePooling1D(name="mean_over_tokens")(x, mask=real)
    logits = keras.layers.Dense(num_classes, kernel_initializer=glorot(1), name="head")(x)
    return keras.Model(tokens, logits, name=f"text_{norm}")
