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
    assert np.all((output.numpy() >= 0) & (output.numpy() <= 1))
    assert build_patch_discriminator(norm, width=8)([edges, output.numpy()]).shape == (2, 7, 7, 1)


@pytest.mark.parametrize("norm", NORMS)
def test_fit_reports_finite_losses_and_validation_scores(norm):
    model = compiled_translator(norm)
    history = model.fit(
        image_pairs(), validation_data=image_pairs(seed=1), epochs=1, verbose=0, shuffle=False
    )
    assert set(history.history) == {"l1", "g_adv", "d_loss", "val_l1", "val_ssim"}
    assert all(np.isfinite(values).all() for values in history.history.values())
    assert int(model.g_optimizer.iterations) == int(model.d_optimizer.iterations) == 2


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
    together = generator(edges, training=True).numpy()
    alone = generator(edges[:1], training=True).numpy()
    np.testing.assert_allclose(alone, together[:1], atol=1e-5)


def test_evaluate_gives_mean_per_image_l1_and_ssim():
    model = compiled_translator("instance")
    pairs = image_pairs(count=5, batch_size=2, seed=3)  # batches of 2, 2 and 1
    edges = np.concatenate([e for e, _ in pairs.as_numpy_iterator()])
    targets = np.concatenate([t for _, t in pairs.as_numpy_iterator()])
    output = model.generator(edges, training=False).numpy()
    expected_l1 = np.mean(np.abs(targets - output))
    expected_ssim = np.mean(tf.image.ssim(targets, output, max_val=1.0).numpy())
    scores = model.evaluate(pairs, verbose=0, return_dict=True)
    assert set(scores) == {"l1", "ssim"}
    assert scores["l1"] == pytest.approx(expected_l1, rel=1e-5)
    assert scores["ssim"] == pytest.approx(expected_ssim, rel=1e-4, abs=1e-6)


def test_ssim_of_a_perfect_output_is_one():
    # Sanity of the metric the task reports: identical images score SSIM 1, L1 0.
    images = np.random.default_rng(4).random((2, 28, 28, 1)).astype("float32")
    assert tf.image.ssim(images, images, max_val=1.0).numpy() == pytest.approx([1.0, 1.0])


def test_triplets_put_edges_output_and_target_side_by_side():
    model = compiled_translator("instance")
    edges, targets = next(iter(image_pairs(count=3, batch_size=3)))
    rows = model.triplets(edges, targets)
    assert rows.shape == (3, 28, 84, 1)
    np.testing.assert_array_equal(rows[:, :, :28], edges.numpy())
    np.testing.assert_allclose(rows[:, :, 28:56], model.generator(edges).numpy(), atol=1e-6)
    np.testing.assert_array_equal(rows[:, :, 56:], targets.numpy())


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
            plain.get_layer(name).kernel.numpy(), normed.get_layer(name).kernel.numpy()
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
    moving = [v.numpy().copy() for v in generator.non_trainable_variables]
    pairs = image_pairs(count=4, batch_size=4, seed=2)
    scores = model.evaluate(pairs, return_dict=True, verbose=0)
    for before, after in zip(moving, generator.non_trainable_variables):
        np.testing.assert_array_equal(before, after.numpy())
    # The reference: each batch normalized by its own mean and variance.
    edges, target = next(iter(pairs))
    batch_l1 = np.mean(np.abs(target - generator(edges, training=True).numpy()))
    np.testing.assert_allclose(scores["l1"], batch_l1, rtol=1e-5)
    for before, variable in zip(moving, generator.non_trainable_variables):
        variable.assign(before)  # the reference's call moved them
    moving_l1 = np.mean(np.abs(target - generator(edges, training=False).numpy()))
    assert abs(scores["l1"] - moving_l1) > 1e-6  # the two evaluations differ
