"""rnn-images-steps-higher: `rnn-images-steps`' claims at a grid of rates that
reaches above 3e-2, the top of `rnn-images-steps-wide`'s grid, where batch
norm with statistics shared by the steps chose its rate: a study of its own,
declared before its runs, with its own runs."""

from . import rnn_images_steps

# Adam (clipped at norm 1) at each rate, per cell: 1e-2 is where the plain
# LSTM and per-step batch norm peaked in `rnn-images-steps-wide`, so every
# cell can choose its best within this grid.
RATES = (1e-2, 3e-2, 1e-1)

STUDY = rnn_images_steps.STUDY.at_rates(
    "rnn-images-steps-higher",
    "batch norm inside the LSTM cell, statistics per time step, at rates up to 1e-1",
    RATES,
    "rates 1e-2 to 1e-1",
    notes="`rnn-images-steps`' grid (the plain LSTM, and batch norm inside the cell with "
    "moving averages shared by the 28 steps or kept per step; 32 units, 2,048 steps of "
    "batch 64, Adam clipped at gradient norm 1 with a cosine decay, on Fashion-MNIST read "
    "as 28 rows of 28 pixels, in order and permuted) at rates 1e-2, 3e-2 and 1e-1, each "
    "cell read at the rate with the best mean validation accuracy (in "
    "`rnn-images-steps-wide`, at 1e-2 and 3e-2, the plain LSTM and per-step batch norm "
    "chose 1e-2 and shared batch norm 3e-2, its grid's top), 5 seeds. The claims are "
    "`rnn-images-steps`', as it declared them, the two batch norms' runs paired by seed. "
    "A run that diverges at a high rate is counted, and a rate where one does is no "
    "cell's choice.",
    smoke_rates=RATES[:1],
)
