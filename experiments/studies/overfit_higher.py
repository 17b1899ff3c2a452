"""overfit-higher: `overfit`'s claims at a grid of rates that reaches above
3e-2, the top of `overfit-wide`'s grid, where batch norm without dropout
chose its rate, the budget unchanged: a study of its own, declared before
its runs, with its own runs."""

from . import overfit

# Adam with a cosine decay, per cell, chosen on validation accuracy as in
# `overfit`; 1e-2 is where the plain network peaked in `overfit-wide`.
RATES = (1e-2, 3e-2, 1e-1)

STUDY = overfit.STUDY.at_rates(
    "overfit-higher",
    "overfitting: batch norm and weight norm against dropout, at rates up to 1e-1",
    RATES,
    "rates 1e-2 to 1e-1",
    notes="`overfit`'s grid (none, batch and weight norm, each with and without dropout "
    "0.5 before the classifier; the two-block residual CNN on 1,024 Fashion-MNIST "
    "training images for 640 steps, 40 epochs of batch 64, 512 validation and 4,096 test "
    "images) at Adam's rates 1e-2, 3e-2 and 1e-1 with a cosine decay, each cell read at "
    "the rate with the best mean validation accuracy (in `overfit-wide`, at 3e-3, 1e-2 "
    "and 3e-2, batch norm without dropout chose 3e-2, its grid's top), 5 seeds. The claims "
    "are `overfit`'s, as it declared them; the generalization gap is the training set's "
    "accuracy in inference mode minus the test accuracy. A run that diverges at a high "
    "rate is counted, and a rate where one does is no cell's choice.",
    smoke_rates=RATES[:1],
)
