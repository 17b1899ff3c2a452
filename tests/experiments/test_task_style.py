"""The style task: feed-forward stylization with content and Gram-matrix style
losses in a fixed random convolution bank."""

import keras
import numpy as np
import pytest

import keras_norms  # noqa: F401  (registers the layers the logged models hold)
from experiments.cli import main
from experiments.models.style import (
    CONTENT_LAYER,
    Stylizer,
    brightened,
    feature_bank,
    gram,
    lowered_contrast,
    style_texture,
)
from experiments.tasks import TASKS
from experiments.tasks.style import _test_scores

TINY = {"epochs": 2, "train_size": 64, "val_size": 32, "test_size": 32}
rng = np.random.default_rng(0)
IMAGES = rng.uniform(0, 1, (6, 28, 28, 1)).astype("float32")


def test_the_gram_matrix_is_the_channels_products_over_the_positions():
    features = rng.normal(size=(2, 5, 4, 3)).astype("float32")
    flat = features.reshape(2, 20, 3)
    expected = np.einsum("bpi,bpj->bij", flat, flat) / 20
    np.testing.assert_allclose(keras.ops.convert_to_numpy(gram(features)), expected, rtol=1e-5)


def test_the_texture_the_lowered_contrast_and_the_brightened_images():
    texture = style_texture()
    assert texture.shape == (1, 28, 28, 1) and 0 <= texture.min() < 0.1 < 0.9 < texture.max() <= 1
    np.testing.assert_allclose(texture[0, :-6], texture[0, 6:], atol=1e-6)  # its period
    low = lowered_contrast(IMAGES, 0.3)
    np.testing.assert_allclose(low - 0.5, 0.3 * (IMAGES - 0.5), atol=1e-7)
    bright = np.asarray(brightened(IMAGES, 0.3))
    np.testing.assert_allclose(bright, np.minimum(IMAGES + 0.3, 1.0), atol=1e-7)
    assert np.any(bright == 1.0) and np.all(bright >= 0.3)


def test_the_bank_is_fixed_and_not_trained():
    first, second = feature_bank(), feature_bank()
    for a, b in zip(first.weights, second.weights):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b))
    assert not first.trainable_weights


def _identity():
    inputs = keras.Input((28, 28, 1))
    return keras.Model(inputs, keras.layers.Identity()(inputs))


def test_the_losses_are_the_formulas_in_the_bank():
    model = Stylizer(_identity(), style_texture(), style_weight=10.0)
    content, stylized = IMAGES[:3], IMAGES[3:]
    content_loss, style_loss = model.losses_of(content, stylized)
    bank = model.bank
    features = [keras.ops.convert_to_numpy(f) for f in bank(stylized)]
    targets = [keras.ops.convert_to_numpy(f) for f in bank(style_texture())]
    expected_content = np.mean(
        (features[CONTENT_LAYER] - keras.ops.convert_to_numpy(bank(content)[CONTENT_LAYER])) ** 2
    )

    def np_gram(f):
        flat = f.reshape(f.shape[0], -1, f.shape[-1])
        return np.einsum("bpi,bpj->bij", flat, flat) / flat.shape[1]

    expected_style = np.mean(
        [np.mean((np_gram(f) - np_gram(t)) ** 2) for f, t in zip(features, targets)]
    )
    assert float(content_loss) == pytest.approx(expected_content, rel=1e-4)
    assert float(style_loss) == pytest.approx(expected_style, rel=1e-4)
    # Copying the content costs no content loss; the texture itself no style loss.
    assert float(model.losses_of(content, content)[0]) == 0
    assert float(model.losses_of(style_texture(), style_texture())[1]) == pytest.approx(0, abs=1e-9)


def test_the_shifts_scores_are_the_changes_of_the_stylization_and_of_its_loss():
    import tensorflow as tf

    model = Stylizer(_identity(), style_texture())
    model.compile()
    test = tf.data.Dataset.from_tensor_slices(IMAGES).batch(4)
    shifts = {
        "low_contrast": ("contrast_shift", lambda images: lowered_contrast(images, 0.3)),
        "bright": ("brightness_shift", lambda images: brightened(images, 0.3)),
    }
    scores = _test_scores(model, test, shifts)
    # The identity passes the whole change through.
    assert scores["contrast_shift"] == pytest.approx(0.7 * np.mean(np.abs(IMAGES - 0.5)), rel=1e-5)
    bright = np.minimum(IMAGES + 0.3, 1.0)
    assert scores["brightness_shift"] == pytest.approx(np.mean(bright - IMAGES), rel=1e-5)
    content_loss, style_loss = model.losses_of(IMAGES, IMAGES)
    assert scores["test_content_loss"] == pytest.approx(0, abs=1e-9)
    assert scores["test_style_loss"] == pytest.approx(float(style_loss), rel=1e-3)
    # It copies shifted content too: no content loss; the style loss is the
    # shifted images' own.
    for suffix, shifted in (("low_contrast", lowered_contrast(IMAGES, 0.3)), ("bright", bright)):
        assert scores[f"test_content_loss_{suffix}"] == pytest.approx(0, abs=1e-9)
        expected_style = float(model.losses_of(shifted, shifted)[1])
        assert scores[f"test_style_loss_{suffix}"] == pytest.approx(expected_style, rel=1e-3)
        assert scores[f"degradation_{suffix}"] == pytest.approx(
            scores[f"test_loss_{suffix}"] - scores["test_loss"], abs=1e-9
        )
        assert scores[f"test_style_loss_{suffix}"] != pytest.approx(scores["test_style_loss"])


@pytest.mark.parametrize("norm", ["instance", "batch"])
def test_a_run_logs_its_losses_samples_and_the_stylizer(
    norm, store, tiny_data, runs_of, metric_steps, image_steps, monkeypatch
):
    monkeypatch.setattr(TASKS["style"], "quick_settings", TINY)
    assert main(["run", "--task", "style", "--norm", norm, "--quick"]) == 0
    [run] = runs_of("style")
    assert run.info.status == "FINISHED"
    metrics = run.data.metrics
    for name in (
        "test_loss",
        "test_content_loss",
        "test_style_loss",
        "test_style_loss_low_contrast",
        "test_style_loss_bright",
        "contrast_shift",
        "brightness_shift",
    ):
        assert np.isfinite(metrics[name]) and metrics[name] >= 0, name
    for suffix in ("low_contrast", "bright"):
        assert metrics[f"degradation_{suffix}"] == pytest.approx(
            metrics[f"test_loss_{suffix}"] - metrics["test_loss"], abs=1e-6
        )
    assert metrics["test_loss"] == pytest.approx(
        metrics["test_content_loss"] + 10 * metrics["test_style_loss"], rel=1e-4
    )
    assert metric_steps(run, "val_style_loss") == [1, 2]
    assert image_steps(run, "stylized") == [1, 2]
    assert run.data.params["style_weight"] == "10.0"
    assert len(run.outputs.model_outputs) == 1


def test_a_run_whose_losses_blow_up_ends_failed_and_tagged(
    store, tiny_data, runs_of, monkeypatch, capsys
):
    monkeypatch.setattr(TASKS["style"], "quick_settings", TINY)
    assert main(["run", "--task", "style", "--norm", "instance", "--quick", "--lr", "1e30"]) == 1
    [run] = runs_of("style")
    assert run.info.status == "FAILED"
    assert run.data.tags["diverged"] == "true" and run.data.tags["diverged_epoch"] == "1"
    assert "training diverged at epoch 1" in capsys.readouterr().err


@pytest.mark.parametrize(
    "options, message",
    [
        (["--contrast", "1.5"], "--contrast must lower the contrast (a factor below 1), got"),
        (
            ["--brightness", "1"],
            "--brightness must leave some of the image below white (below 1), got brightness=1.0",
        ),
        (["--brightness", "-0.2"], "argument --brightness: must be a positive number, got '-0.2'"),
        (["--style-weight", "0"], "argument --style-weight: must be a positive number, got '0'"),
    ],
)
def test_bad_options_are_refused(options, message, tiny_data, monkeypatch, capsys):
    monkeypatch.setattr(TASKS["style"], "quick_settings", TINY)
    with pytest.raises(SystemExit) as exit:
        main(["run", "--task", "style", "--norm", "none", "--quick", *options])
    assert exit.value.code == 2
    assert message in capsys.readouterr().err
