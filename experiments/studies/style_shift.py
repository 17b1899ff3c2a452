"""style-shift: the stylizers of `style` scored on shifted content, the
companion check of instance norm's case for stylization (Ulyanov et al. 2016;
Huang & Belongie 2017: it normalizes each content image's contrast away, so a
change of contrast or brightness should cost it least). Declared after
`style`'s results, so a study of its own, with its own runs."""

from .base import Claim, Scale, Study
from .style import BATCH_8, FULL, FULL_RATES, IN, NAMES, RATES, SMALL, SMOKE, VARIANTS

ADAIN = "Huang & Belongie 2017 (AdaIN), section 4 and figure 1b"
SHIFTS = {
    "degradation_low_contrast": "when the content's contrast is lowered (to 0.3)",
    "degradation_bright": "when the content is brightened (+0.3, clipped)",
}


def _claim(b, metric, paper, source):
    return Claim(
        f"instance norm's stylization loss rises less than {NAMES[b]}'s {SHIFTS[metric]} "
        f"({BATCH_8.label})",
        ("instance", BATCH_8.label),
        (b, BATCH_8.label),
        metric,
        False,
        paper,
        source,
    )


STUDY = Study(
    name="style-shift",
    title="stylization of shifted content: does instance norm degrade least?",
    task="style",
    factor="batch size",
    variants=VARIANTS,
    scales={
        "smoke": SMOKE,
        # `style`'s batch-8 cells: 2 epochs of 2,048 images, 512 steps.
        "small": Scale(SMALL, (BATCH_8,), seeds=5, lrs=RATES),
        "full": Scale(FULL, (BATCH_8,), seeds=5, lrs=FULL_RATES),
    },
    claims=(
        _claim(
            "batch",
            "degradation_low_contrast",
            "no figure: instance norm's success is attributed to its invariance to the "
            "content image's contrast (section 4)",
            ADAIN,
        ),
        _claim(
            "none",
            "degradation_low_contrast",
            "no figure: instance norm normalizes each content image's contrast away",
            IN,
        ),
        _claim(
            "batch",
            "degradation_bright",
            "no figure: a brightness shift is a shift of each channel's mean, which "
            "instance norm subtracts per image",
            IN,
        ),
        _claim(
            "none",
            "degradation_bright",
            "no figure: a brightness shift is a shift of each channel's mean",
            IN,
        ),
    ),
    metrics=(
        "test_loss",
        "degradation_low_contrast",
        "degradation_bright",
        "contrast_shift",
        "brightness_shift",
    ),
    question="Which norm for style transfer?",
    tune_metric="val_loss",
    tune_higher_is_better=False,
    notes="`style`'s batch-8 cells trained again, in runs of their own (the same U-Net, losses,"
    " data and budget: 2,048 items for 2 epochs, 512 steps, Adam at 3e-4 or 1e-3 per norm"
    " chosen on the validation loss, 5 seeds), then each trained stylizer scored in "
    "inference mode on 512 test items as they are, at a third of their contrast (scaled "
    "about mid-grey by 0.3) and brightened (0.3 added to every pixel, clipped to 1: about"
    " one pixel in five saturates). The outcome is how much the stylization loss (content"
    " + 10 x style) rises from the unshifted items to the shifted ones, the content loss "
    "measured against the shifted item itself (what a user asks of a stylizer given a dim"
    " or overexposed photograph). `contrast_shift` and `brightness_shift`, the mean "
    "absolute change of the stylized image, are shown beside it. The U-Net's first "
    "convolution is unnormalized, a ReLU follows it and its skip connection reaches the "
    "output, so no norm makes the network invariant to either shift.",
)
