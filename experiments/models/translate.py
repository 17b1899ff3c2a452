"""Image-to-image translation: a small U-Net maps an edge map back to its image.

The generator and the patch discriminator follow pix2pix (Isola et al. 2017)
at Fashion-MNIST scale: the generator's first layer and the discriminator's
first layer are never normalized, every other convolution is followed by the
chosen normalization (weight norm wraps it instead). Instance norm is the
default: its statistics are per image, so it behaves the same at batch
size 1, a supported setting. Edge maps and images lie in [0, 1] (see
`experiments.edges`); the generator ends in a sigmoid.
"""

import keras
import numpy as np
from keras import ops

from .norms import apply, check_norm, uses_bias
from .steps import OptimizerGroup, SteppedModel

# SSIM's Gaussian window and constants (Wang et al. 2004), as tf.image.ssim has them.
SSIM_WINDOW = 11
SSIM_SIGMA = 1.5
SSIM_K1, SSIM_K2 = 0.01, 0.03


def _conv_norm(x, kind, filters, size, strides, norm, seed, name, activation=None):
    """Applies a `kind` (Conv2D or Conv2DTranspose) layer and its normalization."""
    conv = kind(
        filters,
        size,
        strides=strides,
        padding="same",
        activation=activation,
        use_bias=uses_bias(norm),
        kernel_initializer=keras.initializers.RandomNormal(stddev=0.02, seed=seed),
        name=name,
    )
    return apply(x, conv, norm, name=name)


def build_translation_generator(norm="instance", width=16, seed=0, input_name="edges"):
    """Edge map `(28, 28, 1)` to image `(28, 28, 1)` in [0, 1] (or, named
    `input_name`, any such image to another: the style task's content).

    Encoder: a 3x3 convolution (width channels, unnormalized), two strided
    4x4 convolutions down to 7x7x(4 * width). Decoder: two strided 4x4
    transposed convolutions back to 28x28, each joined by a skip connection
    to the encoder map of its size, then a 3x3 sigmoid output convolution.
    `width` must be a multiple of 8 for `group` norm.
    """
    check_norm(norm)
    conv, transposed = keras.layers.Conv2D, keras.layers.Conv2DTranspose
    seeds = iter(range(seed * 10, seed * 10 + 10))
    edges = keras.Input((28, 28, 1), name=input_name)
    x = _conv_norm(edges, conv, width, 3, 1, "none", next(seeds), "enc1")
    skips = [keras.layers.ReLU()(x)]
    for index, filters in enumerate([2 * width, 4 * width]):
        x = _conv_norm(skips[-1], conv, filters, 4, 2, norm, next(seeds), f"enc{index + 2}")
        skips.append(keras.layers.ReLU()(x))
    x = skips.pop()
    for index, filters in enumerate([2 * width, width]):
        x = _conv_norm(x, transposed, filters, 4, 2, norm, next(seeds), f"dec{index + 1}")
        x = keras.layers.Concatenate()([keras.layers.ReLU()(x), skips.pop()])
    image = _conv_norm(x, conv, 1, 3, 1, "none", next(seeds), "output", activation="sigmoid")
    return keras.Model(edges, image, name=f"translator_{norm}")


def build_patch_discriminator(norm="instance", width=16, seed=0):
    """(edge map, image) to a 7x7 grid of logits, one per overlapping patch.

    Conditioned on the edges as in pix2pix: it judges whether the image is
    the real one for these edges. Two strided 4x4 convolutions (the first
    unnormalized) and a 3x3 logit convolution.
    """
    check_norm(norm)
    conv = keras.layers.Conv2D
    seeds = iter(range(seed * 10 + 6, seed * 10 + 9))  # apart from the generator's
    edges = keras.Input((28, 28, 1), name="edges")
    image = keras.Input((28, 28, 1), name="image")
    x = keras.layers.Concatenate()([edges, image])
    x = _conv_norm(x, conv, width, 4, 2, "none", next(seeds), "d_input")
    x = keras.layers.LeakyReLU(0.2)(x)
    x = _conv_norm(x, conv, 2 * width, 4, 2, norm, next(seeds), "d_conv2")
    x = keras.layers.LeakyReLU(0.2)(x)
    logits = _conv_norm(x, conv, 1, 3, 1, "none", next(seeds), "d_logits")
    return keras.Model([edges, image], logits, name=f"patch_discriminator_{norm}")


class Translator(SteppedModel):
    """Trains the generator with L1 + adversarial loss against the patch discriminator.

    The dataset yields `(edges, target)` batches. Each step updates the
    discriminator (binary cross-entropy on real and generated pairs) and the
    generator (`l1_weight * l1 + g_adv`, where `g_adv` is the non-saturating
    adversarial loss); `fit` logs `l1`, `g_adv` and `d_loss`.
    `evaluate` (and `fit`'s validation) scores the generator and logs the mean
    per-image `l1` and `ssim`: in inference mode, or with
    `eval_batch_stats=True` normalizing each test batch by its own statistics
    (as pix2pix evaluates batch norm), leaving the moving statistics as
    training left them.

    Example:

    >>> model = Translator(build_translation_generator(), build_patch_discriminator())
    >>> model.compile(g_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5),
    ...               d_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5))
    >>> model.fit(train_pairs, validation_data=test_pairs, epochs=3)
    >>> model.evaluate(test_pairs, return_dict=True)  # {"l1": ..., "ssim": ...}
    """

    def __init__(self, generator, discriminator, l1_weight=100.0, eval_batch_stats=False, **kwargs):
        super().__init__(**kwargs)
        self.generator = generator
        self.discriminator = discriminator
        self.l1_weight = l1_weight
        self.eval_batch_stats = eval_batch_stats
        self.cross_entropy = keras.losses.BinaryCrossentropy(from_logits=True)
        self.trackers = {
            name: keras.metrics.Mean(name=name) for name in ("l1", "g_adv", "d_loss", "ssim")
        }

    def compile(self, g_optimizer, d_optimizer, **kwargs):
        group = OptimizerGroup([(g_optimizer, self.generator), (d_optimizer, self.discriminator)])
        super().compile(optimizer=group, **kwargs)
        self.g_optimizer = g_optimizer
        self.d_optimizer = d_optimizer

    @property
    def metrics(self):
        # Listed so that Keras resets them at each epoch and before evaluating.
        return list(self.trackers.values())

    def call(self, edges, training=False):
        return self.generator(edges, training=training)

    def stateful_train_step(self, data):
        # Tensors, as the discriminator takes both with the generator's output.
        edges, target = (ops.convert_to_tensor(x) for x in data)

        def losses():
            output = self.generator(edges, training=True)
            real_logits = self.discriminator([edges, target], training=True)
            fake_logits = self.discriminator([edges, output], training=True)
            l1 = ops.mean(ops.abs(target - output))
            g_adv = self.cross_entropy(ops.ones_like(fake_logits), fake_logits)
            d_loss = self.cross_entropy(ops.ones_like(real_logits), real_logits)
            d_loss = d_loss + self.cross_entropy(ops.zeros_like(fake_logits), fake_logits)
            return (self.l1_weight * l1 + g_adv, d_loss), (l1, g_adv)

        # Both gradients come from the same forward pass, before either update.
        g_weights = self.generator.trainable_variables
        d_weights = self.discriminator.trainable_variables
        (_, d_loss), (l1, g_adv), (g_grads, d_grads) = self.loss_gradients(
            losses, [g_weights, d_weights]
        )
        self.g_optimizer.apply_gradients(zip(g_grads, g_weights))
        self.d_optimizer.apply_gradients(zip(d_grads, d_weights))
        return self._update({"l1": l1, "g_adv": g_adv, "d_loss": d_loss})

    def stateful_test_step(self, data):
        edges, target = (ops.convert_to_tensor(x) for x in data)
        if self.eval_batch_stats:
            # Training-mode statistics without their side effects: the updated
            # moving statistics stateless_call returns are dropped.
            output, _ = self.generator.stateless_call(
                [v.value for v in self.generator.trainable_variables],
                [v.value for v in self.generator.non_trainable_variables],
                edges,
                training=True,
            )
        else:
            output = self.generator(edges, training=False)
        return self._update(
            {"l1": ops.mean(ops.abs(target - output), axis=[1, 2, 3]), "ssim": ssim(target, output)}
        )

    def _update(self, values):
        for name, value in values.items():
            self.trackers[name].update_state(value)
        return {name: self.trackers[name].result() for name in values}

    def triplets(self, edges, targets):
        """Rows of `(edges | output | target)`: a NumPy array `(n, 28, 84, 1)` in [0, 1]."""
        output = self.generator.predict(edges, verbose=0)
        return np.concatenate([np.asarray(edges), output, np.asarray(targets)], axis=2)


def _gaussian_window(channels):
    """SSIM's normalized Gaussian window as a depthwise kernel (size, size, channels, 1)."""
    offsets = np.arange(SSIM_WINDOW) - (SSIM_WINDOW - 1) / 2
    line = np.exp(-(offsets**2) / (2 * SSIM_SIGMA**2))
    window = np.outer(line, line) / line.sum() ** 2
    return np.tile(window[:, :, None, None], (1, 1, channels, 1)).astype("float32")


def ssim(a, b, max_val=1.0):
    """The structural similarity of each image pair in `a` and `b` (batch, H,
    W, C) with values in [0, `max_val`]: the mean over the positions (where
    the 11x11 Gaussian window fits) and channels of luminance x
    contrast-structure (Wang et al. 2004), as `tf.image.ssim` computes it, on
    every backend. Shape (batch,)."""
    window = ops.convert_to_tensor(_gaussian_window(ops.shape(a)[-1]))

    def local_mean(x):
        return ops.depthwise_conv(x, window, padding="valid")

    c1, c2 = (SSIM_K1 * max_val) ** 2, (SSIM_K2 * max_val) ** 2
    mean_a, mean_b = local_mean(a), local_mean(b)
    means_product = 2 * mean_a * mean_b
    means_squared = mean_a**2 + mean_b**2
    luminance = (means_product + c1) / (means_squared + c1)
    # Twice the local covariance over the sum of the local variances.
    contrast_structure = (2 * local_mean(a * b) - means_product + c2) / (
        local_mean(a**2 + b**2) - means_squared + c2
    )
    return ops.mean(luminance * contrast_structure, axis=[1, 2, 3])
