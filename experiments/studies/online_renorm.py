"""online-renorm: `online`'s batch renorm claim at a grid of rates that
reaches above the one it chose. In `online` batch renorm recovered part of
what batch norm loses at batch 1, at the grid's top rate (1e-3), so its best
may lie higher: a study of its own, declared before its runs, with its own
runs, beside the plain network as the batch-independent reference."""

from . import online
from .base import Study

# Adam at each rate, per cell, chosen on the first segment as in `online`:
# 1e-3 was its grid's top, so this one reaches an order of magnitude above it.
RATES = (3e-4, 1e-3, 3e-3, 1e-2)
NORMS = ("none", "batch", "batch_renorm")
# Told apart from `online`'s claims on a page holding both.
NOTE = "rates up to 1e-2"

STUDY = Study(
    name="online-renorm",
    title="online learning: batch renorm at a bracketed rate",
    task="online",
    factor="stream",
    variants=tuple(v for v in online.STUDY.variants if v.label in NORMS),
    scales={
        "smoke": online.STUDY.regridded("smoke", RATES[1:2], variants=("none", "batch_renorm")),
        "small": online.STUDY.regridded("small", RATES),
        "full": online.STUDY.regridded("full", RATES),
    },
    claims=(
        next(c for c in online.STUDY.claims if c.a[0] == "batch_renorm").noted(NOTE),
        online.after_shifts(
            "none",
            "batch_renorm",
            "no figure: renorm still normalizes by batch statistics, corrected by "
            "moving ones; at batch 1 those of one example",
            online.RENORM,
        ).noted(NOTE),
    ),
    metrics=online.STUDY.metrics,
    question="Which norm for online learning?",
    tune_metric="first_segment_accuracy",
    notes="`online`'s stream, network and scoring (6,144 Fashion-MNIST images read once "
    "at batch 1, 3 segments of 2,048, the later two through new pixel permutations; "
    "prequential accuracy in inference mode; 64 held-out images seen once in training "
    "mode first) for no norm, batch norm and batch renorm, each at its rate of 3e-4, "
    "1e-3, 3e-3 and 1e-2 with the best mean prequential accuracy on the first segment "
    "(in `online` batch renorm chose 1e-3, its grid's top), 5 seeds. The claims: "
    "`online`'s, batch renorm beats batch norm after the shifts, as it declared it; and "
    "no norm beats batch renorm after them.",
)
