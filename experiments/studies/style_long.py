"""style-long: `style`'s and `style-shift`'s batch-8 claims again, trained
longer with a cosine decay and read at a learning rate that a wider grid can
bracket. Both studies chose their grid's top rate (1e-3) in every batch-8
cell, with validation curves still falling at the end: a study of its own,
declared before its runs, with its own runs."""

import dataclasses

from . import style, style_shift
from .base import Scale, Study

# Adam at each rate, per cell, its cosine decay to 0: 1e-3 was the old grid's
# top, so the grid reaches an order of magnitude above it.
RATES = (1e-3, 3e-3, 1e-2)
COSINE = {"lr_schedule": "cosine"}
# 4 epochs of 2,048 images at batch 8: 1,024 steps, twice `style`'s.
SMALL = {**style.SMALL, "epochs": 4, **COSINE}
FULL = {**style.FULL, **COSINE}
SMOKE = dataclasses.replace(style.SMOKE, settings={**style.SMOKE.settings, **COSINE})

# Every batch-8 claim of the two studies, as they declared them, told apart
# from theirs by the protocol on a page that holds them all.
CLAIMS = tuple(
    claim.noted("cosine decay, rates up to 1e-2")
    for claim in (*style.STUDY.claims, *style_shift.STUDY.claims)
    if claim.a[1] == style.BATCH_8.label
)

STUDY = Study(
    name="style-long",
    title="instance norm for style transfer, trained longer at a bracketed rate",
    task="style",
    factor="batch size",
    variants=style.VARIANTS,
    scales={
        "smoke": SMOKE,
        "small": Scale(SMALL, (style.BATCH_8,), seeds=5, lrs=RATES),
        "full": Scale(FULL, (style.BATCH_8,), seeds=5, lrs=RATES),
    },
    claims=CLAIMS,
    metrics=(
        "test_loss",
        "test_style_loss",
        "test_content_loss",
        "contrast_shift",
        "degradation_low_contrast",
        "degradation_bright",
    ),
    question="Which norm for style transfer?",
    tune_metric="val_loss",
    tune_higher_is_better=False,
    notes="`style`'s batch-8 cells (the same U-Net, losses, data and texture; none, batch "
    "and instance norm) trained for 4 epochs of 2,048 items, 1,024 steps where `style` "
    "and `style-shift` trained 512, with Adam's rate decayed to 0 along a cosine, at "
    "each of 1e-3, 3e-3 and 1e-2 (both studies chose their grid's top rate, 1e-3, in "
    "every batch-8 cell), 5 seeds, each cell read at the rate with the lowest mean "
    "validation loss. Scored as both studies score: in inference mode on 512 test items "
    "as they are, at a third of their contrast and brightened by 0.3 (clipped); the "
    "claims are both studies' batch-8 claims, worded as they declared them.",
)
