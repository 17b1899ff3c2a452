"""The DCGAN: norm placement, a training step per norm, samples, seeds."""

import keras
import numpy as np
import pytest

from experiments.models.gan import (
    GAN,
    build_discriminator,
    build_generator,
    fixed_noise,
)
from experiments.models.norms import NORMS

NORM_LAYERS = {
    "batch": "BatchNormalization",
    "instance": "InstanceNormalization",
    "layer": "LayerNormalization",
    "group": "GroupNormalization",
    "weight": "WeightNormalization",
}


def real_images(count=8, seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, (count, 28, 28, 1)).astype("float32")


def compiled_gan(g_norm, d_norm):
    gan = GAN(build_generator(g_norm, width=8), build_discriminator(d_norm, width=8), seed=1)
    # Eager steps: on tiny data tracing a tf.function would cost more than the step.
    gan.compile(
        d_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5),
        g_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5),
        run_eagerly=True,
    )
    return gan


def layer_classes(model):
    return [type(layer).__name__ for layer in model.layers]


@pytest.mark.parametrize("norm", NORMS)
def test_shapes_and_output_range(norm):
    generator, discriminator = build_generator(norm, width=8), build_discriminator(norm, width=8)
    images = generator(fixed_noise(3))
    assert images.shape == (3, 28, 28, 1)
    assert np.all(np.abs(keras.ops.convert_to_numpy(images)) <= 1.0)
    assert discriminator(images).shape == (3, 1)


@pytest.mark.parametrize("norm", ["batch", "instance", "layer", "group", "weight"])
def test_no_normalization_on_generator_output_or_discriminator_input(norm):
    generator, discriminator = build_generator(norm, width=8), build_discriminator(norm, width=8)
    # Both stay plain layers (weight norm would wrap them) ...
    assert type(generator.get_layer("g_output")) is keras.layers.Conv2DTranspose
    assert type(discriminator.get_layer("d_input")) is keras.layers.Conv2D
    # ... and the hidden convolutions carry the norm: two in G, three in D.
    assert layer_classes(generator).count(NORM_LAYERS[norm]) == 2
    assert layer_classes(discriminator).count(NORM_LAYERS[norm]) == 3
    assert layer_classes(generator)[-2:] == ["ReLU", "Conv2DTranspose"]
    assert layer_classes(discriminator)[2] == "LeakyReLU"


MIXED = [("batch", "weight"), ("none", "layer")]


@pytest.mark.parametrize("g_norm, d_norm", [(norm, norm) for norm in NORMS] + MIXED)
def test_train_step_reports_finite_losses(g_norm, d_norm):
    gan = compiled_gan(g_norm, d_norm)
    history = gan.fit(real_images(), batch_size=4, epochs=1, verbose=0)
    assert set(history.history) == {"d_loss", "g_loss"}
    assert np.isfinite(history.history["d_loss"] + history.history["g_loss"]).all()
    assert int(gan.d_optimizer.iterations) == int(gan.g_optimizer.iterations) == 2


def test_the_generator_takes_one_update_per_n_dis_discriminator_updates():
    gan = GAN(build_generator("batch", width=8), build_discriminator("weight", width=8), n_dis=3)
    gan.compile(
        d_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5),
        g_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5),
        # Two steps per call, where the update is a traced conditional (torch runs one).
        steps_per_execution=1 if keras.config.backend() == "torch" else 2,
    )
    kernel = gan.generator.get_layer("g_output").kernel
    history = gan.fit(real_images(24), batch_size=4, epochs=1, verbose=0, shuffle=False)
    # Six discriminator updates: the generator's after the 3rd and the 6th.
    assert int(gan.d_optimizer.iterations) == 6 and int(gan.g_optimizer.iterations) == 2
    assert np.isfinite(history.history["d_loss"] + history.history["g_loss"]).all()
    before = keras.ops.convert_to_numpy(kernel)
    gan.fit(real_images(8), batch_size=4, epochs=1, verbose=0)  # two more: no generator update
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(kernel), before)
    assert int(gan.g_optimizer.iterations) == 2
    with pytest.raises(ValueError, match="n_dis must be a positive integer, got n_dis=0"):
        GAN(gan.generator, gan.discriminator, n_dis=0)


def test_labels_are_ignored_and_samples_are_in_unit_range():
    gan = compiled_gan("batch", "none")
    gan.fit(real_images(), np.zeros(8), batch_size=8, epochs=1, verbose=0)
    samples = gan.generate(fixed_noise(5, seed=3))
    assert samples.shape == (5, 28, 28, 1)
    assert samples.min() >= 0.0 and samples.max() <= 1.0


def test_same_seed_same_generator_weights_across_norms():
    plain, normed = build_generator("none", seed=2), build_generator("batch", seed=2)
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(plain.get_layer("g_output").kernel),
        keras.ops.convert_to_numpy(normed.get_layer("g_output").kernel),
    )


def test_fixed_noise_is_fixed_by_seed():
    np.testing.assert_array_equal(fixed_noise(4, seed=5), fixed_noise(4, seed=5))
    assert fixed_noise(4, latent_dim=10).shape == (4, 10)
    assert not np.array_equal(fixed_noise(4, seed=5), fixed_noise(4, seed=6))


@pytest.mark.parametrize("build", [build_generator, build_discriminator])
def test_unsupported_norm_is_refused(build):
    with pytest.raises(ValueError, match="norm='bogus'"):
        build("bogus")


def test_spectral_norm_is_for_the_discriminator_only():
    with pytest.raises(ValueError, match="norm='spectral'"):
        build_generator("spectral")
    discriminator = build_discriminator("spectral", width=8)
    wrapped = [
        layer
        for layer in discriminator.layers
        if isinstance(layer, keras.layers.SpectralNormalization)
    ]
    assert [layer.layer.name for layer in wrapped] == ["d_conv2", "d_conv3", "d_conv4"]
    assert all(layer.layer.use_bias for layer in wrapped)
    # The input layer stays plain (Radford et al.); one logit per image.
    assert type(discriminator.get_layer("d_input")) is keras.layers.Conv2D
    images = np.random.default_rng(0).uniform(-1, 1, (4, 28, 28, 1)).astype("float32")
    assert discriminator(images, training=True).shape == (4, 1)
