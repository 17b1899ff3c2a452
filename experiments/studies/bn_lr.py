"""bn-lr: batch norm trains at rates that the plain network cannot, and beats
it at each one's best rate (Ioffe & Szegedy 2015, the Inception table), with
SGD and momentum; the paper's sigmoid network without shortcuts beside the
residual one."""

from .base import BEST, Claim, Level, Scale, Study, Variant

SOURCE = "Ioffe & Szegedy 2015, ImageNet Inception table"
WN_SOURCE = "Salimans & Kingma 2016, CIFAR-10 table"
BASE_LR = 0.01  # 1x: where the plain residual network trains with SGD, momentum 0.9
CHANCE = 0.1  # ten classes: the floor of test accuracy
RESIDUAL = {"activation": "relu", "shortcuts": True}
# The paper's sigmoid Inception has no shortcuts; three blocks of plain
# convolutions (7 sigmoid layers) make a network where that matters.
SIGMOID = {"activation": "sigmoid", "shortcuts": False, "depth": 3}
PLAIN_SIGMOID, BATCH_SIGMOID = "none (sigmoid, no shortcuts)", "batch (sigmoid, no shortcuts)"


def _levels(*multiples):
    return tuple(Level(f"{m}x", {"lr": BASE_LR * m}) for m in multiples)


def _best_beats_plain(norm, text, paper, source=SOURCE, plain="none"):
    return Claim(
        f"{text} at its best rate beats the plain network at its best rate",
        (norm, BEST),
        (plain, BEST),
        "test_accuracy",
        True,
        paper,
        source,
        floor=CHANCE,
    )


def _fewer_steps(multiple, paper):
    return Claim(
        f"batch norm at {multiple} reaches the plain network's best validation accuracy in "
        "fewer steps than the plain network at its best rate",
        ("batch", multiple),
        ("none", BEST),
        "val_accuracy",
        True,
        paper,
        SOURCE,
        outcome="censored",
        target=("none", BEST),
    )


def _diverges_less(multiple):
    return Claim(
        f"batch norm at {multiple} diverges less often than the plain network at {multiple}",
        ("batch", multiple),
        ("none", multiple),
        "diverged",
        False,
        "the plain network at 5x and 30x is not in the table: it does not train",
        SOURCE,
        outcome="binary",
    )


STUDY = Study(
    name="bn-lr",
    title="batch norm at higher learning rates",
    task="cnn",
    factor="learning rate (multiple of 0.01)",
    variants=(
        Variant("none", {"norm": "none", **RESIDUAL}),
        Variant("batch", {"norm": "batch", **RESIDUAL}),
        Variant("weight_meanbn", {"norm": "weight_meanbn", **RESIDUAL}),
        Variant(PLAIN_SIGMOID, {"norm": "none", **SIGMOID}),
        Variant(BATCH_SIGMOID, {"norm": "batch", **SIGMOID}),
    ),
    scales={
        "smoke": Scale(
            {
                "optimizer": "sgd",
                "depth": 1,
                "epochs": 1,
                "batch_size": 32,
                "train_size": 256,
                "val_size": 128,
                "test_size": 128,
            },
            _levels(1, 5),
            seeds=1,
            variants=("none", "batch"),
        ),
        # 960 steps of batch 64, the rate decayed to 0 by the last.
        "small": Scale(
            {
                "optimizer": "sgd",
                "depth": 1,
                "epochs": 5,
                "batch_size": 64,
                "train_size": 12288,
                "val_size": 2048,
                "test_size": 4096,
                "lr_schedule": "cosine",
            },
            _levels(1, 5, 30, 100),
            seeds=5,
        ),
        "full": Scale(
            {
                "optimizer": "sgd",
                "depth": 3,
                "epochs": 20,
                "batch_size": 128,
                "lr_schedule": "cosine",
            },
            _levels(0.3, 1, 5, 30, 100),
            seeds=5,
        ),
    },
    claims=(
        Claim(
            "batch norm at 1x beats the plain network at 1x",
            ("batch", "1x"),
            ("none", "1x"),
            "test_accuracy",
            True,
            "BN-Baseline 72.7% vs Inception 72.2% top-1",
            SOURCE,
            floor=CHANCE,
            equivalence_margin=0.005,  # the paper's gain: 0.5 points
        ),
        _best_beats_plain(
            "batch", "batch norm", "BN-x30 74.8% (its best) vs Inception 72.2% top-1"
        ),
        Claim(
            "batch norm at 30x beats the plain network at its best rate",
            ("batch", "30x"),
            ("none", BEST),
            "test_accuracy",
            True,
            "BN-x30 74.8% vs Inception 72.2% top-1",
            SOURCE,
            floor=CHANCE,
        ),
        _best_beats_plain(
            "weight_meanbn",
            "weight norm + mean-only BN",
            "CIFAR-10 test error 7.31% vs 8.43% (at equal learning rates)",
            WN_SOURCE,
        ),
        _fewer_steps("5x", "72.2% top-1 in 2.1M steps (BN-x5) vs 31.0M (Inception)"),
        _fewer_steps("30x", "72.2% top-1 in 2.7M steps (BN-x30) vs 31.0M (Inception)"),
        _diverges_less("30x"),
        _diverges_less("100x"),
        _best_beats_plain(
            BATCH_SIGMOID,
            "batch norm in the sigmoid network without shortcuts",
            "BN-x5-Sigmoid 69.8% top-1; Inception with sigmoid never above 0.1%",
            plain=PLAIN_SIGMOID,
        ),
    ),
    metrics=("test_accuracy",),
    question="Which norm for my CNN?",
    tune_metric="val_accuracy",
    notes="Every norm is swept over the same rates, from 1x to where the plain network "
    "diverges, with SGD (momentum 0.9) and a cosine decay to 0. A norm's best rate is "
    "chosen on validation: the best mean final validation accuracy among the rates where "
    "none of its runs diverged, and its test accuracy there is what the claims compare "
    "(the plain network at its own best rate, not at an arbitrary one). Divergence is "
    "an outcome, tested as a rate, never dropped. Steps count to the first epoch end at "
    "which the validation accuracy reaches the plain network's mean final validation "
    "accuracy at its best rate (the paper's 72.2%); a run that never reaches it (or "
    "diverges) counts as longer than its budget. The sigmoid variants stack three blocks "
    "of plain convolutions with sigmoids (7 layers), the paper's sigmoid network having "
    "no shortcuts. The floor is chance, 10% accuracy; the 1x claim's smallest effect of "
    "interest is the paper's gain, 0.5 points.",
)
