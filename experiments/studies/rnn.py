"""rnn: weight, batch and layer norm in recurrent networks, on the adding problem
and on sequential and permuted sequential Fashion-MNIST, with batch and layer norm
both on the input projection and inside the LSTM cell as their papers place them."""

from .base import Claim, Level, Scale, Study, Variant

WN = "Salimans & Kingma 2016 (RNNs: DRAW)"
BN_LSTM = "Cooijmans et al. 2017, BN-LSTM, (permuted) sequential MNIST"
LN_LSTM = "Ba et al. 2016, layer-normalized LSTM"
CHANCE = 0.1  # ten classes: the floor of test accuracy
MEAN_PREDICTOR = "baseline_mse"  # the adding problem's floor, every run logs it
SOLVED = 0.05  # test MSE under which the adding problem counts as solved (the task's target)
ADDING, SEQUENTIAL, PERMUTED = "adding T=100", "sequential images", "permuted images"
LEVELS = (
    Level(ADDING, {"dataset": "adding", "seq_len": 100, "permuted": False}),
    Level(SEQUENTIAL, {"dataset": "fashion_mnist", "permuted": False}),
    Level(PERMUTED, {"dataset": "fashion_mnist", "permuted": True}),
)
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


def _beats(a, b, level, paper, source, metric="test_accuracy", floor=CHANCE):
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


STUDY = Study(
    name="rnn",
    title="normalization in recurrent networks",
    task="rnn",
    factor="problem",
    variants=VARIANTS,
    scales={
        "smoke": Scale(
            {
                "epochs": 1,
                "batch_size": 32,
                "hidden": 16,
                "train_size": 128,
                "val_size": 64,
                "test_size": 128,
            },
            LEVELS[:1] + LEVELS[2:],
            seeds=1,
            variants=("none", "recurrent_batch"),
        ),
        # 2,048 steps of batch 64 (8 epochs of 16,384 sequences).
        "small": Scale(
            {
                "epochs": 8,
                "batch_size": 64,
                "hidden": 32,
                "train_size": 16384,
                "val_size": 1024,
                "test_size": 2048,
                "lr_schedule": "cosine",
            },
            LEVELS,
            seeds=5,
        ),
        "full": Scale(
            {"epochs": 20, "batch_size": 128, "hidden": 128, "lr_schedule": "cosine"},
            LEVELS,
            seeds=5,
        ),
    },
    claims=(
        _beats(
            "weight",
            "none",
            ADDING,
            "no figure: faster convergence in RNNs, qualitative",
            WN,
            metric="test_mse",
            floor=MEAN_PREDICTOR,
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
        _beats(
            "recurrent_layer",
            "none",
            ADDING,
            "no figure; the mean predictor scores 0.167-0.177 (TCN: 0.1767)",
            LN_LSTM,
            metric="test_mse",
            floor=MEAN_PREDICTOR,
        ),
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
    metrics=("test_mse", "test_accuracy"),
    question="Which norm for my RNN?",
    references={"mean predictor (baseline)": "baseline_mse"},
    notes="`batch` and `layer` act on the LSTM's input projection; `recurrent_batch` "
    "(Cooijmans et al.) and `recurrent_layer` (Ba et al.) inside the cell, on the gates' "
    "input and recurrent terms apart and on the cell state, the batch norm with gains "
    "starting at 0.1 and statistics shared by the time steps (the paper keeps them per "
    "step); weight norm wraps the LSTM's kernels, with and without its data-dependent "
    "initialization, which separates the initialization from the reparameterization. "
    "Images are read as 28 rows of 28 pixels; permuted, each image's pixels are first "
    "shuffled by one fixed permutation. 2,048 steps per run, Adam with a cosine decay "
    "of the learning rate to 0. The adding problem's "
    "always-the-mean baseline is the floor to beat: a claim neither of whose arms beats "
    "it is untestable; it counts as solved under a test MSE of 0.05.",
)
