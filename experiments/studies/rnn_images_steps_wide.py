"""rnn-images-steps-wide: `rnn-images-steps`' claims at a grid of rates that
reaches above 1e-2, its grid's top, which every cell chose there: a study of
its own, declared before its runs, with its own runs."""

from . import rnn_images_steps

# Adam (clipped at norm 1) at each rate, per cell: `rnn-images-steps`' top is
# this grid's bottom; its other rate, 3e-3, lost to 1e-2 in every cell there.
RATES = (1e-2, 3e-2)

STUDY = rnn_images_steps.STUDY.at_rates(
    "rnn-images-steps-wide",
    "batch norm inside the LSTM cell, statistics per time step, at rates up to 3e-2",
    RATES,
    "rates 1e-2 and 3e-2",
    notes="`rnn-images-steps`' grid (the plain LSTM, and batch norm inside the cell with "
    "moving averages shared by the 28 steps or kept per step; 32 units, 2,048 steps of "
    "batch 64, Adam clipped at gradient norm 1 with a cosine decay, on Fashion-MNIST read "
    "as 28 rows of 28 pixels, in order and permuted) at rates 1e-2 and 3e-2, each cell "
    "read at the rate with the best mean validation accuracy (in `rnn-images-steps`, at "
    "3e-3 and 1e-2, every cell chose 1e-2), 5 seeds. The claims are `rnn-images-steps`', "
    "as it declared them, the two batch norms' runs paired by seed. A run that diverges "
    "at the higher rate is counted, and a rate where one does is no cell's choice.",
    smoke_rates=RATES[:1],
)
