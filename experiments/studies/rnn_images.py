"""rnn-images: batch norm inside the LSTM cell (Cooijmans et al.), layer norm
inside it (Ba et al.) and weight norm on Fashion-MNIST read as sequences of
rows, in pixel order and permuted, each network at its own learning rate."""

from .base import Level, Scale, Study
from .rnn import (
    BN_LSTM,
    FULL,
    LN_LSTM,
    NO_INIT,
    NOTES,
    RATES,
    SMALL,
    SMOKE,
    VARIANTS,
    WN,
    beats,
)

CHANCE = 0.1  # ten classes: the floor of test accuracy
SEQUENTIAL, PERMUTED = "sequential images", "permuted images"
LEVELS = (
    Level(
        SEQUENTIAL,
        {"dataset": "fashion_mnist", "permuted": False},
        variants=("none", "recurrent_batch", "weight"),
    ),
    Level(
        PERMUTED,
        {"dataset": "fashion_mnist", "permuted": True},
        variants=("none", "batch", "recurrent_batch", "recurrent_layer", NO_INIT),
    ),
)


def _beats(a, b, level, paper, source):
    return beats(a, b, level, paper, source, "test_accuracy", CHANCE)


STUDY = Study(
    name="rnn-images",
    title="normalization in recurrent networks: images as sequences",
    task="rnn",
    factor="problem",
    variants=VARIANTS,
    scales={
        "smoke": Scale(
            SMOKE, LEVELS[1:], seeds=1, variants=("none", "recurrent_batch"), lrs=RATES[:1]
        ),
        "small": Scale(SMALL, LEVELS, seeds=5, lrs=RATES),
        "full": Scale(FULL, LEVELS, seeds=5, lrs=RATES),
    },
    claims=(
        _beats(
            "recurrent_batch",
            "none",
            SEQUENTIAL,
            "BN-LSTM 99.0% vs LSTM 98.9% on sequential MNIST",
            BN_LSTM,
        ),
        _beats(
            "recurrent_batch",
            "none",
            PERMUTED,
            "BN-LSTM 95.4% vs LSTM 90.2% on permuted sequential MNIST",
            BN_LSTM,
        ),
        _beats(
            "recurrent_layer",
            "none",
            PERMUTED,
            "no figure on permuted images: faster convergence, qualitative",
            LN_LSTM,
        ),
        _beats(
            "recurrent_batch",
            "batch",
            PERMUTED,
            "no figure: the paper normalizes inside the cell, not the input alone",
            BN_LSTM,
        ),
        _beats(
            "weight", "none", SEQUENTIAL, "no figure: faster convergence in RNNs, qualitative", WN
        ),
        _beats(
            NO_INIT,
            "none",
            PERMUTED,
            "no figure: the reparameterization alone, without the data-dependent init",
            WN,
        ),
    ),
    metrics=("test_accuracy",),
    question="Which norm for my RNN?",
    tune_metric="val_accuracy",
    notes=NOTES + "Weight norm runs with and without its data-dependent initialization, "
    "which separates the initialization from the reparameterization. Images are read as "
    "28 rows of 28 pixels; permuted, each image's pixels are first shuffled by one fixed "
    "permutation.",
)
