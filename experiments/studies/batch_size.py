"""batch-size: batch norm degrades when its statistics come from few examples;
group, layer, instance and weight norm have no batch statistics to degrade
(Wu & He 2018, the GN table and its error-vs-batch figure).

The factor is batch norm's statistics batch ("images per GPU"): the examples
each set of batch statistics is computed over (ghost batches), inside an SGD
batch of 32 that stays the same, so every level trains the same steps at the
same learning rate and only the statistics change. The batch-independent norms
are unchanged by it and run at one level. `batch-size-gn` is the paper's own
protocol, where the SGD batch changes with the statistics batch.
"""

from .base import Claim, Level, Scale, Study, Variant

SOURCE = "Wu & He 2018, ImageNet ResNet-50 val error by images per GPU"
SGD_BATCH = 32
INDEPENDENT = ("group", "layer", "instance", "weight")
NORMS = ("batch", *INDEPENDENT)
CHANCE = 0.1  # ten classes: the floor of test accuracy


def _levels(*sizes):
    """Batch norm at each statistics batch; the other norms at the whole batch."""
    return tuple(
        Level(
            str(size),
            {"batch_size": SGD_BATCH, "stats_batch": None if size == SGD_BATCH else size},
            variants=None if size == SGD_BATCH else ("batch",),
        )
        for size in sizes
    )


STUDY = Study(
    name="batch-size",
    title="normalization against batch norm's statistics batch",
    task="cnn",
    factor="statistics batch",
    variants=tuple(Variant(norm, {"norm": norm}) for norm in NORMS),
    scales={
        "smoke": Scale(
            {"depth": 1, "epochs": 1, "train_size": 128, "val_size": 128, "test_size": 128},
            _levels(2, 32),
            seeds=1,
            variants=("batch", "group"),
        ),
        # 2,048 steps of batch 32 (8 epochs of 8,192 images), the learning rate
        # decayed to 0 by the last: the curves flatten before the end.
        "small": Scale(
            {
                "depth": 1,
                "epochs": 8,
                "train_size": 8192,
                "val_size": 512,
                "test_size": 2048,
                "lr_schedule": "cosine",
            },
            _levels(2, 4, 8, 16, 32),
            seeds=5,
        ),
        "full": Scale(
            {"depth": 3, "epochs": 30, "lr_schedule": "cosine"},
            _levels(2, 4, 8, 16, 32),
            seeds=5,
        ),
    },
    claims=(
        Claim(
            "batch norm with statistics of 32 examples beats batch norm with statistics of 2",
            ("batch", "32"),
            ("batch", "2"),
            "test_accuracy",
            True,
            "BN error 23.6% at 32 images per GPU vs 34.7% at 2",
            SOURCE,
            floor=CHANCE,
        ),
        Claim(
            "group norm beats batch norm with statistics of 2 examples",
            ("group", "32"),
            ("batch", "2"),
            "test_accuracy",
            True,
            "error 24.1% (GN) vs 34.7% (BN) at 2 images per GPU",
            SOURCE,
            floor=CHANCE,
        ),
        Claim(
            "batch norm beats group norm at 32",
            ("batch", "32"),
            ("group", "32"),
            "test_accuracy",
            True,
            "error 23.6% (BN) vs 24.1% (GN) at 32",
            SOURCE,
            floor=CHANCE,
            equivalence_margin=0.005,  # the paper's gap: 0.5 points
        ),
        Claim(
            "batch norm beats layer norm at 32",
            ("batch", "32"),
            ("layer", "32"),
            "test_accuracy",
            True,
            "error 23.6% (BN) vs 25.3% (LN) at 32",
            SOURCE,
            floor=CHANCE,
        ),
        Claim(
            "batch norm beats instance norm at 32",
            ("batch", "32"),
            ("instance", "32"),
            "test_accuracy",
            True,
            "error 23.6% (BN) vs 28.4% (IN) at 32",
            SOURCE,
            floor=CHANCE,
        ),
    ),
    metrics=("test_accuracy",),
    question="Which norm at small batch sizes?",
    plot="factor",
    notes=f"Every run trains with an SGD batch of {SGD_BATCH} for the same steps, with Adam "
    "and a cosine decay of the learning rate; the factor is the number of examples each "
    "set of batch norm's statistics is computed over (ghost batches, `--stats-batch`), what "
    "the paper's images per GPU are, so the steps and the learning rate are the same at "
    "every level and only the statistics change. Group, layer, instance and weight norm "
    "compute no batch statistics: they run once, with the whole batch (level 32), and the "
    "figure draws them across every level. Group norm has 4 groups (4 to 16 channels "
    "each); layer norm normalizes over channels and positions together, as in the paper. "
    "Batch renorm and mean-only batch norm take no ghost batches: they are in "
    "`batch-size-gn`.",
)
