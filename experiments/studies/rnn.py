"""rnn: weight norm and layer norm in recurrent networks on the adding problem
(a sum to carry over 100 steps), each network at its own learning rate. The
image-sequence claims are `rnn_images`; this module holds what both share."""

from .base import Claim, Level, Scale, Study, Variant

WN = "Salimans & Kingma 2016 (RNNs: DRAW)"
BN_LSTM = "Cooijmans et al. 2017, BN-LSTM, (permuted) sequential MNIST"
LN_LSTM = "Ba et al. 2016, layer-normalized LSTM"
MEAN_PREDICTOR = "baseline_mse"  # the adding problem's floor, every run logs it
SOLVED = 0.05  # test MSE under which the adding problem counts as solved (the task's target)
ADDING = "adding T=100"
NO_INIT = "weight (no data init)"
VARIANTS = (
    *(
        Variant(norm, {"norm": norm, "data_init": True})
        for norm in ("none", "batch", "layer", "recurrent_batch", "recurrent_layer", "weight")
    ),
    Variant(NO_INIT, {"norm": "weight", "data_init": False}),
)
NAMES = {
    "none": "no norm",
    "batch": "batch norm on the input projection",
    "recurrent_batch": "batch norm inside the cell",
    "recurrent_layer": "layer norm inside the cell",
    "weight": "weight norm",
    NO_INIT: "weight norm without its data-dependent init",
}
# Adam (clipped at norm 1) at each of these rates, per cell: on either side of
# the task's default, 2e-3.
RATES = (1e-3, 3e-3)
# 2,048 steps of batch 64 (8 epochs of 16,384 sequences), the rate decayed to 0.
SMALL = {
    "epochs": 8,
    "batch_size": 64,
    "hidden": 32,
    "train_size": 16384,
    "val_size": 1024,
    "test_size": 2048,
    "lr_schedule": "cosine",
}
FULL = {"epochs": 20, "batch_size": 128, "hidden": 128, "lr_schedule": "cosine"}
SMOKE = {
    "epochs": 1,
    "batch_size": 32,
    "hidden": 16,
    "train_size": 128,
    "val_size": 64,
    "test_size": 128,
}
# A study on the task fills in its own grid of rates.
NOTES_AT = (
    "`batch` and `layer` act on the LSTM's input projection; `recurrent_batch` "
    "(Cooijmans et al.) and `recurrent_layer` (Ba et al.) inside the cell, on the gates' "
    "input and recurrent terms apart and on the cell state, the batch norm with gains "
    "starting at 0.1 and statistics shared by the time steps (the paper keeps them per "
    "step); weight norm wraps the LSTM's kernels. 2,048 steps per run (batch 64), Adam "
    "clipped at gradient norm 1 with a cosine decay of the learning rate to 0, each "
    "network read at its rate of {rates} with the best mean validation score. "
    "Each level runs only the networks its claims compare. "
)
NOTES = NOTES_AT.format(rates="1e-3 and 3e-3")


def beats(a, b, level, paper, source, metric, floor):
    """The claim "`a` beats `b` on `level`", scored on `metric` (an MSE is lower-better)."""
    return Claim(
        f"{NAMES[a]} beats {NAMES[b]} on {level}",
        (a, level),
        (b, level),
        metric,
        metric != "test_mse",
        paper,
        source,
        floor=floor,
    )


LEVELS = (
    Level(
        ADDING,
        {"dataset": "adding", "seq_len": 100, "permuted": False},
        variants=("none", "recurrent_layer", "weight"),
    ),
)

STUDY = Study(
    name="rnn",
    title="normalization in recurrent networks: the adding problem",
    task="rnn",
    factor="problem",
    variants=VARIANTS,
    scales={
        "smoke": Scale(SMOKE, LEVELS, seeds=1, variants=("none", "weight"), lrs=RATES[:1]),
        "small": Scale(SMALL, LEVELS, seeds=5, lrs=RATES),
        "full": Scale(FULL, LEVELS, seeds=5, lrs=RATES),
    },
    claims=(
        beats(
            "weight",
            "none",
            ADDING,
            "no figure: faster convergence in RNNs, qualitative",
            WN,
            "test_mse",
            MEAN_PREDICTOR,
        ),
        Claim(
            f"weight norm solves {ADDING} more often than no norm",
            ("weight", ADDING),
            ("none", ADDING),
            "test_mse",
            False,
            "no figure: faster convergence in RNNs, qualitative",
            WN,
            outcome="binary",
            target=SOLVED,
        ),
        beats(
            "recurrent_layer",
            "none",
            ADDING,
            "no figure; the mean predictor scores 0.167-0.177 (TCN: 0.1767)",
            LN_LSTM,
            "test_mse",
            MEAN_PREDICTOR,
        ),
    ),
    metrics=("test_mse",),
    question="Which norm for my RNN?",
    references={"mean predictor (baseline)": "baseline_mse"},
    tune_metric="val_mse",
    tune_higher_is_better=False,
    notes=NOTES + "The adding problem's always-the-mean baseline is the floor to beat: a "
    "claim neither of whose arms beats it is untestable; it counts as solved under a "
    "test MSE of 0.05.",
)
