"""The learning-rate schedule a task's optimizer follows (`--lr-schedule`)."""

from .. import arguments

SCHEDULES = ("constant", "cosine")


def add_schedule_argument(parser):
    """Adds `--lr-schedule` to a task's options."""
    parser.add_argument(
        "--lr-schedule",
        type=arguments.choice(SCHEDULES),
        default="constant",
        help="constant, or cosine decay from --lr to 0 over the run's steps (default: constant)",
    )


def learning_rate(config, steps):
    """The optimizer's learning rate for `config`'s `lr_schedule` over a run of
    `steps` training steps: `lr` throughout, or cosine decay from it to 0."""
    import keras

    if config["lr_schedule"] == "cosine":
        return keras.optimizers.schedules.CosineDecay(config["lr"], decay_steps=steps)
    return config["lr"]
