"""gan-d: the discriminator's normalization, the generator's fixed at batch norm
(Miyato et al. 2018, the spectral-norm paper's table of discriminator norms)."""

from experiments.studies.base import Claim, Level, Scale, Study, Variant

SOURCE = "Miyato et al. 2018, CIFAR-10 standard CNN, discriminator normalizations"
D_NORMS = ("none", "batch", "layer", "weight", "spectral")


def _label(d_norm):
    return "batch" if d_norm == "batch" else f"batch/{d_norm}"


STUDY = Study(
    name="gan-d",
    title="the discriminator's normalization in a GAN",
    task="gan",
    factor="-",
    variants=tuple(Variant(d_norm, {"norm": _label(d_norm)}) for d_norm in D_NORMS),
    scales={
        "smoke": Scale(
            {
                "epochs": 1,
                "batch_size": 32,
                "train_size": 256,
                "val_size": 128,
                "fid_samples": 64,
                "score_every": 1,
            },
            (Level("DCGAN", {}),),
            seeds=2,
            variants=("batch", "weight"),
        ),
        "small": Scale(
            {
                "epochs": 3,
                "batch_size": 64,
                "train_size": 6144,
                "val_size": 1000,
                "fid_samples": 1000,
                "score_every": 1,
            },
            (Level("DCGAN", {}),),
            seeds=5,
        ),
        "full": Scale({"epochs": 20, "fid_samples": 5000}, (Level("DCGAN", {}),), seeds=5),
    },
    claims=(
        Claim(
            "weight norm beats batch norm in the discriminator",
            ("weight", "DCGAN"),
            ("batch", "DCGAN"),
            "fid",
            False,
            "FID 34.7 (WN) vs 56.3 (BN); IS 6.84 vs 6.27",
            SOURCE,
        ),
        Claim(
            "layer norm beats batch norm in the discriminator",
            ("layer", "DCGAN"),
            ("batch", "DCGAN"),
            "fid",
            False,
            "FID 33.9 (LN) vs 56.3 (BN); IS 7.19 vs 6.27",
            SOURCE,
        ),
        Claim(
            "spectral norm beats batch norm in the discriminator",
            ("spectral", "DCGAN"),
            ("batch", "DCGAN"),
            "fid",
            False,
            "the paper's headline; its SN row is not in the references",
            SOURCE,
        ),
    ),
    metrics=("fid", "kid"),
    plot="samples",
    references={"real data, held out (floor)": "real_fid"},
    notes="FID and KID in a Fashion-MNIST classifier's feature space, every run scored on "
    "the same number of samples; KID is shown, not tested: it scores the same samples "
    "as FID. Spectral norm is Keras's SpectralNormalization, "
    "which updates the kernel in place rather than differentiating through the "
    "normalization.",
)
