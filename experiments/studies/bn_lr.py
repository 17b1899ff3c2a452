"""bn-lr: batch norm trains at 5x and 30x the plain network's learning rate
(Ioffe & Szegedy 2015, the Inception table), with SGD and momentum."""

from experiments.studies.base import Claim, Level, Scale, Study, Variant

SOURCE = "Ioffe & Szegedy 2015, ImageNet Inception table"
BASE_LR = 0.01  # where the plain network trains with SGD, momentum 0.9
CHANCE = 0.1  # ten classes: the floor of test accuracy
TARGET = 0.75  # the validation accuracy whose first crossing is counted in steps (the task's)


def _levels(*multiples):
    return tuple(Level(f"{m}x", {"lr": BASE_LR * m}) for m in multiples)


STUDY = Study(
    name="bn-lr",
    title="batch norm at higher learning rates",
    task="cnn",
    factor="learning rate (multiple of the plain network's)",
    variants=(
        Variant("none", {"norm": "none"}),
        Variant("batch", {"norm": "batch"}),
        Variant("weight_meanbn", {"norm": "weight_meanbn"}),
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
        "small": Scale(
            {
                "optimizer": "sgd",
                "depth": 1,
                "epochs": 4,
                "batch_size": 64,
                "train_size": 12288,
                "val_size": 2048,
                "test_size": 4096,
            },
            _levels(1, 5, 30),
            seeds=5,
        ),
        "full": Scale(
            {"optimizer": "sgd", "depth": 3, "epochs": 10, "batch_size": 128},
            _levels(1, 5, 30),
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
            equivalence_margin=0.005,
        ),  # the paper's gain: 0.5 points
        Claim(
            "batch norm at 5x beats the plain network at 1x",
            ("batch", "5x"),
            ("none", "1x"),
            "test_accuracy",
            True,
            "BN-x5 73.0% vs 72.2% top-1; 72.2% in 2.1M steps vs 31.0M",
            SOURCE,
            floor=CHANCE,
        ),
        Claim(
            "batch norm at 30x beats the plain network at 1x",
            ("batch", "30x"),
            ("none", "1x"),
            "test_accuracy",
            True,
            "BN-x30 74.8% vs 72.2% top-1; 72.2% in 2.7M steps vs 31.0M",
            SOURCE,
            floor=CHANCE,
        ),
        Claim(
            "weight norm + mean-only BN at 5x beats the plain network at 1x",
            ("weight_meanbn", "5x"),
            ("none", "1x"),
            "test_accuracy",
            True,
            "CIFAR-10 test error 7.31% vs 8.43% (at equal learning rates)",
            "Salimans & Kingma 2016, CIFAR-10 table",
            floor=CHANCE,
        ),
        Claim(
            "batch norm at 5x reaches the target in fewer steps than the plain network at 1x",
            ("batch", "5x"),
            ("none", "1x"),
            "val_accuracy",
            True,
            "72.2% top-1 in 2.1M steps (BN-x5) vs 31.0M (Inception)",
            SOURCE,
            outcome="censored",
            target=TARGET,
        ),
        Claim(
            "batch norm at 30x reaches the target in fewer steps than the plain network at 1x",
            ("batch", "30x"),
            ("none", "1x"),
            "val_accuracy",
            True,
            "72.2% top-1 in 2.7M steps (BN-x30) vs 31.0M (Inception)",
            SOURCE,
            outcome="censored",
            target=TARGET,
        ),
        Claim(
            "batch norm at 30x diverges less often than the plain network at 30x",
            ("batch", "30x"),
            ("none", "30x"),
            "diverged",
            False,
            "the plain network at 5x and 30x is not in the table: it does not train",
            SOURCE,
            outcome="binary",
        ),
    ),
    metrics=("test_accuracy",),
    notes="The paper's plain network at 5x and 30x is not reported: it does not train. "
    "Steps count to the first epoch end at which the validation accuracy reaches "
    "the target; a run that never reaches it (or diverges) counts as longer than its "
    "budget. The floor is chance, 10% accuracy; the 1x claim's smallest effect of "
    "interest is the paper's gain, 0.5 points.",
)
