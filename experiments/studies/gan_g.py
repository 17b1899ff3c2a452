"""gan-g: the generator's normalization, the discriminator's fixed at spectral
norm: batch norm against none (Radford et al. 2016, DCGAN), weight norm
(Xiang & Li 2017) and instance norm (the guidance) against batch norm, scored
by FID and by how evenly the samples cover Fashion-MNIST's classes."""

from .base import Claim, Scale, Study, Variant
from .gan_d import setting_levels

DCGAN = "Radford et al. 2016 (DCGAN), section 3"
WN_GAN = "Xiang & Li 2017, batch vs weight norm in GANs"
GUIDANCE = "the guidance's claim; Ulyanov et al. 2016 for stylization generators"
G_NORMS = ("none", "batch", "instance", "layer", "weight")
SETTING_C = setting_levels(3)[:1]  # DCGAN's Adam setting, 192 generator updates


def _beats(a, b, text, paper, source, metric="fid_last"):
    return Claim(
        f"{text} (generator; spectral-norm discriminator)",
        (a, SETTING_C[0].label),
        (b, SETTING_C[0].label),
        metric,
        False,
        paper,
        source,
    )


STUDY = Study(
    name="gan-g",
    title="the generator's normalization in a GAN",
    task="gan",
    factor="the spectral norm paper's Adam setting",
    variants=tuple(Variant(g_norm, {"norm": f"{g_norm}/spectral"}) for g_norm in G_NORMS),
    scales={
        "smoke": Scale(
            {"batch_size": 32, "train_size": 256, "val_size": 128, "fid_samples": 64},
            setting_levels(1)[:1],
            seeds=1,
            variants=("batch", "instance"),
        ),
        "small": Scale(
            {"batch_size": 64, "train_size": 4096, "val_size": 1000, "fid_samples": 1000},
            SETTING_C,
            seeds=5,
        ),
        "full": Scale({"fid_samples": 5000}, setting_levels(20, score_every=2)[:1], seeds=5),
    },
    claims=(
        _beats(
            "batch",
            "none",
            "batch norm beats no norm on FID",
            "critical for deep generators to learn at all; no FID",
            DCGAN,
        ),
        _beats(
            "batch",
            "none",
            "batch norm's samples cover the classes more evenly than no norm's",
            "prevents the generator collapsing all samples to a single point",
            DCGAN,
            metric="class_kl_last",
        ),
        _beats(
            "weight",
            "batch",
            "weight norm beats batch norm on FID",
            "more stable training and better samples; no FID on this data",
            WN_GAN,
        ),
        _beats(
            "instance",
            "batch",
            "instance norm beats batch norm on FID",
            "no published number",
            GUIDANCE,
        ),
    ),
    metrics=("fid_last", "class_kl_last", "class_coverage_last", "kid_last"),
    question="Which norm for my GAN?",
    plot="samples",
    references={"real data, held out (floor)": "real_fid"},
    notes="The generator's two transposed convolutions take the norm; the discriminator's "
    "three convolutions take spectral norm in every run, the spectral norm paper's "
    "setting C (DCGAN's Adam, learning rate 2e-4, betas 0.5 and 0.999), 192 generator "
    "updates, as gan-d's. The claims compare the mean of the last three scores: FID, and "
    "the KL divergence of the samples' class shares from the real images' (the classes "
    "as the scoring classifier predicts them; 0 when the generator covers the classes as "
    "the data does), which shows a collapse onto a few classes where FID moves little. "
    "The coverage (the fraction of classes with at least half their real share) and KID "
    "are shown, not tested: they score the same samples.",
)
