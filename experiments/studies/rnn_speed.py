"""rnn-speed: how fast weight norm and layer norm inside the cell solve the
adding problem, in steps to a validation MSE of 0.05, with twice `rnn`'s seeds
and a grid of rates that reaches above the one every cell chose there (3e-3,
its grid's top). `rnn` found every network solving it, the normalized ones
sooner, with no claim on speed declared; this study declares one, before its
runs, with its own runs."""

import dataclasses

from .base import Claim, Scale, Study
from .rnn import ADDING, FULL, LEVELS, LN_LSTM, NAMES, NOTES_AT, SMALL, SMOKE, SOLVED, VARIANTS, WN
from .rnn import STUDY as RNN

# Adam (clipped at norm 1) at each rate, per cell: `rnn`'s top is this grid's bottom.
RATES = (3e-3, 1e-2)
# Ten a side: with five, Gehan's test cannot reach 0.05 after Holm's adjustment
# over a family of more than a few claims (its smallest exact p is 2/252).
SEEDS = 10
NOTE = "10 seeds, rates up to 1e-2"


def _sooner(norm, paper, source):
    """The claim that `norm` passes the solved threshold on validation in fewer
    training steps than the plain LSTM, each at its own rate."""
    return Claim(
        f"{NAMES[norm]} reaches a validation MSE of {SOLVED} in fewer steps than no norm "
        f"({ADDING})",
        (norm, ADDING),
        ("none", ADDING),
        "val_mse",
        False,
        paper,
        source,
        outcome="censored",
        target=SOLVED,
    )


# The claims this study adds to `rnn`'s.
SOONER = (
    _sooner("weight", "no figure: faster convergence in RNNs, qualitative", WN),
    _sooner(
        "recurrent_layer",
        "no figure: faster convergence on its recurrent tasks, qualitative",
        LN_LSTM,
    ),
)

STUDY = Study(
    name="rnn-speed",
    title="faster convergence in recurrent networks: steps to solve the adding problem",
    task="rnn",
    factor="problem",
    variants=VARIANTS,
    scales={
        "smoke": Scale(SMOKE, LEVELS, seeds=1, variants=("none", "weight"), lrs=RATES[:1]),
        "small": Scale(SMALL, LEVELS, seeds=SEEDS, lrs=RATES),
        "full": Scale(FULL, LEVELS, seeds=SEEDS, lrs=RATES),
    },
    claims=(*SOONER, *(claim.noted(NOTE) for claim in RNN.claims)),
    metrics=RNN.metrics,
    question="Which norm for my RNN?",
    references=RNN.references,
    tune_metric=RNN.tune_metric,
    tune_higher_is_better=RNN.tune_higher_is_better,
    notes=NOTES_AT.format(rates="3e-3 and 1e-2")
    + f"{SEEDS} seeds (`rnn` ran 5; every cell there chose 3e-3, its grid's top). Steps "
    f"count to the first epoch end (every 256 steps) at which the validation MSE is under "
    f"{SOLVED}, the threshold under which the task counts as solved; a run that never "
    "gets there counts as longer than its 2,048 steps (censored), never dropped. `rnn`'s "
    "claims are put again as it declared them; the adding problem's always-the-mean "
    "baseline is their floor.",
)


def at_rates(name, title, rates, grid, notes):
    """This study again as `name` at the grid of learning rates `rates`
    (`Study.at_rates`), its claims as declared here told apart by `grid`:
    `SOONER` noted with it, `rnn`'s with this study's seeds and it."""
    return dataclasses.replace(
        STUDY.at_rates(name, title, rates, grid, notes=notes, smoke_rates=rates[:1]),
        claims=(
            *(claim.noted(grid) for claim in SOONER),
            *(claim.noted(f"{SEEDS} seeds, {grid}") for claim in RNN.claims),
        ),
    )
