"""rnn-speed-higher: `rnn-speed`'s claims at a grid of rates that reaches above
3e-2, `rnn-speed-wide`'s top, where the plain LSTM and layer norm inside the
cell chose their rate again: a study of its own, declared before its runs,
with its own runs."""

from . import rnn, rnn_speed

# Adam (clipped at norm 1) at each rate, per cell: `rnn-speed-wide`'s top is
# this grid's bottom; its other rate, 1e-2, lost to 3e-2 for the plain LSTM
# and layer norm there (weight norm's best, 3e-3 in `rnn-speed`, lies below
# this grid).
RATES = (3e-2, 1e-1)
GRID = "rates 3e-2 and 1e-1"

STUDY = rnn_speed.at_rates(
    "rnn-speed-higher",
    "faster convergence in recurrent networks, at rates up to 1e-1",
    RATES,
    GRID,
    notes=rnn.NOTES_AT.format(rates="3e-2 and 1e-1")
    + f"{rnn_speed.SEEDS} seeds, as in `rnn-speed`; `rnn-speed-wide`'s grid (1e-2 and "
    "3e-2) had the plain LSTM and layer norm inside the cell at its top again. Steps "
    f"count as there: to the first epoch end (every 256 steps) with a validation MSE under "
    f"{rnn.SOLVED}, a run that never gets there counted as longer than its 2,048 steps "
    "(censored). The claims are `rnn-speed`'s, as it declared them; weight norm is read "
    "at this grid's rates, above its best (3e-3 in `rnn-speed`), so its claims here test "
    "it off its rate. A run that diverges at the higher rate is counted, and a rate where "
    "one does is no cell's choice.",
)
