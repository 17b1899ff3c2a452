"""Runs configurations, each in its own MLflow run.

A sweep is a list of fully specified configurations (`sweep_configs`), each
trained by one call of `train_config` that opens and closes its own run as a
child of a known parent run, so the calls can run anywhere the store is
reachable: in this process one after the other, or several at once as Ray
tasks (`experiments.engine`).

Each child carries the tag `config_digest`, a digest of its whole
configuration, so a configuration is recognised across the attempts of a
retried trial and across a resumed sweep.
"""

import dataclasses
import hashlib
import itertools
import json
import time

import mlflow

from experiments.errors import SweepError, TrainingDiverged
from experiments.tracking.runs import tracked_run

DIGEST_TAG = "config_digest"


def _short_number(value):
    """1e-3 for 0.001, 2.5e-4 for 0.00025: learning rates as people write them."""
    mantissa, exponent = f"{value:.3e}".split("e")
    return f"{mantissa.rstrip('0').rstrip('.')}e{int(exponent)}"


def run_label(config):
    """A run's name in the MLflow UI: "cnn · batch · bs64 · lr1e-3 · seed 0"."""
    return (f"{config['task']} · {config['norm']} · bs{config['batch_size']} "
            f"· lr{_short_number(config['lr'])} · seed {config['seed']}")


def sweep_description(task, configs, grid, study):
    """The sweep's parent run description in the MLflow UI (Markdown)."""
    axes = "; ".join(f"{name}: {', '.join(map(str, values))}" for name, values in grid.items())
    return (f"**{task.name} sweep** of {len(configs)} runs, one per combination of {axes}. "
            f"Study `{study}`; each run is a child of this one.")


def config_digest(config):
    text = json.dumps(config, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def train_config(task, config, experiment, study, parent_run_id=None):
    """Trains `config` in its own MLflow run (a child of `parent_run_id` when
    given); returns the run id. The run ends FAILED (and this raises) when
    training fails or diverges."""
    tags = {"study": study, "run_kind": "train", "task": task.name,
            DIGEST_TAG: config_digest(config)}
    with tracked_run(experiment, run_label(config), config, tags,
                     parent_run_id=parent_run_id, description=task.describe(config)) as run:
        task.run(config)
    return run.info.run_id


def sweep_configs(task, base, grid):
    """Every combination of `grid` (param -> values) applied to `base`, each
    completed by `task.configure` (which raises ValueError to refuse one).

    The last param varies fastest, so with norms last each norm's runs are
    spread over the sweep rather than bunched at its end.
    """
    names = list(grid)
    return [task.configure({**base, **dict(zip(names, values))})
            for values in itertools.product(*(grid[name] for name in names))]


def _children(experiment, parent_run_id, extra=""):
    query = f"tags.`mlflow.parentRunId` = '{parent_run_id}'{extra}"
    return mlflow.MlflowClient().search_runs([experiment], query, max_results=50_000)


def end_dead_attempts(experiment, parent_run_id, digest, reason):
    """Ends KILLED, with `reason` as the tag `error` and the tag `worker_died`,
    every RUNNING child of the sweep for configuration `digest`: each was left
    by an attempt whose process died. Returns their run ids."""
    client = mlflow.MlflowClient()
    runs = _children(experiment, parent_run_id,
                     f" and tags.{DIGEST_TAG} = '{digest}' and attributes.status = 'RUNNING'")
    for run in runs:
        client.set_tag(run.info.run_id, "error", reason)
        client.set_tag(run.info.run_id, "worker_died", "true")
        client.set_terminated(run.info.run_id, "KILLED")
    return [run.info.run_id for run in runs]


@dataclasses.dataclass(frozen=True)
class Trial:
    """One configuration of a sweep, as a Ray worker receives it."""

    task: str
    config: dict
    experiment: str
    parent_run_id: str
    study: str
    tracking_uri: str


def train_trial(trial):
    """Trains `trial` as a child run of its sweep, in a Ray worker.

    An earlier attempt at the same configuration whose worker died (this is
    Ray's retry) left its run RUNNING: it ends KILLED first, with the reason.
    """
    from experiments.tasks import TASKS

    # The driver opened and checked the store; a busy server gets MLflow's own retries.
    mlflow.set_tracking_uri(trial.tracking_uri)
    end_dead_attempts(
        trial.experiment, trial.parent_run_id, config_digest(trial.config),
        "its process died before the run ended (killed, out of memory, or its node lost); "
        "the configuration was trained again in a new run")
    return train_config(TASKS[trial.task], trial.config, trial.experiment, trial.study,
                        parent_run_id=trial.parent_run_id)


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
        order_by=["attributes.start_time DESC"], max_results=1)
    if not found:
        raise SweepError(f"no sweep of --task {task.name} in study {study!r} to resume; "
                         "run it without --resume first")
    [parent] = found
    running = [run for run in [parent, *_children(experiment, parent.info.run_id,
                                                   " and attributes.status = 'RUNNING'")]
               if run.info.status == "RUNNING"]
    if running:
        processes = sorted({f"{run.data.tags.get('pid', '?')} on {run.data.tags.get('host', '?')}"
                            for run in running})
        raise SweepError(
            f"the sweep of study {study!r} is still running: process(es) "
            f"{', '.join(processes)}; resume once they have ended")
    changed = sorted(name for name, value in params.items()
                     if parent.data.params.get(name) != str(value))
    if changed:
        raise SweepError(f"study {study!r} was swept with other options ({', '.join(changed)} "
                         "differ); resume with the options it was started with")
    if "stale" in parent.data.tags:  # its driver died; this command carries it on
        client.delete_tag(parent.info.run_id, "stale")
    return parent.info.run_id


def _in_process(task, configs, experiment, study, parent_run_id):
    """Trains `configs` one after the other here; yields `(config, error)`."""
    for config in configs:
        try:
            train_config(task, config, experiment, study, parent_run_id=parent_run_id)
            yield config, None
        except Exception as error:  # the child is FAILED with it; go on with the rest
            yield config, error


def _on_ray(task, configs, experiment, study, parent_run_id, resources):
    """Trains `configs` as Ray tasks; yields `(config, error)` as each ends."""
    from experiments import engine

    trials = [Trial(task.name, config, experiment, parent_run_id, study,
                    mlflow.get_tracking_uri()) for config in configs]
    for trial, _, error in engine.run_trials(train_trial, trials, resources):
        if isinstance(error, engine.TrialLost):
            end_dead_attempts(
                experiment, parent_run_id, config_digest(trial.config),
                f"its worker died on each of {engine.MAX_RETRIES + 1} attempts: {error}")
        yield trial.config, error


def _duration(seconds):
    minutes, seconds = divmod(round(seconds), 60)
    return f"{minutes}m{seconds:02d}s"


def sweep_params(configs, grid):
    """The parent run's params: what every configuration shares, and the grid."""
    shared = {key: value for key, value in configs[0].items()
              if key not in grid and all(config.get(key) == value for config in configs)}
    return {**shared,
            **{f"sweep_{name}": ",".join(map(str, values)) for name, values in grid.items()},
            "sweep_runs": len(configs)}


def sweep(task, configs, grid, experiment, study, resources=None, resume=False):
    """Trains `configs` (from `sweep_configs(task, base, grid)`) as children of
    one parent run: here one after the other, or on Ray with `resources`
    (`engine.Resources`), several at once.

    With `resume`, continues the sweep of `study` under its parent, training
    only the configurations without a FINISHED child.
    A diverged child ends FAILED, tagged `diverged`: a finding the report
    counts, and the sweep goes on. Any other failed child also ends FAILED and
    the sweep goes on, but then its parent ends FAILED too and this raises
    `SweepError`. Prints each run's end and the estimated time left. Returns
    the parent run's id.
    """
    params = sweep_params(configs, grid)
    parent_id = None
    if resume:
        parent_id = _resumed_parent(task, params, experiment, study)
        done = {run.data.tags.get(DIGEST_TAG) for run in _children(
            experiment, parent_id, " and attributes.status = 'FINISHED'")}
        todo = [config for config in configs if config_digest(config) not in done]
        print(f"Resuming sweep {parent_id}: {len(configs) - len(todo)} of {len(configs)} "
              "configurations already FINISHED", flush=True)
        configs = todo
    tags = {"study": study, "run_kind": "sweep", "task": task.name}
    failed, diverged = [], []
    with tracked_run(experiment, f"{task.name} sweep · {study}", params, tags,
                     description=sweep_description(task, configs, grid, study),
                     resume_run_id=parent_id) as parent:
        if resources is None:
            outcomes = _in_process(task, configs, experiment, study, parent.info.run_id)
        else:
            print(f"\n=== {len(configs)} runs, {resources.workers} at once, "
                  f"{resources.cpus} CPU(s) each", flush=True)
            outcomes = _on_ray(task, configs, experiment, study, parent.info.run_id, resources)
        start = time.perf_counter()
        for index, (config, error) in enumerate(outcomes, 1):
            elapsed = time.perf_counter() - start
            left = len(configs) - index
            eta = f", about {_duration(elapsed / index * left)} left" if left else ""
            label = f"run {index}/{len(configs)}"
            if error is None:
                print(f"=== {label} done: {run_label(config)} "
                      f"({_duration(elapsed)} elapsed{eta})", flush=True)
            elif isinstance(error, TrainingDiverged):
                print(f"=== {label} diverged: {error} ({run_label(config)})", flush=True)
                diverged.append(run_label(config))
            else:
                print(f"=== {label} failed: {type(error).__name__}: {error} "
                      f"({run_label(config)})", flush=True)
                failed.append(run_label(config))
        print(f"\n=== sweep done: {len(configs)} runs in "
              f"{_duration(time.perf_counter() - start)}"
              + (f", {len(diverged)} diverged" if diverged else ""), flush=True)
        if failed:
            raise SweepError(f"{len(failed)} of {len(configs)} runs failed: {', '.join(failed)}")
    return parent.info.run_id
