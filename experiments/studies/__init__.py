"""The studies: each puts one of the literature's claims about normalization to the
test as a grid of runs, with a verdict per claim (see `experiments.studies.base`)."""

from . import (
    batch_size,
    batch_size_gn,
    bn_lr,
    converge,
    converge_wide,
    depth,
    depth_residual,
    gan_d,
    gan_g,
    online,
    online_renorm,
    overfit,
    overfit_wide,
    rl,
    rnn,
    rnn_images,
    rnn_images_steps,
    rnn_speed,
    style,
    style_long,
    style_shift,
    text,
    translate,
    translate_wide,
)
from .base import SCALES  # noqa: F401 (the command line's choices)

STUDIES = {
    study.name: study
    for study in (
        bn_lr.STUDY,
        batch_size.STUDY,
        batch_size_gn.STUDY,
        rnn.STUDY,
        rnn_images.STUDY,
        rnn_images_steps.STUDY,
        rnn_speed.STUDY,
        gan_d.STUDY,
        gan_g.STUDY,
        translate.STUDY,
        translate_wide.STUDY,
        style.STUDY,
        style_shift.STUDY,
        style_long.STUDY,
        converge.STUDY,
        converge_wide.STUDY,
        depth.STUDY,
        depth_residual.STUDY,
        overfit.STUDY,
        overfit_wide.STUDY,
        online.STUDY,
        online_renorm.STUDY,
        rl.STUDY,
        text.STUDY,
    )
}
