"""rnn: weight, batch and layer norm in recurrent networks, on the adding problem
and sequential Fashion-MNIST, against the always-the-mean baseline."""

from experiments.studies.base import Claim, Level, Scale, Study, Variant

WN = "Salimans & Kingma 2016 (RNNs: DRAW)"
BN_LSTM = "Cooijmans et al. 2017, BN-LSTM, sequential MNIST"
CHANCE = 0.1  # ten classes: the floor of test accuracy
MEAN_PREDICTOR = "baseline_mse"  # the adding problem's floor, every run logs it
SOLVED = 0.05  # test MSE under which the adding problem counts as solved (the task's target)
LEVELS = (
    Level("adding T=100", {"dataset": "adding", "seq_len": 100}),
    Level("adding T=200", {"dataset": "adding", "seq_len": 200}),
    Level("sequential fashion_mnist", {"dataset": "fashion_mnist"}),
)

STUDY = Study(
    name="rnn",
    title="normalization in recurrent networks",
    task="rnn",
    factor="problem",
    variants=tuple(Variant(norm, {"norm": norm}) for norm in ("none", "batch", "layer", "weight")),
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
            variants=("none", "weight"),
        ),
        "small": Scale(
            {
                "epochs": 3,
                "batch_size": 64,
                "hidden": 32,
                "train_size": 2048,
                "val_size": 512,
                "test_size": 1024,
            },
            LEVELS,
            seeds=5,
        ),
        "full": Scale({"epochs": 10, "batch_size": 128, "hidden": 128}, LEVELS, seeds=5),
    },
    claims=(
        Claim(
            "weight norm beats no norm on the adding problem, T=100",
            ("weight", "adding T=100"),
            ("none", "adding T=100"),
            "test_mse",
            False,
            "no figure: faster convergence in RNNs, qualitative",
            WN,
            floor=MEAN_PREDICTOR,
        ),
        Claim(
            "weight norm solves the adding problem, T=100, more often than no norm",
            ("weight", "adding T=100"),
            ("none", "adding T=100"),
            "test_mse",
            False,
            "no figure: faster convergence in RNNs, qualitative",
            WN,
            outcome="binary",
            target=SOLVED,
        ),
        Claim(
            "weight norm beats no norm on the adding problem, T=200",
            ("weight", "adding T=200"),
            ("none", "adding T=200"),
            "test_mse",
            False,
            "no figure: faster convergence in RNNs, qualitative",
            WN,
            floor=MEAN_PREDICTOR,
        ),
        Claim(
            "layer norm beats no norm on the adding problem, T=200",
            ("layer", "adding T=200"),
            ("none", "adding T=200"),
            "test_mse",
            False,
            "no figure; the mean predictor scores 0.167-0.177 (TCN: 0.1767)",
            "Bai et al. 2018 (TCN), the adding problem's baseline",
            floor=MEAN_PREDICTOR,
        ),
        Claim(
            "batch norm beats no norm on sequential images",
            ("batch", "sequential fashion_mnist"),
            ("none", "sequential fashion_mnist"),
            "test_accuracy",
            True,
            "BN-LSTM 99.0% on sequential MNIST",
            BN_LSTM,
            floor=CHANCE,
        ),
        Claim(
            "weight norm beats no norm on sequential images",
            ("weight", "sequential fashion_mnist"),
            ("none", "sequential fashion_mnist"),
            "test_accuracy",
            True,
            "no figure: faster convergence in RNNs, qualitative",
            WN,
            floor=CHANCE,
        ),
    ),
    metrics=("test_mse", "test_accuracy"),
    references={"mean predictor (baseline)": "baseline_mse"},
    notes="Batch and layer norm act on the LSTM's input projection; weight norm wraps its "
    "kernels. The adding problem's always-the-mean baseline is the floor to beat: a "
    "claim neither of whose arms beats it is untestable. The adding problem counts as "
    "solved under a test MSE of 0.05.",
)
