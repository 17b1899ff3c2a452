"""The edges-to-image translator: every norm trains, batch size 1 works, L1 and SSIM are right."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from experiments.data.edges import edges_and_target
from experiments.models.norms import NORMS
from experiments.models.translate import (
    Translator,
    build_patch_discriminator,
    build_translation_generator,
    ssim,
)


def image_pairs(count=4, batch_size=2, seed=0):
    images = np.random.default_rng(seed).random((count, 28, 28, 1)).astype("float32")
    return tf.data.Dataset.from_tensor_slices(images).batch(batch_size).map(edges_and_target)


def compiled_translator(norm, width=8):
    model = Translator(
        build_translation_generator(norm, width=width), build_patch_discriminator(norm, width=width)
    )
    # Eager steps: on tiny data tracing a tf.function would cost more than the step.
    model.compile(
        g_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5),
        d_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5),
        run_eagerly=True,
    )
    return model


@pytest.mark.parametrize("norm", NORMS)
def test_shapes_and_output_range(norm):
    generator = build_translation_generator(norm, width=8)
    edges = np.random.default_rng(1).random((2, 28, 28, 1)).astype("float32")
    output = generator(edges)
    assert output.shape == (2, 28, 28, 1)
    assert np.all(
        (keras.ops.convert_to_numpy(output) >= 0) & (keras.ops.convert_to_numpy(output) <= 1)
    )
    assert build_patch_discriminator(norm, width=8)(
        [edges, keras.ops.convert_to_numpy(output)]
    ).shape == (2, 7, 7, 1)


@pytest.mark.parametrize("norm", NORMS)
def test_fit_reports_finite_losses_and_validation_scores(norm):
    model = compiled_translator(norm)
    history = model.fit(
        image_pairs(), validation_data=image_pairs(seed=1), epochs=1, verbose=0, shuffle=False
    )
    assert set(history.history) == {"l1", "g_adv", "d_loss", "val_l1", "val_ssim"}
    assert all(np.isfinite(values).all() for values in history.history.values())
    assert int(model.g_optimizer.iterations) == int(model.d_optimizer.iterations) == 2


@pytest.mark.xfail(
    keras.config.backend() == "torch",
    raises=RuntimeError,
    strict=True,
    reason="torch's CPU convolution cannot backpropagate a one-filter layer at batch size 1 "
    "(slow_conv2d: grad_weight must be contiguous); the translate task refuses it",
)
@pytest.mark.parametrize("norm", ["instance", "batch"])
def test_batch_size_one(norm):
    model = compiled_translator(norm)
    history = model.fit(image_pairs(count=2, batch_size=1), epochs=1, verbose=0, shuffle=False)
    assert np.isfinite(history.history["l1"] + history.history["d_loss"]).all()
    scores = model.evaluate(image_pairs(count=2, batch_size=1), verbose=0, return_dict=True)
    assert np.isfinite(list(scores.values())).all()


def test_instance_norm_output_does_not_depend_on_the_batch():
    generator = build_translation_generator("instance", width=8)
    edges = np.random.default_rng(2).random((3, 28, 28, 1)).astype("float32")
    together = keras.ops.convert_to_numpy(generator(edges, training=True))
    alone = keras.ops.convert_to_numpy(generator(edges[:1], training=True))
    np.testing.assert_allclose(alone, together[:1], atol=1e-5)


def test_evaluate_gives_mean_per_image_l1_and_ssim():
    model = compiled_translator("instance")
    pairs = image_pairs(count=5, batch_size=2, seed=3)  # batches of 2, 2 and 1
    edges = np.concatenate([e for e, _ in pairs.as_numpy_iterator()])
    targets = np.concatenate([t for _, t in pairs.as_numpy_iterator()])
    output = keras.ops.convert_to_numpy(model.generator(edges, training=False))
    expected_l1 = np.mean(np.abs(targets - output))
    expected_ssim = np.mean(ssim_reference(targets, output))
    scores = model.evaluate(pairs, verbose=0, return_dict=True)
    assert set(scores) == {"l1", "ssim"}
    assert scores["l1"] == pytest.approx(expected_l1, rel=1e-5)
    assert scores["ssim"] == pytest.approx(expected_ssim, rel=1e-4, abs=1e-6)


def ssim_reference(a, b, max_val=1.0):
    """SSIM per image pair from its formula (Wang et al. 2004): an 11x11
    Gaussian window of sigma 1.5 where it fits, C1 = (0.01 L)^2, C2 = (0.03 L)^2."""
    offsets = np.arange(11) - 5.0
    line = np.exp(-(offsets**2) / (2 * 1.5**2))
    window = np.outer(line, line) / line.sum() ** 2

    def local_mean(x):  # (batch, H, W, C) -> (batch, H - 10, W - 10, C)
        patches = np.lib.stride_tricks.sliding_window_view(x, (11, 11), axis=(1, 2))
        return np.einsum("bhwcij,ij->bhwc", patches, window)

    a, b = a.astype("float64"), b.astype("float64")
    c1, c2 = (0.01 * max_val) ** 2, (0.03 * max_val) ** 2
    mu_a, mu_b = local_mean(a), local_mean(b)
    var_a, var_b = local_mean(a * a) - mu_a**2, local_mean(b * b) - mu_b**2
    covariance = local_mean(a * b) - mu_a * mu_b
    index = ((2 * mu_a * mu_b + c1) * (2 * covariance + c2)) / (
        (mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2)
    )
    return index.mean(axis=(1, 2, 3))


def test_ssim_matches_its_formula_and_tensorflow():
    rng = np.random.default_rng(5)
    a = rng.random((3, 28, 28, 2)).astype("float32")
    b = np.clip(a + rng.normal(0, 0.2, a.shape), 0, 1).astype("float32")
    ours = keras.ops.convert_to_numpy(ssim(a, b))
    np.testing.assert_allclose(ours, ssim_reference(a, b), rtol=1e-4)
    np.testing.assert_allclose(ours, tf.image.ssim(a, b, max_val=1.0).numpy(), rtol=1e-4)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(ssim(2 * a, 2 * b, max_val=2.0)), ours, rtol=1e-4
    )


def test_ssim_of_a_perfect_output_is_one():
    # Sanity of the metric the task reports: identical images score SSIM 1.
    images = np.random.default_rng(4).random((2, 28, 28, 1)).astype("float32")
    assert keras.ops.convert_to_numpy(ssim(images, images)) == pytest.approx([1.0, 1.0])
    assert ssim_reference(images, 1 - images).max() < 0.5


def test_triplets_put_edges_output_and_target_side_by_side():
    model = compiled_translator("instance")
    edges, targets = next(iter(image_pairs(count=3, batch_size=3)))
    rows = model.triplets(edges, targets)
    assert rows.shape == (3, 28, 84, 1)
    np.testing.assert_array_equal(rows[:, :, :28], keras.ops.convert_to_numpy(edges))
    np.testing.assert_allclose(
        rows[:, :, 28:56], keras.ops.convert_to_numpy(model.generator(edges)), atol=1e-6
    )
    np.testing.assert_array_equal(rows[:, :, 56:], keras.ops.convert_to_numpy(targets))


def test_first_layers_are_not_normalized():
    generator = build_translation_generator("weight", width=8)
    discriminator = build_patch_discriminator("weight", width=8)
    assert type(generator.get_layer("enc1")) is keras.layers.Conv2D
    assert type(discriminator.get_layer("d_input")) is keras.layers.Conv2D


@pytest.mark.parametrize("build", [build_translation_generator, build_patch_discriminator])
def test_unsupported_norm_is_refused(build):
    with pytest.raises(ValueError, match="norm='spectral'"):
        build("spectral")


def test_same_seed_same_shared_weights_across_norms():
    plain = build_translation_generator("none", width=8, seed=2)
    normed = build_translation_generator("instance", width=8, seed=2)
    for name in ("enc1", "enc2", "output"):
        np.testing.assert_array_equal(
            keras.ops.convert_to_numpy(plain.get_layer(name).kernel),
            keras.ops.convert_to_numpy(normed.get_layer(name).kernel),
        )


def test_evaluating_with_test_batch_statistics_leaves_the_moving_ones_alone():
    generator = build_translation_generator("batch", width=8)
    model = Translator(
        generator, build_patch_discriminator("batch", width=8), eval_batch_stats=True
    )
    model.compile(
        g_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5),
        d_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5),
    )
    model.fit(image_pairs(), epochs=1, verbose=0, shuffle=False)
    moving = [keras.ops.convert_to_numpy(v).copy() for v in generator.non_trainable_variables]
    pairs = image_pairs(count=4, batch_size=4, seed=2)
    scores = model.evaluate(pairs, return_dict=True, verbose=0)
    for before, after in zip(moving, generator.non_trainable_variables):
        np.testing.assert_array_equal(before, keras.ops.convert_to_numpy(after))
    # The reference: each batch normalized by its own mean and variance.
    edges, target = next(iter(pairs))
    batch_l1 = np.mean(np.abs(target - keras.ops.convert_to_numpy(generator(edges, training=True))))
    np.testing.assert_allclose(scores["l1"], batch_l1, rtol=1e-5)
    for before, variable in zip(moving, generator.non_trainable_variables):
        variable.assign(before)  # the reference's call moved them
    moving_l1 = np.mean(
        np.abs(target - keras.ops.convert_to_numpy(generator(edges, training=False)))
    )
    assert abs(scores["l1"] - moving_l1) > 1e-6  # the two evaluations differ
