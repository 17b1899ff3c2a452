"""Runs configurations, each in its own MLflow run.

A sweep is a list of fully specified configurations (`sweep_configs`), each
trained by one call of `train_config` that opens and closes its own run as a
child of a known parent run, so the calls can run anywhere the store is
reachable.
"""

import itertools
import time

from experiments.errors import SweepError, TrainingDiverged
from experiments.tracking.runs import tracked_run


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


def train_config(task, config, experiment, study, parent_run_id=None):
    """Trains `config` in its own MLflow run (a child of `parent_run_id` when
    given); returns the run id. The run ends FAILED (and this raises) when
    training fails or diverges."""
    tags = {"study": study, "run_kind": "train", "task": task.name}
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


def sweep(task, configs, grid, experiment, study):
    """Trains `configs` (from `sweep_configs(task, base, grid)`) as children of
    one parent run.

    A diverged child ends FAILED, tagged `diverged`: a finding the report
    counts, and the sweep goes on. Any other failed child also ends FAILED and
    the sweep goes on, but then its parent ends FAILED too and this raises
    `SweepError`. Prints `run i/N` and the estimated time left. Returns the
    parent run's id.
    """
    tags = {"study": study, "run_kind": "sweep", "task": task.name}
    failed, diverged = [], []
    with tracked_run(experiment, f"{task.name} sweep · {study}", sweep_params(configs, grid),
                     tags, description=sweep_description(task, configs, grid, study)) as parent:
        start = time.perf_counter()
        for index, config in enumerate(configs):
            elapsed = time.perf_counter() - start
            left = elapsed / index * (len(configs) - index) if index else None
            eta = f", about {_duration(left)} left" if index else ""
            print(f"\n=== run {index + 1}/{len(configs)}: {run_label(config)} "
                  f"({_duration(elapsed)} elapsed{eta})", flush=True)
            try:
                train_config(task, config, experiment, study, parent_run_id=parent.info.run_id)
            except TrainingDiverged as error:
                print(f"run {index + 1}/{len(configs)} diverged: {error}", flush=True)
                diverged.append(run_label(config))
            except Exception as error:  # the child is FAILED with it; go on with the rest
                print(f"run {index + 1}/{len(configs)} failed: {type(error).__name__}: {error}",
                      flush=True)
                failed.append(run_label(config))
        print(f"\n=== sweep done: {len(configs)} runs in "
              f"{_duration(time.perf_counter() - start)}"
              + (f", {len(diverged)} diverged" if diverged else ""), flush=True)
        if failed:
            raise SweepError(f"{len(failed)} of {len(configs)} runs failed: {', '.join(failed)}")
    return parent.info.run_id
