"""Runs one configuration, or a sweep of them, each as an MLflow run."""

import itertools
import time

from experiments import tracking
from experiments.errors import SweepError


def run_label(config):
    return (f"{config['task']}-{config['norm']}-bs{config['batch_size']}"
            f"-lr{config['lr']:g}-s{config['seed']}")


def train_one(task, config, experiment, study, nested=False):
    """Trains `config` in its own MLflow run; returns the run id."""
    tags = {"study": study, "run_kind": "train", "task": task.name}
    with tracking.tracked_run(experiment, run_label(config), config, tags, nested=nested) as run:
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


def sweep(task, base, grid, experiment, study):
    """Trains every configuration of `grid` as a child of one parent run.

    A failed child is marked FAILED and the sweep goes on; the parent then ends
    FAILED too. Prints `run i/N` and the estimated time left. Returns the
    parent run's id.
    """
    configs = sweep_configs(task, base, grid)
    params = {**{k: v for k, v in base.items() if k not in grid},
              **{f"sweep_{name}": ",".join(map(str, values)) for name, values in grid.items()},
              "sweep_runs": len(configs)}
    tags = {"study": study, "run_kind": "sweep", "task": task.name}
    failed = []
    with tracking.tracked_run(experiment, f"sweep-{study}", params, tags) as parent:
        start = time.perf_counter()
        for index, config in enumerate(configs):
            elapsed = time.perf_counter() - start
            eta = f", about {_duration(elapsed / index * (len(configs) - index))} left" if index else ""
            print(f"\n=== run {index + 1}/{len(configs)}: {run_label(config)} "
                  f"({_duration(elapsed)} elapsed{eta})", flush=True)
            try:
                train_one(task, config, experiment, study, nested=True)
            except Exception as error:  # the child is FAILED with it; go on with the rest
                print(f"run {index + 1}/{len(configs)} failed: {type(error).__name__}: {error}")
                failed.append(run_label(config))
        print(f"\n=== sweep done: {len(configs)} runs in "
              f"{_duration(time.perf_counter() - start)}", flush=True)
        if failed:
            raise SweepError(f"{len(failed)} of {len(configs)} runs failed: {', '.join(failed)}")
    return parent.info.run_id
