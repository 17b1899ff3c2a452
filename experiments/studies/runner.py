"""Runs a study: its grid as one sweep tagged `study=NAME`, completing only
what is missing.

A configuration is done when a run tagged with the study holds exactly its
params (the software versions aside) and ended FINISHED, or FAILED tagged
`diverged` (a finding, not a failure). Re-running an interrupted study trains
the rest, under a new parent run. The backend is not part of a configuration,
so a store holds a study's runs from one Keras backend: another backend's
study goes into a store of its own (`same_backend`).
"""

from ..errors import TrackingError
from ..run_config import RunConfig
from ..tasks import TASKS


def study_configs(study, scale, seeds, data_dir=None, loop=None):
    """Every configuration (`RunConfig`) of `study`'s grid at `scale` for each
    of `seeds` (and each of the scale's `lrs`), completed by the task's
    `configure`; seeds vary slowest, variants fastest, so an interrupted study
    leaves whole seeds done."""
    from ..config import base_config

    task = TASKS[study.task]
    spec = study.scale(scale)
    base = {**base_config(task, data_dir=data_dir, loop=loop), **spec.settings}
    rates = [{"lr": lr} for lr in spec.lrs] if spec.lrs else [{}]
    return [
        RunConfig.configured(task, {**base, **level.params, **rate, **variant.params, "seed": seed})
        for seed in seeds
        for level in spec.levels
        for rate in rates
        for variant in study.variants_at(scale, level)
    ]


def completed(configs, runs):
    """The configurations among `configs` that one of `runs` (finished or
    diverged runs of the study, as `mlflow.search_runs` returns them) already
    holds: the same params but how the run ran (`RunConfig.identity`)."""
    if runs.empty or not configs:
        return []
    task = configs[0].task
    done = {RunConfig.from_run_row(task, run).identity() for _, run in runs.iterrows()}
    return [config for config in configs if config.identity() in done]


def same_backend(study_name, runs, backend):
    """Raises `TrackingError` where `runs` (the study's in the store, as
    `reported_runs` returns them) were trained on a Keras backend other than
    `backend`: their configurations would count as done (`completed`), and
    the study would train nothing, or only what is missing, beside them."""
    if runs.empty:
        return
    # Runs logged before the backend was recorded ran on TensorFlow, then the
    # suite's only backend.
    column = "params.keras_backend"
    logged = set(runs[column].fillna("tensorflow")) if column in runs else {"tensorflow"}
    others = sorted(logged - {backend})
    if others:
        raise TrackingError(
            f"study {study_name}: its runs in this store were trained on {', '.join(others)}, "
            f"and this command runs {backend}; train it into a store of its own "
            "(MLFLOW_TRACKING_URI=sqlite:////tmp/<dir>/mlflow.db) or on the same backend"
        )


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


def run_study(
    study, scale, seeds, connect=lambda run_seconds: None, data_dir=None, loop=None, verbose=False
):
    """Trains what is missing of `study` at `scale` for `seeds` (a list) on
    the engine `connect(run_seconds)` returns for the runs' estimated seconds
    (Ray's `engine.Resources`, or None: here, one after the other), with the training loop `loop`
    (`experiments.tasks.loop.loop_params`), `verbose` as
    `execution.run_sweeps` has it; returns the id of the sweep's parent run,
    or None when nothing was missing."""
    from ..report.writer import reported_runs
    from ..tracking import store
    from ..tracking.runs import backend_params

    task = TASKS[study.task]
    configs = study_configs(study, scale, seeds, data_dir, loop)
    store.open_store()
    for dataset_config in {config["dataset"]: config for config in configs}.values():
        task.prepare(dataset_config)
    experiment_name = task.experiment_name
    experiment_id = store.experiment_id(experiment_name)
    runs = reported_runs(experiment_name, study.name)
    same_backend(study.name, runs, backend_params()["keras_backend"])
    done = completed(configs, runs)
    missing = [config for config in configs if config not in done]
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
        connect([task.estimated_run_seconds(config) for config in missing]),
        verbose,
    )
