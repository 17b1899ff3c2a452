"""rnn-speed-wide: `rnn-speed`'s claims at a grid of rates that reaches above
1e-2, its grid's top, where the plain LSTM and layer norm inside the cell
chose their rate and the plain LSTM ended lowest: a study of its own,
declared before its runs, with its own runs."""

from . import rnn, rnn_speed

# Adam (clipped at norm 1) at each rate, per cell: `rnn-speed`'s top is this
# grid's bottom; its other rate, 3e-3, lost to 1e-2 for the plain LSTM and
# layer norm there (weight norm chose 3e-3, below this grid).
RATES = (1e-2, 3e-2)
GRID = "rates 1e-2 and 3e-2"

STUDY = rnn_speed.at_rates(
    "rnn-speed-wide",
    "faster convergence in recurrent networks, at rates up to 3e-2",
    RATES,
    GRID,
    notes=rnn.NOTES_AT.format(rates="1e-2 and 3e-2")
    + f"{rnn_speed.SEEDS} seeds, as in `rnn-speed`, whose grid (3e-3 and 1e-2) had the "
    "plain LSTM and layer norm inside the cell at its top. Steps count as there: to the "
    f"first epoch end (every 256 steps) with a validation MSE under {rnn.SOLVED}, a run "
    "that never gets there counted as longer than its 2,048 steps (censored). The claims "
    "are `rnn-speed`'s, as it declared them; a run that diverges at the higher rate is "
    "counted, and a rate where one does is no cell's choice.",
)
