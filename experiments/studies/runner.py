"""Runs a study: its grid as one sweep tagged `study=NAME`, completing only
what is missing.

A configuration is done when a run tagged with the study holds exactly its
params (the software versions aside) and ended FINISHED, or FAILED tagged
`diverged` (a finding, not a failure). Re-running an interrupted study trains
the rest, under a new parent run.
"""

from ..tasks import TASKS
from ..tasks.loop import LOOP_PARAMS
from ..tracking.runs import VERSION_PARAMS

# Params that record how a run ran, not which configuration it is.
_NOT_IDENTIFYING = {*VERSION_PARAMS, *LOOP_PARAMS}


def study_configs(study, scale, seeds, data_dir=None, loop=None):
    """Every configuration of `study`'s grid at `scale` for each of `seeds`
    (and each of the scale's `lrs`), completed by the task's `configure`;
    seeds vary slowest, variants fastest, so an interrupted study leaves whole
    seeds done."""
    from ..config import base_config

    task = TASKS[study.task]
    spec = study.scale(scale)
    base = {**base_config(task, data_dir=data_dir, loop=loop), **spec.settings}
    rates = [{"lr": lr} for lr in spec.lrs] if spec.lrs else [{}]
    return [
        task.configure({**base, **level.params, **rate, **variant.params, "seed": seed})
        for seed in seeds
        for level in spec.levels
        for rate in rates
        for variant in study.variants_at(scale, level)
    ]


def config_key(config, without=()):
    """What identifies a configuration among logged runs: its params as MLflow
    stores them (strings), the software versions, the loop's settings and
    `without` left out."""
    return tuple(
        sorted(
            (name, str(value))
            for name, value in config.items()
            if name not in _NOT_IDENTIFYING and name not in without
        )
    )


def option_defaults(task):
    """What a run logged before one of `task`'s options existed ran with: the
    option's default (`run_key`)."""
    from ..config import task_options

    return {action.dest: action.default for action in task_options(task)}


def run_key(run, names, without=(), defaults=None):
    """`config_key` of a run (a row of `mlflow.search_runs`), over the params
    `names`; a param the run lacks (an option added since) reads as its value
    in `defaults`."""
    defaults = defaults or {}

    def value(name):
        logged = run.get(f"params.{name}")
        if (logged is None or logged != logged) and name in defaults:  # absent, or NaN
            return defaults[name]
        return logged

    return tuple(
        sorted(
            (name, str(value(name)))
            for name in names
            if name not in _NOT_IDENTIFYING and name not in without
        )
    )


def completed(configs, runs, defaults=None):
    """The configurations among `configs` that one of `runs` (finished or
    diverged runs of the study) already holds (`defaults` as `run_key` has them)."""
    if runs.empty:
        return []
    names = sorted(configs[0])
    done = {run_key(run, names, defaults=defaults) for _, run in runs.iterrows()}
    return [config for config in configs if config_key(config) in done]


def sweep_grid(study, scale, seeds):
    """The grid as the sweep's parent run records it."""
    spec = study.scale(scale)
    grid = {"seed": list(seeds)}
    for params in (
        [level.params for level in spec.levels],
        [{"lr": lr} for lr in spec.lrs or ()],
        [variant.params for variant in study.variants_at(scale)],
    ):
        for name in dict.fromkeys(name for each in params for name in each):
            grid[name] = list(dict.fromkeys(each.get(name) for each in params))
    return grid


def train(task, configs, grid, experiment, study_name, resources=None, verbose=False):
    """Trains `configs` as one sweep (children of one parent run), on Ray with
    `resources` (`engine.Resources`), else here one after the other: the one
    place a study meets the sweep engine."""
    from .. import execution

    [parent_id] = execution.run_sweeps(
        [execution.Sweep(task, configs, grid, experiment, study_name)], resources, verbose
    )
    return parent_id


def run_study(study, scale, seeds, connect=lambda: None, data_dir=None, loop=None, verbose=False):
    """Trains what is missing of `study` at `scale` for `seeds` (a list) on
    the engine `connect()` returns (Ray's `engine.Resources`, or None: here,
    one after the other), with the training loop `loop`
    (`experiments.tasks.loop.loop_params`), `verbose` as
    `execution.run_sweeps` has it; returns the id of the sweep's parent run,
    or None when nothing was missing."""
    from ..report.writer import reported_runs
    from ..tracking import store

    task = TASKS[study.task]
    configs = study_configs(study, scale, seeds, data_dir, loop)
    store.open_store()
    for dataset_config in {config["dataset"]: config for config in configs}.values():
        task.prepare(dataset_config)
    experiment_name = task.experiment_name
    experiment_id = store.experiment_id(experiment_name)
    done = completed(configs, reported_runs(experiment_name, study.name), option_defaults(task))
    done_keys = {config_key(config) for config in done}
    missing = [config for config in configs if config_key(config) not in done_keys]
    print(
        f"study {study.name} ({scale}): {len(configs)} configurations, {len(done)} already "
        f"done, {len(missing)} to train",
        flush=True,
    )
    if not missing:
        return None
    return train(
        task,
        missing,
        sweep_grid(study, scale, seeds),
        experiment_id,
        study.name,
        connect(),
        verbose,
    )
