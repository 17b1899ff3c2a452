"""converge-steps: `converge`'s steps claims in the residual CNN again at 10
seeds, at the two rates its cells chose in `converge-wide`. With 5 runs a side
no steps claim could pass Holm's adjustment (Gehan's smallest exact p, 2/252,
is above 0.05 divided by the family's size); `rnn-speed` showed what 10 a side
can decide. A study of its own, declared before its runs, with its own runs."""

import dataclasses

from . import converge

# SGD with momentum 0.9 and a cosine decay, per cell: in `converge-wide` the
# plain CNN and weight norm chose 0.1, batch norm and weight + mean-only batch
# norm 0.3, each bracketed by the rates around it there and in `converge`.
RATES = (0.1, 0.3)
SEEDS = 10
NOTE = "10 seeds, rates 0.1 and 0.3"


def _on_level(scale, label, **changes):
    """`scale` (one of `converge`'s) with its level `label` alone, and `changes`."""
    return dataclasses.replace(
        scale, levels=tuple(level for level in scale.levels if level.label == label), **changes
    )


def on_network(label, name, title, rates, note, smoke, notes):
    """`converge` again as study `name` on its network `label` alone, at
    `SEEDS` seeds and the grid `rates` (`smoke`: the smoke scale), with that
    network's claims as `converge` declared them, noted `note`."""
    return dataclasses.replace(
        converge.STUDY,
        name=name,
        title=title,
        scales={
            "smoke": smoke,
            **{
                scale: _on_level(converge.STUDY.scale(scale), label, seeds=SEEDS, lrs=rates)
                for scale in ("small", "full")
            },
        },
        claims=tuple(
            claim.noted(note) for claim in converge.STUDY.claims if claim.sides[0][1] == label
        ),
        notes=notes,
    )


STUDY = on_network(
    converge.CNN,
    "converge-steps",
    "faster convergence with batch and weight norm in the CNN, at 10 seeds",
    RATES,
    NOTE,
    # `converge`'s smoke scale runs the mlp; this one the cnn's one epoch.
    smoke=dataclasses.replace(
        converge.STUDY.scale("smoke"),
        levels=tuple(
            dataclasses.replace(level, params={**level.params, "epochs": 1, "train_size": 240})
            for level in _on_level(converge.STUDY.scale("small"), converge.CNN).levels
        ),
        lrs=RATES[:1],
    ),
    notes="`converge`'s residual CNN (one residual block on a strided stem, 940 steps of "
    "batch 64, 5 epochs of 12,000 Fashion-MNIST training images, 2,048 validation and "
    "4,096 test images) without normalization and with batch, weight and weight + "
    "mean-only batch norm, at SGD rates 0.1 and 0.3 (momentum 0.9, a cosine decay to 0), "
    "each cell read at the rate with the best mean validation accuracy, 10 seeds. The "
    "claims are `converge`'s three on the CNN, as it declared them: steps count to the "
    "first epoch end (every 188 steps) at which the validation accuracy reaches the plain "
    "network's mean final one, a run that never does counted as longer than its 940 steps "
    "(censored), never dropped.",
)
