"""rnn-images-steps: batch norm inside the LSTM cell with its moving averages
per time step, as Cooijmans et al. keep them, against the shared ones that
`rnn-images` used and against the plain LSTM, on sequential and permuted
images. `rnn-images` found the shared version behind the plain LSTM, where the
paper has BN-LSTM ahead, and named the shared statistics as one possible
reason: this study tests it, declared before its runs, with its own runs."""

import dataclasses

from .base import Claim, Scale, Study, Variant
from .rnn import BN_LSTM, FULL, SMALL, SMOKE
from .rnn_images import CHANCE, PERMUTED, SEQUENTIAL
from .rnn_images import LEVELS as IMAGE_LEVELS

STEPS = "recurrent_batch (per-step statistics)"
# Runs are read by their params: the shared variant names step_statistics
# False, so that the per-step runs are not read as its too.
VARIANTS = (
    Variant("none", {"norm": "none"}),
    Variant("recurrent_batch", {"norm": "recurrent_batch", "step_statistics": False}),
    Variant(STEPS, {"norm": "recurrent_batch", "step_statistics": True}),
)
LEVELS = tuple(
    dataclasses.replace(level, variants=tuple(v.label for v in VARIANTS)) for level in IMAGE_LEVELS
)
# Adam (clipped at norm 1) at each rate, per cell: every cell of `rnn-images`
# chose 3e-3, its grid's top, so this grid reaches above it.
RATES = (3e-3, 1e-2)
SHARED = "no figure: the paper keeps its statistics per step and shows that the first steps' differ"


def _beats_plain(level, paper):
    return Claim(
        f"batch norm inside the cell with per-step statistics beats no norm on {level}",
        (STEPS, level),
        ("none", level),
        "test_accuracy",
        True,
        paper,
        BN_LSTM,
        floor=CHANCE,
    )


def _beats_shared(level):
    # The two batch norms train alike (in training each step is normalized by
    # the batch's moments either way) and differ only in the statistics kept
    # for inference: at one seed they start from the same weights and see the
    # same batches, so the claim pairs their runs by seed.
    return Claim(
        f"per-step statistics beat shared ones for batch norm inside the cell on {level}",
        (STEPS, level),
        ("recurrent_batch", level),
        "test_accuracy",
        True,
        SHARED,
        BN_LSTM,
        floor=CHANCE,
        paired=True,
    )


STUDY = Study(
    name="rnn-images-steps",
    title="batch norm inside the LSTM cell: statistics per time step",
    task="rnn",
    factor="problem",
    variants=VARIANTS,
    scales={
        "smoke": Scale(
            SMOKE, LEVELS[1:], seeds=1, variants=("recurrent_batch", STEPS), lrs=RATES[:1]
        ),
        "small": Scale(SMALL, LEVELS, seeds=5, lrs=RATES),
        "full": Scale(FULL, LEVELS, seeds=5, lrs=RATES),
    },
    claims=(
        _beats_plain(SEQUENTIAL, "BN-LSTM 99.0% vs LSTM 98.9% on sequential MNIST"),
        _beats_plain(PERMUTED, "BN-LSTM 95.4% vs LSTM 90.2% on permuted sequential MNIST"),
        _beats_shared(SEQUENTIAL),
        _beats_shared(PERMUTED),
    ),
    metrics=("test_accuracy",),
    question="Which norm for my RNN?",
    tune_metric="val_accuracy",
    notes="`rnn-images`' LSTM (32 units, 2,048 steps of batch 64, Adam clipped at gradient "
    "norm 1 with a cosine decay) on Fashion-MNIST read as 28 rows of 28 pixels, in order "
    "and with each image's pixels shuffled by one fixed permutation: the plain LSTM, and "
    "batch norm inside the cell (on the gates' input and recurrent terms apart and on the "
    "cell state, gains starting at 0.1) with one set of moving averages shared by the 28 "
    "steps, as in `rnn-images`, or with one per step (`--step-statistics`), as in the "
    "paper. Each cell is read at its rate of 3e-3 and 1e-2 with the best mean validation "
    "accuracy (every cell of `rnn-images` chose 3e-3, its grid's top), 5 seeds. The two "
    "batch norms differ only in the statistics kept for inference: the claims between "
    "them pair the runs by seed.",
)
