"""batch-size-gn: the group norm paper's own protocol (Wu & He 2018): the
batch size changes, the learning rate scales linearly with it, and every batch
size trains the same epochs. Batch norm's loss from batch 32 to batch 2 is
compared with each other norm's (difference in differences), since the step
count and the learning rate change with the batch for every norm alike.
"""

from .base import Claim, Level, Scale, Study, Variant
from .batch_size import CHANCE, SOURCE

NORMS = ("batch", "batch_renorm", "group", "layer", "instance", "weight", "weight_meanbn")
# SGD with momentum 0.9, as in the paper, at 0.025 for a batch of 32 (CIFAR
# ResNets' 0.1 for 128), scaled linearly with the batch (Goyal et al. 2017).
BASE_BATCH, BASE_LR = 32, 0.025


def _levels(*sizes):
    return tuple(
        Level(str(size), {"batch_size": size, "lr": BASE_LR * size / BASE_BATCH}) for size in sizes
    )


def _loses_less(norm, text, paper, source=SOURCE):
    """The claim that `norm` loses less test accuracy than batch norm from batch 32 to 2."""
    return Claim(
        f"{text} loses less accuracy than batch norm from batch 32 to batch 2",
        (norm, "2"),
        ("batch", "2"),
        "test_accuracy",
        True,
        paper,
        source,
        floor=CHANCE,
        baselines=((norm, "32"), ("batch", "32")),
    )


STUDY = Study(
    name="batch-size-gn",
    title="normalization against batch size, the group norm paper's protocol",
    task="cnn",
    factor="batch size",
    variants=tuple(Variant(norm, {"norm": norm}) for norm in NORMS),
    scales={
        "smoke": Scale(
            {
                "depth": 1,
                "epochs": 1,
                "train_size": 128,
                "val_size": 128,
                "test_size": 128,
                "optimizer": "sgd",
            },
            _levels(2, 32),
            seeds=1,
            variants=("batch", "group"),
        ),
        # 4 epochs of 2,048 images: 4,096 steps at batch 2, 256 at batch 32;
        # batch 2 and 32 are what the claims compare (full adds 4 to 16).
        "small": Scale(
            {
                "depth": 1,
                "epochs": 4,
                "train_size": 2048,
                "val_size": 512,
                "test_size": 2048,
                "optimizer": "sgd",
                "lr_schedule": "cosine",
            },
            _levels(2, 32),
            seeds=5,
        ),
        "full": Scale(
            {"depth": 3, "epochs": 30, "optimizer": "sgd", "lr_schedule": "cosine"},
            _levels(2, 4, 8, 16, 32),
            seeds=5,
        ),
    },
    claims=(
        _loses_less("group", "group norm", "GN error 24.1% at 32 and at 2; BN 23.6% and 34.7%"),
        _loses_less("layer", "layer norm", "no figure: layer norm computes no batch statistics"),
        _loses_less(
            "instance", "instance norm", "no figure: instance norm computes no batch statistics"
        ),
        _loses_less(
            "weight",
            "weight norm",
            "no figure: WN is said to work at any batch size",
            "Salimans & Kingma 2016",
        ),
        Claim(
            "batch renorm beats batch norm at batch 2",
            ("batch_renorm", "2"),
            ("batch", "2"),
            "test_accuracy",
            True,
            "no figure in the references: renorm is proposed for small minibatches",
            "Ioffe 2017, batch renormalization",
            floor=CHANCE,
        ),
        Claim(
            "weight norm + mean-only BN beats batch norm at batch 2",
            ("weight_meanbn", "2"),
            ("batch", "2"),
            "test_accuracy",
            True,
            "no figure: WN is said to work at any batch size",
            "Salimans & Kingma 2016",
            floor=CHANCE,
        ),
    ),
    metrics=("test_accuracy",),
    question="Which norm at small batch sizes?",
    plot="factor",
    notes=f"Every batch size trains the same epochs (so batch 2 takes 16 times the steps of "
    f"batch 32) with SGD (momentum 0.9) at {BASE_LR:g} x batch / {BASE_BATCH} (the linear "
    "scaling rule the paper follows), decayed to 0 by a cosine schedule. Step count and "
    "learning rate change with the batch for every norm alike, so the claims compare each "
    "norm's change from batch 32 to batch 2 with batch norm's (difference in differences). "
    "Batch renorm clips r to [1/3, 3] and d to [-5, 5] from the first step (the paper "
    "relaxes them from 1 and 0 during training).",
)
