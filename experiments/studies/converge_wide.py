"""converge-wide: `converge`'s claims at a grid of rates that reaches above the
one every cell chose there (0.1, its grid's top), the budget unchanged, so
that only the rate grid differs: a study of its own, declared before its
runs, with its own runs."""

from . import converge

# SGD with momentum 0.9 and a cosine decay, per cell, chosen on validation
# accuracy as in `converge`: its top, 0.1, is this grid's bottom.
RATES = (0.1, 0.3, 1.0)

STUDY = converge.STUDY.at_rates(
    "converge-wide",
    "faster convergence with batch and weight norm, at a bracketed rate",
    RATES,
    "rates up to 1",
    notes="`converge`'s grid (none, batch, weight and weight + mean-only batch norm in the "
    "batch norm paper's MNIST network, 3 hidden layers of 100 sigmoid units at batch 60 "
    "for 5,000 steps, and in the one-block residual CNN at batch 64 for 940 steps; "
    "12,000 training images, 2,048 validation, 4,096 test) at SGD rates 0.1, 0.3 and 1 "
    "(momentum 0.9, a cosine decay to 0), each cell read at the rate with the best mean "
    "validation accuracy (in `converge` every cell chose 0.1, its grid's top), 5 seeds. "
    "The claims are `converge`'s, as it declared them: steps count to the first epoch "
    "end at which the validation accuracy reaches the plain network's mean final one, a "
    "run that never does counted as longer than its budget. A run that diverges at a "
    "high rate is counted, and a rate where one does is no cell's choice.",
    smoke_rates=RATES[:1],
)
