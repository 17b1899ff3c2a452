"""converge: batch norm and weight norm speed up training (Ioffe & Szegedy 2015,
figure 1a; Salimans & Kingma 2016, the CIFAR-10 training curves): steps until
the validation accuracy first reaches the plain network's final one, each
network at its own learning rate, in the batch norm paper's fully connected
sigmoid network and in the suite's residual CNN."""

from .base import Claim, Level, Scale, Study, Variant

BN = "Ioffe & Szegedy 2015, MNIST network (figure 1a)"
BN_IMAGENET = "Ioffe & Szegedy 2015, ImageNet Inception table"
WN = "Salimans & Kingma 2016, CIFAR-10 training curves"
CHANCE = 0.1  # ten classes: the floor of test accuracy
MLP, CNN = "mlp 3x100 sigmoid", "cnn residual relu"
NORMS = ("none", "batch", "weight", "weight_meanbn")
NAMES = {
    "batch": "batch norm",
    "weight": "weight norm",
    "weight_meanbn": "weight norm + mean-only batch norm",
}
# SGD with momentum 0.9 at each of these rates, per cell.
RATES = (0.01, 0.03, 0.1)


def _levels(mlp_epochs, cnn_epochs, train_size):
    """The paper's network at batch 60, the CNN at batch 64, over `train_size`
    training images."""
    return (
        Level(
            MLP,
            {
                "architecture": "mlp",
                "depth": 3,
                "activation": "sigmoid",
                "batch_size": 60,
                "epochs": mlp_epochs,
                "train_size": train_size,
            },
        ),
        Level(
            CNN,
            {
                "architecture": "resnet",
                "depth": 1,
                "activation": "relu",
                "batch_size": 64,
                "epochs": cnn_epochs,
                "train_size": train_size,
            },
        ),
    )


def _sooner(norm, level, paper, source):
    return Claim(
        f"{NAMES[norm]} reaches the plain network's final validation accuracy in fewer "
        f"steps than the plain network ({level})",
        (norm, level),
        ("none", level),
        "val_accuracy",
        True,
        paper,
        source,
        outcome="censored",
        target=("none", level),
    )


STUDY = Study(
    name="converge",
    title="faster convergence with batch and weight norm",
    task="cnn",
    factor="network",
    variants=tuple(Variant(norm, {"norm": norm}) for norm in NORMS),
    scales={
        "smoke": Scale(
            {"optimizer": "sgd", "val_size": 128, "test_size": 128},
            _levels(2, 1, 240)[:1],
            seeds=1,
            variants=("none", "batch"),
            lrs=RATES[1:],
        ),
        # The mlp: 25 epochs of 200 steps (5,000; the paper trains 50,000);
        # the cnn: 5 epochs of 188 steps at batch 64 (940, near bn-lr's 960).
        "small": Scale(
            {
                "optimizer": "sgd",
                "lr_schedule": "cosine",
                "val_size": 2048,
                "test_size": 4096,
            },
            _levels(25, 5, 12000),
            seeds=5,
            lrs=RATES,
        ),
        "full": Scale(
            {"optimizer": "sgd", "lr_schedule": "cosine"},
            _levels(55, 20, None),
            seeds=5,
            lrs=RATES,
        ),
    },
    claims=(
        _sooner("batch", MLP, "higher test accuracy sooner; no step count in the text", BN),
        _sooner("weight", MLP, "no figure for this network", WN),
        _sooner("weight_meanbn", MLP, "no figure for this network", WN),
        Claim(
            f"batch norm beats the plain network on test accuracy ({MLP})",
            ("batch", MLP),
            ("none", MLP),
            "test_accuracy",
            True,
            "higher test accuracy after 50,000 steps (figure 1a)",
            BN,
            floor=CHANCE,
        ),
        _sooner("batch", CNN, "Inception's accuracy in 14 times fewer steps (BN-x5)", BN_IMAGENET),
        _sooner("weight", CNN, "faster training error decrease, no step count", WN),
        _sooner("weight_meanbn", CNN, "the fastest of the curves, no step count", WN),
    ),
    metrics=("test_accuracy", "val_accuracy"),
    question="Which norm for my CNN?",
    tune_metric="val_accuracy",
    notes="Each norm on each network is trained at SGD rates 0.01, 0.03 and 0.1 (momentum "
    "0.9, a cosine decay to 0), every seed, and read at its rate with the best mean final "
    "validation accuracy: a faster norm is not one trained at a better rate. Steps count "
    "to the first epoch end at which the validation accuracy reaches the plain network's "
    "mean final validation accuracy (at its own chosen rate); a run that never reaches it "
    "counts as longer than its budget (censored), never dropped. The mlp is the batch norm "
    "paper's MNIST network (3 hidden layers of 100 sigmoid units, batch 60) on "
    "Fashion-MNIST, the suite's offline data; the cnn is one residual block on a strided "
    "stem, as in bn-lr. Weight norm starts with its data-dependent initialization on the "
    "first training batch.",
)
