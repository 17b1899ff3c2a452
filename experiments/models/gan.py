"""A DCGAN for 28x28x1 images, with the generator's and discriminator's norms chosen apart.

Following Radford et al. (2015), the generator's output layer and the
discriminator's input layer are never normalized; every other convolution is
followed by its normalization (weight norm wraps the convolution instead).
The generator ends in tanh: real images are fed to the discriminator scaled
to [-1, 1], and `GAN.generate` returns samples in [0, 1].
"""

import keras
import numpy as np
from keras import ops

from .norms import DISCRIMINATOR_NORMS, apply, check_norm, uses_bias
from .steps import OptimizerGroup, SteppedModel

LATENT_DIM = 64


def _initializer(seed):
    # DCGAN's N(0, 0.02), seeded per layer so equal seeds give equal kernels.
    return keras.initializers.RandomNormal(stddev=0.02, seed=seed)


def build_generator(norm, latent_dim=LATENT_DIM, width=32, seed=0):
    """Noise `(latent_dim,)` to an image `(28, 28, 1)` in [-1, 1].

    A 7x7 transposed convolution projects the noise to 7x7x(2 * width), a
    strided one upsamples to 14x14xwidth, both normalized with `norm`; the
    unnormalized output layer upsamples to 28x28x1. `width` must be a
    multiple of 8 for `group` norm.
    """
    check_norm(norm)
    noise = keras.Input((latent_dim,), name="noise")
    x = keras.layers.Reshape((1, 1, latent_dim))(noise)
    for index, (filters, size, strides, padding) in enumerate(
        [(2 * width, 7, 1, "valid"), (width, 4, 2, "same")]
    ):
        conv = keras.layers.Conv2DTranspose(
            filters,
            size,
            strides=strides,
            padding=padding,
            use_bias=uses_bias(norm),
            kernel_initializer=_initializer(seed * 10 + index),
            name=f"g_conv{index + 1}",
        )
        x = apply(x, conv, norm, name=f"g_conv{index + 1}")
        x = keras.layers.ReLU()(x)
    image = keras.layers.Conv2DTranspose(
        1,
        4,
        strides=2,
        padding="same",
        activation="tanh",
        kernel_initializer=_initializer(seed * 10 + 2),
        name="g_output",
    )(x)
    return keras.Model(noise, image, name=f"generator_{norm}")


# The discriminator's normalized convolutions: (channels as a multiple of
# the width, kernel size, stride), after its unnormalized input layer. Three,
# as the spectral norm paper's standard CNN normalizes every layer but the
# input: a norm that acts on one layer alone is hardly tested.
D_CONVS = ((2, 4, 2), (2, 3, 1), (4, 4, 2))


def build_discriminator(norm, width=32, seed=0):
    """Image `(28, 28, 1)` in [-1, 1] to one logit: real (high) or generated.

    A strided 4x4 input convolution (width channels, unnormalized), then the
    `D_CONVS` convolutions (14x14 to 4x4), each normalized with `norm`, all
    with leaky ReLUs, then a dense logit. `norm` may also be `spectral`
    (Keras's SpectralNormalization wrapping the convolution).
    """
    check_norm(norm, DISCRIMINATOR_NORMS)
    image = keras.Input((28, 28, 1), name="image")
    x = keras.layers.Conv2D(
        width,
        4,
        strides=2,
        padding="same",
        kernel_initializer=_initializer(seed * 10 + 5),
        name="d_input",
    )(image)
    x = keras.layers.LeakyReLU(0.2)(x)
    # Seeds 6, 8, 9: the logit keeps 7, so equal seeds give equal kernels as before.
    for index, ((multiple, size, strides), offset) in enumerate(zip(D_CONVS, (6, 8, 9))):
        name = f"d_conv{index + 2}"
        conv = keras.layers.Conv2D(
            multiple * width,
            size,
            strides=strides,
            padding="same",
            use_bias=uses_bias(norm),
            kernel_initializer=_initializer(seed * 10 + offset),
            name=name,
        )
        x = keras.layers.LeakyReLU(0.2)(apply(x, conv, norm, name=name))
    x = keras.layers.Flatten()(x)
    logit = keras.layers.Dense(1, kernel_initializer=_initializer(seed * 10 + 7), name="d_logit")(x)
    return keras.Model(image, logit, name=f"discriminator_{norm}")


def fixed_noise(count, latent_dim=LATENT_DIM, seed=0):
    """The same `(count, latent_dim)` standard normal noise for a given seed."""
    return np.random.default_rng(seed).standard_normal((count, latent_dim)).astype("float32")


class GAN(SteppedModel):
    """Trains a generator and a discriminator in turn with the standard GAN losses.

    Each step draws noise and updates the discriminator on a real and a
    generated batch (binary cross-entropy); every `n_dis`-th step (every
    step by default) it then updates the generator with the non-saturating
    loss -log D(G(z)), as the spectral norm paper's settings with n_dis = 5
    do. The logs are `d_loss` and `g_loss`, averaged over the epoch's updates
    of each. The dataset yields real images in [-1, 1]; a `(images, labels)`
    pair is accepted and the labels ignored.

    Example:

    >>> gan = GAN(build_generator("batch"), build_discriminator("weight"))
    >>> gan.compile(d_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5),
    ...             g_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5))
    >>> gan.fit(real_images, epochs=5, callbacks=[DivergenceMonitor()])
    """

    def __init__(self, generator, discriminator, seed=0, n_dis=1, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(n_dis, int) or n_dis < 1:
            raise ValueError(f"n_dis must be a positive integer, got n_dis={n_dis!r}")
        self.generator = generator
        self.discriminator = discriminator
        self.n_dis = n_dis
        self.latent_dim = generator.input_shape[-1]
        self.noise_seed = keras.random.SeedGenerator(seed)
        self.cross_entropy = keras.losses.BinaryCrossentropy(from_logits=True)
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")

    def compile(self, d_optimizer, g_optimizer, **kwargs):
        # Built here, as their variables must exist before a traced step (or
        # the generator's conditional update) uses them.
        group = OptimizerGroup([(d_optimizer, self.discriminator), (g_optimizer, self.generator)])
        group.build([])
        super().compile(optimizer=group, **kwargs)
        self.d_optimizer = d_optimizer
        self.g_optimizer = g_optimizer

    @property
    def metrics(self):
        # Listed so that Keras resets them at each epoch.
        return [self.d_loss_tracker, self.g_loss_tracker]

    def call(self, noise, training=False):
        return self.generator(noise, training=training)

    def stateful_train_step(self, data):
        real, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        batch_size = ops.shape(real)[0]
        noise = keras.random.normal((batch_size, self.latent_dim), seed=self.noise_seed)

        def d_loss():
            fake = self.generator(noise, training=True)
            # Real and generated images go through separately, so batch norm
            # in the discriminator never mixes their statistics.
            real_logits = self.discriminator(real, training=True)
            fake_logits = self.discriminator(fake, training=True)
            loss = self.cross_entropy(ops.ones_like(real_logits), real_logits)
            return (loss + self.cross_entropy(ops.zeros_like(fake_logits), fake_logits),), None

        weights = self.discriminator.trainable_variables
        (loss,), _, (grads,) = self.loss_gradients(d_loss, [weights])
        self.d_optimizer.apply_gradients(zip(grads, weights))
        self.d_loss_tracker.update_state(loss)

        if self.n_dis == 1:
            self._generator_step(batch_size)
        else:
            # The discriminator has taken its n_dis-th step since the last generator one.
            self.update_if(
                self.d_optimizer.iterations % self.n_dis == 0,
                lambda: self._generator_step(batch_size),
            )
        return {metric.name: metric.result() for metric in self.metrics}

    def _generator_step(self, batch_size):
        noise = keras.random.normal((batch_size, self.latent_dim), seed=self.noise_seed)

        def g_loss():
            fake_logits = self.discriminator(self.generator(noise, training=True), training=True)
            return (self.cross_entropy(ops.ones_like(fake_logits), fake_logits),), None

        weights = self.generator.trainable_variables
        (loss,), _, (grads,) = self.loss_gradients(g_loss, [weights])
        self.g_optimizer.apply_gradients(zip(grads, weights))
        self.g_loss_tracker.update_state(loss)

    def generate(self, noise, batch_size=256):
        """Samples for `noise` as a NumPy array `(n, 28, 28, 1)` in [0, 1]."""
        images = self.generator.predict(noise, batch_size=batch_size, verbose=0)
        return (images + 1.0) / 2.0
