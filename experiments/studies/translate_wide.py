"""translate-wide: `translate`'s claims at a grid of rates that reaches above
the one every cell chose there (1e-3, its grid's top), the budget unchanged,
so that only the rate grid differs: a study of its own, declared before its
runs, with its own runs."""

from . import translate

# Adam's rate for both networks, chosen per cell on validation L1 as in
# `translate`: its top, 1e-3, is this grid's bottom.
RATES = (1e-3, 3e-3, 1e-2)


STUDY = translate.STUDY.at_rates(
    "translate-wide",
    "instance vs batch norm for image translation, at a bracketed rate",
    RATES,
    "rates up to 1e-2",
    notes="`translate`'s grid (instance and batch norm at batch 1 and 16; the U-Net with "
    "a PatchGAN discriminator, L1 weight 100, 2 epochs of 512 image pairs; every "
    "batch-norm run scored with its moving statistics and with each test batch's own) "
    "at Adam's rates 1e-3, 3e-3 and 1e-2 for both networks, each cell read at the rate "
    "with the lowest mean validation L1 (in `translate` every cell chose 1e-3, its "
    "grid's top), 5 seeds. The claims are `translate`'s, as it declared them; a run "
    "that diverges at a high rate is counted, and a rate where one does is no cell's "
    "choice.",
    smoke_rates=RATES[:2],
)
