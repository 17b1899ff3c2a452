"""Runs configurations, each in its own MLflow run.

A sweep is a list of fully specified configurations (`sweep_configs`), each
trained by one call of `train_config` that opens and closes its own run as a
child of a known parent run, so the calls can run anywhere the store is
reachable: in this process one after the other, or several at once as Ray
tasks (`experiments.engine`). `run_sweeps` trains several sweeps (the quick
comparison's, one per task, each under its own parent) as one: on Ray every
configuration of every sweep is submitted at once.

A configuration is recognised across the attempts of a retried trial and
across a resumed sweep by its child's params, read back as a `RunConfig`
(`trained`), the one match the studies use too.
"""

import contextlib
import dataclasses
import itertools
import logging
import statistics
import time

import mlflow
from mlflow.entities import Param, RunTag
from mlflow.tracking.context.registry import resolve_tags
from mlflow.utils.mlflow_tags import MLFLOW_RUN_NOTE

from .errors import SweepError, TrainingDiverged
from .run_config import RunConfig
from .tracking import colors, ui_links
from .tracking.runs import (
    Heartbeat,
    describe,
    killed_runs,
    live_tags,
    run_process,
    tracked_run,
)


def _short_number(value):
    """1e-3 for 0.001, 2.5e-4 for 0.00025: learning rates as people write them."""
    mantissa, exponent = f"{value:.3e}".split("e")
    return f"{mantissa.rstrip('0').rstrip('.')}e{int(exponent)}"


# The params every label names; a sweep's other varying params follow them.
_LABELLED = ("task", "norm", "batch_size", "lr", "seed")


def configuration_label(config, axes=()):
    """A configuration's name, seeds aside: "cnn · batch · bs64 · lr1e-3", then
    each of `axes` (the params the sweep varies) beyond those: "· stats_batch=2"."""
    return (
        f"{config['task']} · {config['norm']} · bs{config['batch_size']} "
        f"· lr{_short_number(config['lr'])}"
        + "".join(f" · {name}={config[name]}" for name in axes if name not in _LABELLED)
    )


def run_label(config, axes=()):
    """A run's name in the MLflow UI: "cnn · batch · bs64 · lr1e-3 · seed 0"."""
    return f"{configuration_label(config, axes)} · seed {config['seed']}"


def varying(grid):
    """The params of a sweep's `grid` that take more than one value."""
    return tuple(name for name, values in grid.items() if len(values) > 1)


def sweep_description(task, configs, grid, study):
    """The sweep's parent run description in the MLflow UI (Markdown)."""
    axes = "; ".join(f"{name}: {', '.join(map(str, values))}" for name, values in grid.items())
    return (
        f"**{task.name} sweep** of {len(configs)} runs, one per combination of {axes}. "
        f"Study `{study}`; each run is a child of this one."
    )


def trained_identity(task, run):
    """The `RunConfig.identity` of the configuration the MLflow `run` of
    `task` trained: its params read back, software versions and loop aside."""
    return RunConfig.from_params(task, run.data.params).identity()


def trained(run, config):
    """Whether the MLflow `run` trained `config` (a `RunConfig`)."""
    return trained_identity(config.task, run) == config.identity()


def train_config(task, config, experiment, study, parent_run_id=None, axes=()):
    """Trains `config` in its own MLflow run (a child of `parent_run_id` when
    given, named with its sweep's `axes`); returns the run id. The run ends
    FAILED (and this raises) when training fails or diverges."""
    tags = {
        "study": study,
        "run_kind": "train",
        "task": task.name,
        # One colour per norm in the UI's tables and charts, the report's figures' colour.
        colors.RUN_COLOR_TAG: colors.norm_color(config["norm"]),
        # What trained it, not the process that happened to run it (a Ray
        # worker's `default_worker.py`).
        "mlflow.source.name": f"experiments/tasks/{task.name}.py",
    }
    with tracked_run(
        experiment,
        run_label(config, axes),
        config.params(),
        tags,
        parent_run_id=parent_run_id,
        description=task.describe(config),
    ) as run:
        task.run(config)
    return run.info.run_id


def sweep_configs(task, base, grid):
    """Every combination of `grid` (param -> values) applied to `base`, each a
    `RunConfig` completed by `task.configure` (which raises ValueError to
    refuse one).

    The last param varies fastest, so with norms last each norm's runs are
    spread over the sweep rather than bunched at its end.
    """
    names = list(grid)
    return [
        RunConfig.configured(task, {**base, **dict(zip(names, values))})
        for values in itertools.product(*(grid[name] for name in names))
    ]


def _children(experiment, parent_run_id, extra=""):
    query = f"tags.`mlflow.parentRunId` = '{parent_run_id}'{extra}"
    return mlflow.MlflowClient().search_runs([experiment], query, max_results=50_000)


def end_dead_attempts(experiment, parent_run_id, config, reason):
    """Ends KILLED, with `reason` as the tag `error` and the tag `worker_died`,
    every RUNNING child of the sweep that trains `config` (None: any
    configuration): each was left by an attempt whose process died. Returns
    their run ids."""
    client = mlflow.MlflowClient()
    runs = [
        run
        for run in _children(experiment, parent_run_id, " and attributes.status = 'RUNNING'")
        if config is None or trained(run, config)
    ]
    for run in runs:
        client.set_tag(run.info.run_id, "error", reason)
        client.set_tag(run.info.run_id, "worker_died", "true")
        client.set_terminated(run.info.run_id, "KILLED")
    return [run.info.run_id for run in runs]


@dataclasses.dataclass(frozen=True)
class Trial:
    """One configuration of a sweep, as a Ray worker receives it."""

    task: str
    config: RunConfig
    experiment: str
    parent_run_id: str
    study: str
    tracking_uri: str
    verbose: bool = False
    axes: tuple = ()  # the params the sweep varies, named in the run's label


class _RetracingAcrossRuns(logging.Filter):
    """Drops TensorFlow's "triggered tf.function retracing" warning. Its
    detector counts the new step functions of one Python function across
    models, and every run builds its own model, so a process that trains run
    after run (a Ray worker, a study in one process) warns after the fifth
    whatever each run does."""

    def filter(self, record):
        return "triggered tf.function retracing" not in record.getMessage()


@contextlib.contextmanager
def quiet_training(verbose=False):
    """Keeps a sweep's terminal to its own lines, in the command's process and
    in each Ray trial's, unless `verbose`: no Keras progress bars (the
    per-epoch values are in MLflow), no MLflow INFO lines and no retracing
    warnings counted across runs (`_RetracingAcrossRuns`). Other warnings
    and errors still show."""
    import keras

    if verbose:
        yield
        return
    interactive = keras.config.is_interactive_logging_enabled()
    logger = logging.getLogger("mlflow")
    level = logger.level
    tensorflow_logger, retracing = logging.getLogger("tensorflow"), _RetracingAcrossRuns()
    keras.config.disable_interactive_logging()
    logger.setLevel(logging.WARNING)
    tensorflow_logger.addFilter(retracing)
    try:
        yield
    finally:
        if interactive:
            keras.config.enable_interactive_logging()
        logger.setLevel(level)
        tensorflow_logger.removeFilter(retracing)


def train_trial(trial):
    """Trains `trial` as a child run of its sweep, in a Ray worker.

    An earlier attempt at the same configuration whose worker died (this is
    Ray's retry) left its run RUNNING: it ends KILLED first, with the reason.
    """
    from .tasks import TASKS

    # The driver opened and checked the store; a busy server gets MLflow's own retries.
    mlflow.set_tracking_uri(trial.tracking_uri)
    end_dead_attempts(
        trial.experiment,
        trial.parent_run_id,
        trial.config,
        "its process died before the run ended (killed, out of memory, or its node lost); "
        "the configuration was trained again in a new run",
    )
    with quiet_training(trial.verbose):
        return train_config(
            TASKS[trial.task],
            trial.config,
            trial.experiment,
            trial.study,
            parent_run_id=trial.parent_run_id,
            axes=trial.axes,
        )


def _resumed_parent(task, params, experiment, study):
    """The parent run of the sweep of `study` to resume, checked to be the same
    sweep and to have no process of it left anywhere.

    `open_store` has already ended KILLED (tagged `stale`) the runs whose
    process is gone (on another host: whose heartbeat stopped): a run still
    RUNNING has a live process, here or on another node.
    """
    client = mlflow.MlflowClient()
    found = client.search_runs(
        [experiment],
        f"tags.study = '{study}' and tags.run_kind = 'sweep' and tags.task = '{task.name}'",
        order_by=["attributes.start_time DESC"],
        max_results=1,
    )
    if not found:
        raise SweepError(
            f"no sweep of --task {task.name} in study {study!r} to resume; "
            "run it without --resume first"
        )
    [parent] = found
    running = [
        run
        for run in [
            parent,
            *_children(experiment, parent.info.run_id, " and attributes.status = 'RUNNING'"),
        ]
        if run.info.status == "RUNNING"
    ]
    if running:
        processes = sorted(
            {
                f"{process.get('pid', '?')} on {process.get('host', '?')}"
                for process in map(run_process, (run.data.tags for run in running))
            }
        )
        raise SweepError(
            f"the sweep of study {study!r} is still running: process(es) "
            f"{', '.join(processes)}; resume once they have ended"
        )
    changed = sorted(
        name for name, value in params.items() if parent.data.params.get(name) != str(value)
    )
    if changed:
        raise SweepError(
            f"study {study!r} was swept with other options ({', '.join(changed)} "
            "differ); resume with the options it was started with"
        )
    if "stale" in parent.data.tags:  # its driver died; this command carries it on
        client.delete_tag(parent.info.run_id, "stale")
    return parent.info.run_id


def _duration(seconds):
    minutes, seconds = divmod(round(seconds), 60)
    return f"{minutes}m{seconds:02d}s"


def sweep_params(configs, grid):
    """The parent run's params: what every configuration shares, and the grid."""
    shared = {
        key: value
        for key, value in configs[0].items()
        if key not in grid and all(config.get(key) == value for config in configs)
    }
    return {
        **shared,
        **{f"sweep_{name}": ",".join(map(str, values)) for name, values in grid.items()},
        "sweep_runs": len(configs),
    }


@dataclasses.dataclass(frozen=True)
class Sweep:
    """The configurations of one task (from `sweep_configs(task, base, grid)`)
    to train as children of one parent run, tagged `study`; with `resume`, the
    sweep of `study` carried on under its parent."""

    task: object
    configs: list
    grid: dict
    experiment: str
    study: str
    resume: bool = False


def run_seconds(sweeps):
    """The estimated seconds of each run of `sweeps` (`Task.estimated_run_seconds`),
    which decide whether they train on Ray (`engine.connector`)."""
    return [
        sweep.task.estimated_run_seconds(config) for sweep in sweeps for config in sweep.configs
    ]


def open_and_prepare(task, config, experiment=None):
    """Everything that can fail before training, checked before anything is
    logged: the store opens and the task's data is ready. Returns the id of
    `experiment` (default: the task's own)."""
    from .tracking import store

    store.open_store()
    task.prepare(config)
    return store.experiment_id(experiment or task.experiment_name)


def prepared_sweep(task, base, grid, experiment, study, resume=False):
    """The `Sweep` of `grid` over `base`, every configuration checked (a
    ValueError names what `task` refuses) and the data prepared, before any
    run is logged and before any trial starts."""
    configs = sweep_configs(task, base, grid)
    experiment = open_and_prepare(task, configs[0], experiment)
    return Sweep(task, configs, grid, experiment, study, resume)


def quick_sweeps(tasks, study, data_dir=None, loop=None):
    """The quick comparison's sweeps: each of `tasks` over its quick norms at
    its quick settings, one seed, every task's data prepared before any runs."""
    from .config import base_config

    sweeps = []
    for task in tasks:
        base = base_config(task, quick=True, data_dir=data_dir, loop=loop)
        grid = {
            "seed": [0],
            "batch_size": [base["batch_size"]],
            "lr": [base["lr"]],
            "norm": list(task.quick_norms),
        }
        sweeps.append(prepared_sweep(task, base, grid, None, study))
    return sweeps


def _open_parent(sweep):
    """Starts the parent run of `sweep` (resuming, takes its parent back) and
    leaves it RUNNING, with this process's tags and a first heartbeat, for
    `_end_parent`; returns its id and the configurations to train.

    The parents of several sweeps are open at once, which MLflow's active run
    (one per thread) cannot hold: they are started through the client.
    """
    client = mlflow.MlflowClient()
    params = sweep_params(sweep.configs, sweep.grid)
    tags = {**live_tags(), "study": sweep.study, "run_kind": "sweep", "task": sweep.task.name}
    if sweep.resume:
        parent_id = _resumed_parent(sweep.task, params, sweep.experiment, sweep.study)
        done = {
            trained_identity(sweep.task, run)
            for run in _children(sweep.experiment, parent_id, " and attributes.status = 'FINISHED'")
        }
        todo = [config for config in sweep.configs if config.identity() not in done]
        print(
            f"Resuming sweep {parent_id}: {len(sweep.configs) - len(todo)} of "
            f"{len(sweep.configs)} configurations already FINISHED",
            flush=True,
        )
        client.log_batch(parent_id, tags=[RunTag(name, value) for name, value in tags.items()])
        client.update_run(parent_id, status="RUNNING")
        return parent_id, todo
    description = sweep_description(sweep.task, sweep.configs, sweep.grid, sweep.study)
    # The by-norm view of this study, there while the sweep trains.
    ui_links.publish_norm_view(
        sweep.experiment, sweep.task.report_view(sweep.configs[0]["dataset"]), sweep.study
    )
    run = client.create_run(
        sweep.experiment,
        run_name=f"{sweep.task.name} sweep · {sweep.study}",
        tags=resolve_tags({**tags, MLFLOW_RUN_NOTE: description}),
    )
    client.log_batch(
        run.info.run_id, params=[Param(name, str(value)) for name, value in params.items()]
    )
    return run.info.run_id, sweep.configs


def _summarize(parent_id, sweep):
    """Logs the report and per-norm aggregates of `sweep`'s study to its parent
    run. A failure to do so is reported in one line and the sweep goes on: its
    runs are trained, and `report` rebuilds the report from them."""
    from .report import parent_run

    try:
        parent_run.summarize(sweep.task, sweep.experiment, parent_id, sweep.study)
    except Exception as error:  # MLflow and the report raise many kinds
        print(
            f"The report of sweep {parent_id} was not logged to it: "
            f"{type(error).__name__}: {str(error)[:300]}",
            flush=True,
        )


def _end_parent(parent_id, heartbeat, error=None):
    """Stops the `heartbeat` of the parent run `parent_id` and ends the run
    FINISHED, or as a run ends on `error`: FAILED, or KILLED on an
    interruption, with the error as a tag."""
    heartbeat.stop()
    try:
        with tracked_run(None, None, {}, {}, resume_run_id=parent_id):
            if error is not None:
                raise error
    except BaseException as raised:
        if raised is not error:
            raise


def _in_process(trials, tasks):
    """Trains `trials` one after the other here (`tasks`: each parent run's
    task); yields `(trial, run id or None, error)`."""
    for trial in trials:
        try:
            run_id = train_config(
                tasks[trial.parent_run_id],
                trial.config,
                trial.experiment,
                trial.study,
                parent_run_id=trial.parent_run_id,
                axes=trial.axes,
            )
            yield trial, run_id, None
        except Exception as error:  # the child is FAILED with it; go on with the rest
            yield trial, None, error


def _on_ray(trials, resources):
    """Trains `trials` as Ray tasks, all submitted at once; yields
    `(trial, run id or None, error)` as each ends."""
    from . import engine

    with contextlib.closing(engine.run_trials(train_trial, trials, resources)) as outcomes:
        for trial, run_id, error in outcomes:
            if isinstance(error, engine.TrialLost):
                end_dead_attempts(
                    trial.experiment,
                    trial.parent_run_id,
                    trial.config,
                    f"its worker died on each of {engine.MAX_RETRIES + 1} attempts: {error}",
                )
            yield trial, run_id, error


def _score(run_id, metric):
    """The value of `metric` that run `run_id` logged (None if it did not),
    and the run's duration in seconds."""
    run = mlflow.MlflowClient().get_run(run_id)
    return run.data.metrics.get(metric), (run.info.end_time - run.info.start_time) / 1000


def results_table(outcomes):
    """The end of a sweep: per configuration (a run's label without its seed),
    the primary metric's mean and standard deviation over the runs that
    finished, and how many diverged or failed. `outcomes`: (configuration
    label, metric name, value or None, "done" | "diverged" | "failed")."""
    groups = {}
    for label, name, value, status in outcomes:
        groups.setdefault((label, name), []).append((value, status))
    width = max([44, *(len(label) for label, _ in groups)])
    lines = [f"{'configuration':<{width}} {'metric':<16} {'mean':>9} {'std':>8}  runs"]
    for (label, name), results in groups.items():
        values = [value for value, status in results if status == "done" and value is not None]
        mean = f"{statistics.fmean(values):.4g}" if values else "-"
        spread = f"{statistics.stdev(values):.2g}" if len(values) > 1 else "-"
        counts = f"{len(results)}" + "".join(
            f", {sum(s == status for _, s in results)} {status}"
            for status in ("diverged", "failed")
            if any(s == status for _, s in results)
        )
        lines.append(f"{label:<{width}} {name:<16} {mean:>9} {spread:>8}  {counts}")
    return "\n".join(lines)


def _ended(trial, run_id, error, metric):
    """(what to say of a trial that ended, its status: done, diverged or
    failed, and its `metric`, None unless done)."""
    name = run_label(trial.config, trial.axes)
    if error is None:
        value, seconds = _score(run_id, metric)
        score = f"{value:.4g}" if value is not None else "not logged"
        return f"done: {name}: {metric} {score} in {_duration(seconds)}", "done", value
    if isinstance(error, TrainingDiverged):
        return f"diverged: {error} ({name})", "diverged", None
    return f"failed: {type(error).__name__}: {error} ({name})", "failed", None


def _train(trials, tasks, resources):
    """Trains `trials` (see `run_sweeps`), printing a line as each run ends
    (its primary metric and time, the time left), then the results table;
    returns the labels of the failed runs, by parent run."""
    if resources is None:
        outcomes = _in_process(trials, tasks)
    else:
        print(
            f"\n=== {len(trials)} runs, {resources.workers} at once, {resources.cpus} CPU(s) each",
            flush=True,
        )
        outcomes = _on_ray(trials, resources)
    failed = {parent_id: [] for parent_id in tasks}
    results = []
    start = time.perf_counter()
    # Closed on an interruption too, before the sweep's runs are ended: the
    # trials in flight are stopped first.
    with contextlib.closing(outcomes):
        for index, (trial, run_id, error) in enumerate(outcomes, 1):
            elapsed = time.perf_counter() - start
            left = len(trials) - index
            eta = f", about {_duration(elapsed / index * left)} left" if left else ""
            view = tasks[trial.parent_run_id].report_view(trial.config["dataset"])
            metric = view.table_metrics[0]
            text, status, value = _ended(trial, run_id, error, metric)
            progress = f" ({_duration(elapsed)} elapsed{eta})" if status == "done" else ""
            print(f"=== run {index}/{len(trials)} {text}{progress}", flush=True)
            if status == "failed":
                failed[trial.parent_run_id].append(run_label(trial.config, trial.axes))
            results.append((configuration_label(trial.config, trial.axes), metric, value, status))
    diverged = sum(status == "diverged" for *_, status in results)
    print(
        f"\n=== sweep done: {len(trials)} runs in {_duration(time.perf_counter() - start)}"
        + (f", {diverged} diverged" if diverged else ""),
        flush=True,
    )
    if results:
        print(results_table(results), flush=True)
    return failed


def run_sweeps(sweeps, resources=None, verbose=False):
    """Trains the configurations of every `Sweep`, each sweep's as children of
    its own parent run: here one after the other, or all at once on Ray with
    `resources` (`engine.Resources`), submitted in the order given (longest
    first, and parallel workers end together).

    A diverged child ends FAILED, tagged `diverged`: a finding the report
    counts, and the sweep goes on. Any other failed child also ends FAILED and
    the others go on, but then its sweep's parent ends FAILED too, and once
    every run has ended this raises `SweepError` naming them. Returns the
    parent runs' ids, in the order of `sweeps`. With `verbose`, the training
    processes print Keras's progress bars and MLflow's INFO lines too.
    """
    with quiet_training(verbose):
        return _run_sweeps(sweeps, resources, verbose)


def _run_sweeps(sweeps, resources, verbose):
    parents = {}  # parent run id -> (its sweep, the configurations to train)
    running = {}  # the parents not ended yet -> their heartbeats
    try:
        for sweep in sweeps:
            parent_id, configs = _open_parent(sweep)
            parents[parent_id] = sweep, configs
            running[parent_id] = Heartbeat(parent_id)
        uri = mlflow.get_tracking_uri()
        trials = [
            Trial(
                sweep.task.name,
                config,
                sweep.experiment,
                parent_id,
                sweep.study,
                uri,
                verbose,
                varying(sweep.grid),
            )
            for parent_id, (sweep, configs) in parents.items()
            for config in configs
        ]
        failed = _train(
            trials, {parent_id: sweep.task for parent_id, (sweep, _) in parents.items()}, resources
        )
        errors = []
        for parent_id, (sweep, configs) in parents.items():
            error = None
            if failed[parent_id]:
                error = SweepError(
                    f"{len(failed[parent_id])} of {len(configs)} runs failed: "
                    f"{', '.join(failed[parent_id])}"
                )
                errors.append(f"{sweep.task.name}: {error}" if len(sweeps) > 1 else str(error))
            _summarize(parent_id, sweep)
            _end_parent(parent_id, running.pop(parent_id), error)
    except BaseException as error:  # interrupted, or the store failed: no run left RUNNING
        for parent_id in list(running):
            if resources is not None:  # a trial whose worker was killed could not end its run
                sweep, _ = parents[parent_id]
                killed_runs.extend(
                    end_dead_attempts(
                        sweep.experiment,
                        parent_id,
                        None,
                        f"its worker was killed: the sweep was {describe(error)}",
                    )
                )
            _end_parent(parent_id, running.pop(parent_id), error)
        raise
    if errors:
        raise SweepError("; ".join(errors))
    return list(parents)
