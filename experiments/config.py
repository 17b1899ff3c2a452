"""A run's configuration, below everything that builds one: the command line,
the studies' runner and `experiments.compare`.

`base_config` builds every param of a run but the norm and the seed, which a
command or a study's grid sets, and what `Task.configure` completes; the
result becomes the run's typed `experiments.run_config.RunConfig`.
"""

import argparse
from pathlib import Path

from .tasks.loop import loop_params, task_loop

# The options every task has, given on the command line as --epochs, ...
COMMON_SETTINGS = ("epochs", "batch_size", "lr", "train_size")


def task_options(task):
    """The argparse actions of `task`'s own options."""
    parser = argparse.ArgumentParser(add_help=False)
    task.add_arguments(parser)
    return parser._actions


def option_defaults(task):
    """Each of `task`'s own options, by name, with its default."""
    return {action.dest: action.default for action in task_options(task)}


def base_config(
    task, *, quick=False, data_dir=None, dataset=None, common=None, own=None, loop=None
):
    """Every param of a run but its norm and seed (and what `task.configure`
    completes): the common settings, the task's own options, the training
    loop's (`loop`, default `loop.loop_params()`), the versions.

    `common` and `own` hold the options given (None where not given): a task
    option left unset takes the task's setting where it has one, since its
    default may differ under `quick`.
    """
    from .tracking.runs import backend_params, software_versions

    settings = {**task.settings, **(task.quick_settings if quick else {})}
    settings.update({name: value for name, value in (common or {}).items() if value is not None})
    options = option_defaults(task)
    options.update(own or {})
    options = {
        dest: value
        for dest, value in sorted(options.items())
        if value is not None or dest not in settings
    }
    return {
        "task": task.name,
        "norm": None,
        "dataset": dataset or next(iter(task.datasets), None),
        "seed": 0,
        "quick": quick,
        "data_dir": str(Path(data_dir).resolve()) if data_dir else None,
        **settings,
        **options,
        **task_loop(task, loop or loop_params()),
        **software_versions(),
        **backend_params(),
    }
