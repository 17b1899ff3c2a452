"""One colour per norm, the same in the MLflow UI (the run tag
`mlflow.runColor`) and in the report's figures, so a norm's curves are
told apart and recognised from one view to the other."""

import zlib

from ..models.norms import DISCRIMINATOR_NORMS, RECURRENT_NORMS

RUN_COLOR_TAG = "mlflow.runColor"
# Tableau's 10 colours and two more, distinct on white and to most colour-blind eyes.
PALETTE = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
    "#393b79",
    "#637939",
)
_KNOWN = (*DISCRIMINATOR_NORMS, *RECURRENT_NORMS)


def norm_color(norm):
    """The colour of `norm`: fixed for the suite's norms; for any other name
    (a GAN's `generator/discriminator` pair, a custom task's) one that a hash
    of the name picks, the same in every run and process."""
    if norm in _KNOWN:
        return PALETTE[_KNOWN.index(norm) % len(PALETTE)]
    return PALETTE[zlib.crc32(norm.encode()) % len(PALETTE)]
