"""overfit-wide: `overfit`'s claims at a grid of rates that reaches above the
one every cell chose there (3e-3, its grid's top), the budget unchanged, so
that only the rate grid differs: a study of its own, declared before its
runs, with its own runs. At `overfit`'s rates the plain network had not
fitted its training set, which its gap claim presumed."""

from . import overfit

# Adam with a cosine decay, per cell, chosen on validation accuracy as in
# `overfit`: its top, 3e-3, is this grid's bottom.
RATES = (3e-3, 1e-2, 3e-2)

STUDY = overfit.STUDY.at_rates(
    "overfit-wide",
    "overfitting: batch norm and weight norm against dropout, at a bracketed rate",
    RATES,
    "rates up to 3e-2",
    notes="`overfit`'s grid (none, batch and weight norm, each with and without dropout "
    "0.5 before the classifier; the two-block residual CNN on 1,024 Fashion-MNIST "
    "training images for 640 steps, 40 epochs of batch 64, 512 validation and 4,096 test "
    "images) at Adam's rates 3e-3, 1e-2 and 3e-2 with a cosine decay, each cell read at "
    "the rate with the best mean validation accuracy (in `overfit` every cell chose "
    "3e-3, its grid's top), 5 seeds. The claims are `overfit`'s, as it declared them; "
    "the generalization gap is the training set's accuracy in inference mode minus the "
    "test accuracy. A run that diverges at a high rate is counted, and a rate where one "
    "does is no cell's choice.",
    smoke_rates=RATES[:1],
)
