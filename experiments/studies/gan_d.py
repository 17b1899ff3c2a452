"""gan-d: the discriminator's normalization, the generator's fixed at batch norm
(Miyato et al. 2018, the spectral-norm paper's table of discriminator norms),
under two of that paper's Adam settings."""

from .base import Claim, Level, Scale, Study, Variant

SOURCE = "Miyato et al. 2018, CIFAR-10 standard CNN, discriminator normalizations"
D_NORMS = ("none", "batch", "layer", "weight", "spectral")
# The spectral norm paper's settings (its table of Adam hyperparameters): C is
# DCGAN's, one discriminator update per generator update; A is WGAN-GP's, five.
# Both train the generator the same number of updates: A reads five times the
# batches, so it runs five times the epochs, scored as often per generator update.
SETTINGS = {
    "C": {"lr": 2e-4, "beta1": 0.5, "beta2": 0.999, "n_dis": 1},
    "A": {"lr": 1e-4, "beta1": 0.5, "beta2": 0.9, "n_dis": 5},
}


def _label(d_norm):
    return "batch" if d_norm == "batch" else f"batch/{d_norm}"


def setting_levels(epochs, score_every=1):
    """Settings C and A, at `epochs` generator-update epochs of setting C."""
    return tuple(
        Level(
            f"setting {name}",
            {
                **params,
                "epochs": epochs * params["n_dis"],
                "score_every": score_every * params["n_dis"],
            },
        )
        for name, params in SETTINGS.items()
    )


def _beats_batch(d_norm, text, paper, setting):
    return Claim(
        f"{text} beats batch norm in the discriminator, setting {setting}",
        (d_norm, f"setting {setting}"),
        ("batch", f"setting {setting}"),
        "fid_last",
        False,
        paper,
        SOURCE,
    )


STUDY = Study(
    name="gan-d",
    title="the discriminator's normalization in a GAN",
    task="gan",
    factor="the spectral norm paper's Adam setting",
    variants=tuple(Variant(d_norm, {"norm": _label(d_norm)}) for d_norm in D_NORMS),
    scales={
        "smoke": Scale(
            {
                "batch_size": 32,
                "train_size": 256,
                "val_size": 128,
                "fid_samples": 64,
            },
            setting_levels(1)[:1],
            seeds=2,
            variants=("batch", "weight"),
        ),
        # 3 epochs of 4,096 images at batch 64: 192 generator updates in both
        # settings, scored after each epoch of them; the claims read the mean
        # of the last three scores.
        "small": Scale(
            {
                "batch_size": 64,
                "train_size": 4096,
                "val_size": 1000,
                "fid_samples": 1000,
            },
            setting_levels(3),
            seeds=5,
        ),
        "full": Scale({"fid_samples": 5000}, setting_levels(20, score_every=2), seeds=5),
    },
    claims=tuple(
        claim
        for setting in SETTINGS
        for claim in (
            _beats_batch(
                "weight", "weight norm", "FID 34.7 (WN) vs 56.3 (BN); IS 6.84 vs 6.27", setting
            ),
            _beats_batch(
                "layer", "layer norm", "FID 33.9 (LN) vs 56.3 (BN); IS 7.19 vs 6.27", setting
            ),
            _beats_batch(
                "spectral",
                "spectral norm",
                "the paper's headline; its SN row is not in the references",
                setting,
            ),
        )
    ),
    metrics=("fid_last", "kid_last"),
    question="Which norm for my GAN?",
    plot="samples",
    references={"real data, held out (floor)": "real_fid"},
    notes="The discriminator normalizes three convolutions (all but its input layer). "
    "Two of the spectral norm paper's Adam settings: C (learning rate 2e-4, betas 0.5 and "
    "0.999, one discriminator update per generator update, DCGAN's) and A (1e-4, 0.5 and "
    "0.9, five discriminator updates per generator update, WGAN-GP's); both train the "
    "generator the same number of updates, so A reads five times the batches. FID and KID "
    "in a Fashion-MNIST classifier's feature space, every run scored on the same number of "
    "samples after each epoch of generator updates; the claims compare the mean of the "
    "last three FIDs (`fid_last`), a GAN's single last score being noisy. The rates are "
    "the paper's settings, not tuned per norm: the paper compares the norms setting by "
    "setting, and a GAN has no validation score apart from the FID the claims test, so "
    "choosing a setting on it would select on the outcome. KID is shown, "
    "not tested: it scores the same samples as FID. Spectral norm is Keras's "
    "SpectralNormalization, which updates the kernel in place rather than "
    "differentiating through the normalization.",
)
