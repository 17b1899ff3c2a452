"""depth: does batch norm let deep networks train despite vanishing and
exploding gradients (the guidance; why ResNet and Inception use it), or does
it make the gradients explode at initialization in deep plain networks, as
mean field theory predicts (Yang et al. 2019)? Fully connected networks of 4,
16 and 48 hidden layers without shortcuts, and 48 with them, each hidden
layer's gradient norm logged at initialization and after every epoch."""

from .base import Claim, Level, Scale, Study, Variant

BN = "Ioffe & Szegedy 2015 (abstract, section 3.3); the guidance"
YANG = "Yang et al. 2019, a mean field theory of batch normalization"
LN = "Ba et al. 2016, layer normalization"
WN = "Salimans & Kingma 2016"
RESNET = "He et al. 2016, deep residual learning"
NORMS = ("none", "batch", "layer", "weight")
NAMES = {"none": "no norm", "batch": "batch norm", "layer": "layer norm", "weight": "weight norm"}


def network(depth, residual=False, activation="relu", variants=("none", "batch"), init=None):
    """A level: the fully connected network of `depth` hidden layers, with
    shortcuts where `residual`, at the scale's init unless `init` is given
    (then named in the label)."""
    kind = "residual" if residual else "plain"
    return Level(
        f"{kind} {depth} {activation}" + (f", {init} init" if init else ""),
        {
            "architecture": "resmlp" if residual else "mlp",
            "depth": depth,
            "activation": activation,
            **({"init": init} if init else {}),
        },
        variants=variants,
    )


# Every norm at 48 plain ReLU layers, where the claims compare them; batch norm
# against none elsewhere (the depth trend, shortcuts, tanh).
SHALLOW, MIDDLE, DEEP = network(4), network(16), network(48, variants=None)
RESIDUAL, DEEP_TANH = network(48, residual=True), network(48, activation="tanh")
LEVELS = (SHALLOW, MIDDLE, DEEP, RESIDUAL, DEEP_TANH)
# SGD with momentum 0.9 (Adam's per-weight step sizes would hide the gradients'
# scale, which the study is about) at each of these rates, per cell.
RATES = (0.01, 0.03)
# The settings of each scale: at small, 640 steps of batch 64 (10 epochs of
# 4,096 images).
SETTINGS = {
    "smoke": {
        "optimizer": "sgd",
        "init": "scaled",
        "epochs": 1,
        "batch_size": 32,
        "train_size": 128,
        "val_size": 64,
        "test_size": 64,
    },
    "small": {
        "optimizer": "sgd",
        "init": "scaled",
        "epochs": 10,
        "batch_size": 64,
        "train_size": 4096,
        "val_size": 1024,
        "test_size": 2048,
        "lr_schedule": "cosine",
    },
    "full": {"optimizer": "sgd", "init": "scaled", "epochs": 30, "lr_schedule": "cosine"},
}


def _trains(norm, level, paper, source):
    return Claim(
        f"{NAMES[norm]} trains the {level.label} network to a lower training loss than no norm",
        (norm, level.label),
        ("none", level.label),
        "train_eval_loss",
        False,
        paper,
        source,
    )


STUDY = Study(
    name="depth",
    title="deep networks: vanishing and exploding gradients",
    task="cnn",
    factor="network",
    variants=tuple(Variant(norm, {"norm": norm}) for norm in NORMS),
    scales={
        "smoke": Scale(
            SETTINGS["smoke"], (SHALLOW, DEEP), seeds=1, variants=("none", "batch"), lrs=RATES[:1]
        ),
        "small": Scale(SETTINGS["small"], LEVELS, seeds=5, lrs=RATES),
        "full": Scale(SETTINGS["full"], LEVELS, seeds=5, lrs=RATES),
    },
    claims=(
        Claim(
            f"batch norm makes the gradients explode at initialization in the {DEEP.label} "
            "network: its first-to-last layer gradient ratio is above no norm's",
            ("batch", DEEP.label),
            ("none", DEEP.label),
            "init_grad_log_ratio",
            True,
            "gradients grow exponentially with depth (no per-layer figure quoted)",
            YANG,
        ),
        Claim(
            "batch norm's gradient explosion grows with depth: its ratio is larger at 48 "
            "layers than at 4",
            ("batch", DEEP.label),
            ("batch", SHALLOW.label),
            "init_grad_log_ratio",
            True,
            "exponential in depth",
            YANG,
        ),
        _trains(
            "batch",
            DEEP,
            "BN lets deep networks train; theory: plain BN networks are untrainable at depth",
            BN,
        ),
        _trains("batch", DEEP_TANH, "as for ReLU; saturating units are the paper's case", BN),
        _trains("layer", DEEP, "no figure on depth", LN),
        _trains("weight", DEEP, "no figure on depth", WN),
        Claim(
            "shortcuts train the 48-layer network without normalization to a lower training "
            "loss than the plain one",
            ("none", RESIDUAL.label),
            ("none", DEEP.label),
            "train_eval_loss",
            False,
            "the degradation problem: deeper plain networks train worse, residual ones do not",
            RESNET,
        ),
    ),
    metrics=("train_eval_loss", "init_grad_log_ratio", "test_accuracy"),
    question="Which norm for a very deep network?",
    plot="gradients",
    tune_metric="val_accuracy",
    notes="Fully connected networks of 100 units a layer on 4,096 Fashion-MNIST images, "
    "each hidden layer's weights at the initialization that keeps the signal's variance "
    "(He for ReLU, Glorot for tanh), SGD with momentum 0.9 for 640 steps with a cosine "
    "decay, each cell read at its rate of 0.01 and 0.03 with the best mean validation "
    "accuracy. The gradient ratio is log10 of the first hidden layer's gradient norm over "
    "the last's, at initialization, on one training batch in training mode: above 0 the "
    "gradients grow towards the input. The training loss is the training set's, scored in "
    "inference mode after training. The figure shows each hidden layer's gradient norm at "
    "initialization against its depth.",
)
