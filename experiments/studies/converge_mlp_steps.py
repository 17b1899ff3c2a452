"""converge-mlp-steps: `converge`'s claims on the batch norm paper's sigmoid
network again at 10 seeds, at a grid of rates that reaches above 1, where
batch norm and weight + mean-only batch norm chose their rate in
`converge-wide` (its top). With 5 runs a side no steps claim could pass
Holm's adjustment; `converge-steps` did the same for the CNN. A study of its
own, declared before its runs, with its own runs."""

import dataclasses

from . import converge, converge_steps

# SGD with momentum 0.9 and a cosine decay, per cell: in `converge-wide` the
# plain network chose 0.3 and weight norm 0.1 (each bracketed there or in
# `converge`), batch norm and weight + mean-only batch norm 1, its top.
RATES = (0.1, 0.3, 1.0, 3.0)
NOTE = "10 seeds, rates 0.1 to 3"

STUDY = converge_steps.on_network(
    converge.MLP,
    "converge-mlp-steps",
    "faster convergence with batch and weight norm in the sigmoid network, at 10 seeds",
    RATES,
    NOTE,
    smoke=dataclasses.replace(converge.STUDY.scale("smoke"), lrs=RATES[:1]),
    notes="`converge`'s sigmoid network (the batch norm paper's MNIST network: 3 hidden "
    "layers of 100 sigmoid units, 5,000 steps of batch 60, 25 epochs of 12,000 "
    "Fashion-MNIST training images, 2,048 validation and 4,096 test images) without "
    "normalization and with batch, weight and weight + mean-only batch norm, at SGD rates "
    "0.1, 0.3, 1 and 3 (momentum 0.9, a cosine decay to 0), each cell read at the rate with "
    "the best mean validation accuracy (in `converge-wide`, at 0.1 to 1, batch norm and "
    "weight + mean-only batch norm chose 1, its top), 10 seeds. The claims are `converge`'s "
    "four on this network, as it declared them: steps count to the first epoch end (every "
    "200 steps) at which the validation accuracy reaches the plain network's mean final "
    "one, a run that never does counted as longer than its 5,000 steps (censored), never "
    "dropped. A run that diverges at a high rate is counted, and a rate where one does is "
    "no cell's choice.",
)
