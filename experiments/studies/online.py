"""online: weight norm suits online learning (the guidance: it does not
depend on the batch, so it works one example at a time) and batch norm does
not (at batch 1 a training step's batch statistics are one example's: its
variance over the batch is 0). One pass at batch 1 over a stream of images
whose pixel permutation changes twice, each example scored before the network
learns from it."""

from .base import Claim, Level, Scale, Study, Variant

WN = "Salimans & Kingma 2016 (no dependence on the minibatch); the guidance"
LN = "Ba et al. 2016, layer normalization (batch norm cannot be applied online)"
RENORM = "Ioffe 2017, batch renormalization (small and non-i.i.d. minibatches)"
CHANCE = 0.1  # ten classes
SAME = 0.01  # accuracy: the smallest difference of interest, one point
STREAM = Level("batch 1", {})
NAMES = {
    "none": "no norm",
    "weight": "weight norm",
    "layer": "layer norm",
    "batch": "batch norm",
    "batch_renorm": "batch renorm",
}
# Adam at each of these rates, per cell, chosen on the first segment's
# prequential accuracy: the stream before any shift.
RATES = (1e-4, 3e-4, 1e-3)


def after_shifts(a, b, paper, source, metric="after_shift_accuracy", margin=None):
    what = {
        "after_shift_accuracy": "on the stream after its shifts",
        "recovery_accuracy": "over the first 256 examples after each shift",
    }[metric]
    return Claim(
        f"{NAMES[a]} beats {NAMES[b]} {what} (batch 1)",
        (a, STREAM.label),
        (b, STREAM.label),
        metric,
        True,
        paper,
        source,
        floor=CHANCE,
        equivalence_margin=margin,
    )


STUDY = Study(
    name="online",
    title="online learning: one example at a time, the stream shifting",
    task="online",
    factor="stream",
    variants=tuple(Variant(norm, {"norm": norm}) for norm in NAMES),
    scales={
        "smoke": Scale(
            {"train_size": 192, "val_size": 64, "test_size": 128, "window": 16},
            (STREAM,),
            seeds=1,
            variants=("none", "weight"),
            lrs=RATES[-1:],
        ),
        # 3 segments of 2,048 images: 6,144 steps of batch 1.
        "small": Scale(
            {"train_size": 6144, "val_size": 64, "test_size": 2048, "window": 256},
            (STREAM,),
            seeds=5,
            lrs=RATES,
        ),
        "full": Scale(
            {"train_size": 30720, "val_size": 64, "test_size": 10000, "window": 256},
            (STREAM,),
            seeds=5,
            lrs=RATES,
        ),
    },
    claims=(
        after_shifts("weight", "none", "no figure: the guidance's claim", WN, margin=SAME),
        after_shifts(
            "weight",
            "none",
            "no figure: the guidance's claim",
            WN,
            metric="recovery_accuracy",
        ),
        after_shifts(
            "weight", "batch", "no figure: batch norm needs a batch to normalize over", WN
        ),
        after_shifts("layer", "none", "no figure: layer norm works at batch 1", LN, margin=SAME),
        after_shifts(
            "batch_renorm",
            "batch",
            "no figure at batch 1: renorm is proposed for small minibatches",
            RENORM,
        ),
    ),
    metrics=(
        "after_shift_accuracy",
        "recovery_accuracy",
        "first_segment_accuracy",
        "test_accuracy",
    ),
    question="Which norm for online learning?",
    tune_metric="first_segment_accuracy",
    notes="The batch norm paper's fully connected network (2 hidden layers of 100 ReLU "
    "units, He init) reads a stream of 6,144 Fashion-MNIST training images once, at "
    "batch 1, with Adam; the stream is 3 segments of 2,048, the first as the images are, "
    "each later one through a new random permutation of the pixels (the same for every "
    "norm at a seed). Each example is scored by the network before it learns from it, in "
    "inference mode (prequential accuracy). Each cell is read at its rate of 1e-4, 3e-4 "
    "and 1e-3 with the best mean prequential accuracy on the first segment, before any "
    "shift; the claims read the later segments: their mean accuracy, and the accuracy "
    "over the first 256 examples after each shift (how fast a network adapts). Before "
    "the stream, every network sees 64 held-out images once in training mode (inputs "
    "only): weight norm's data-dependent initialization needs more than one example, and "
    "batch norm's moving statistics take one update from them. Batch norm trains at "
    "batch 1 on one example's statistics, where each unit's batch variance is 0: it is "
    "reported, not dropped. A difference under one point of accuracy counts as none "
    "(TOST) for weight and layer norm against no norm.",
)
