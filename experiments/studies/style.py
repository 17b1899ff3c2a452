"""style: instance norm suits style transfer (Ulyanov et al. 2016: replacing
batch norm with it in a feed-forward stylization network improves the
stylization; Huang & Belongie 2017: it removes each content image's contrast,
a form of style normalization). A U-Net stylizes Fashion-MNIST items with a
stripe texture, its losses measured in a fixed random convolution bank."""

from .base import Claim, Level, Scale, Study, Variant

IN = "Ulyanov, Vedaldi & Lempitsky 2016 (instance normalization)"
ADAIN = "Huang & Belongie 2017 (AdaIN), figure 1"
GUIDANCE = "the guidance: instance norm for style transfer"
# At batch 1 the claim compares instance norm with batch norm only.
BATCH_1 = Level("batch 1", {"batch_size": 1}, variants=("batch", "instance"))
BATCH_8 = Level("batch 8", {"batch_size": 8})
NAMES = {"none": "no norm", "batch": "batch norm", "instance": "instance norm"}
METRICS = {
    "test_loss": "on the stylization loss (content + style)",
    "test_style_loss": "on the style loss",
    "test_style_loss_low_contrast": "on the style loss of lowered-contrast content",
    "contrast_shift": "on how little its stylization changes when the content's contrast "
    "is lowered",
}
# Adam at each of these rates, per cell, chosen on the validation loss.
RATES = (3e-4, 1e-3)
VARIANTS = tuple(Variant(norm, {"norm": norm}) for norm in NAMES)
SMOKE = Scale(
    {"epochs": 1, "train_size": 64, "val_size": 32, "test_size": 32},
    (BATCH_8,),
    seeds=1,
    variants=("batch", "instance"),
    lrs=RATES[-1:],
)
# 2 epochs of 2,048 images: 4,096 steps at batch 1, 512 at batch 8.
SMALL = {"epochs": 2, "train_size": 2048, "val_size": 512, "test_size": 512}
FULL = {"epochs": 5, "train_size": 16384, "val_size": 2048, "test_size": 10000}
FULL_RATES = (1e-4, *RATES)


def _claim(a, b, level, metric, paper, source):
    return Claim(
        f"{NAMES[a]} beats {NAMES[b]} {METRICS[metric]} ({level.label})",
        (a, level.label),
        (b, level.label),
        metric,
        False,
        paper,
        source,
    )


STUDY = Study(
    name="style",
    title="instance norm for style transfer",
    task="style",
    factor="batch size",
    variants=VARIANTS,
    scales={
        "smoke": SMOKE,
        "small": Scale(SMALL, (BATCH_1, BATCH_8), seeds=5, lrs=RATES),
        "full": Scale(FULL, (BATCH_1, BATCH_8), seeds=5, lrs=FULL_RATES),
    },
    claims=(
        _claim(
            "instance",
            "batch",
            BATCH_8,
            "test_loss",
            "replacing batch norm with instance norm improves feed-forward stylization "
            "(qualitative figures)",
            IN,
        ),
        _claim(
            "instance",
            "batch",
            BATCH_8,
            "test_style_loss",
            "style loss lower with instance norm throughout training (figure 1a)",
            ADAIN,
        ),
        _claim("instance", "none", BATCH_8, "test_loss", "no figure", GUIDANCE),
        _claim(
            "instance",
            "batch",
            BATCH_8,
            "test_style_loss_low_contrast",
            "the advantage remains on contrast-normalized content (figure 1b)",
            ADAIN,
        ),
        _claim(
            "instance",
            "batch",
            BATCH_8,
            "contrast_shift",
            "instance norm normalizes each image's contrast away",
            IN,
        ),
        _claim(
            "instance",
            "batch",
            BATCH_1,
            "test_loss",
            "no figure: at batch 1, batch norm trains on one image's statistics, as "
            "instance norm does, and stylizes with moving ones",
            GUIDANCE,
        ),
    ),
    metrics=("test_loss", "test_style_loss", "test_content_loss", "contrast_shift"),
    question="Which norm for style transfer?",
    tune_metric="val_loss",
    tune_higher_is_better=False,
    notes="The translate task's U-Net (pix2pix at Fashion-MNIST scale: its first and last "
    "convolutions unnormalized) maps a Fashion-MNIST item to a stylized one, trained with "
    "Adam on 2,048 items for 2 epochs at batch 8 (none, batch, instance) and 1 (batch, "
    "instance), on the content loss (the "
    "item's features in the second layer of a fixed random convolution bank) plus 10 x "
    "the style loss (the mean squared difference of the Gram matrices of each of the "
    "bank's three layers from a generated stripe texture's; random filters carry texture "
    "statistics: Ustyuzhaninov et al. 2017). Each cell is read at its rate of 3e-4 or 1e-3 "
    "with the lower mean validation loss. Scored on 512 test items in inference mode "
    "(batch norm with its moving statistics), and on the same items at a third of their "
    "contrast (scaled about mid-grey by 0.3): the style loss there, and `contrast_shift`, "
    "the mean absolute change of the stylized image, how much of the content's contrast "
    "reaches the output.",
)
