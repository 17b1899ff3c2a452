"""How much of a study's wall time its workers spend training, and how much
outside it.

Runs `python -m experiments study NAME --scale small` (the default workers)
into a temporary MLflow store, times the command, then reads its runs. A
run's training time is the sum of its epochs' times as it logged them
(`epoch_time_s`: fit and validation), its first epoch counted at the median
of the later ones: what the first costs beyond them (tracing the step,
compiling it under XLA) is start-up. Outside training is every other
worker-second of the study (wall time x workers): process and Ray start,
imports, data, building the model, start-up, test scoring, MLflow and model
logging, and workers idle while the last runs finish. It is shown in three
parts: start-up; the rest of the runs' time (data, the model, test scoring,
logging); and the time outside any run (process and Ray start, idle workers).

Ray binds the machine's network address; to keep it on loopback (a shared
machine), run it in a network namespace of its own:

    unshare --net sh -c 'ip link set lo up && exec .venv/bin/python \\
        benchmarks/bench_study_overhead.py [--studies style-shift,text]'
"""

import argparse
import statistics
import tempfile

from keras_norms_experiments.engine import local_workers
from keras_norms_experiments.studies import STUDIES
from keras_norms_experiments.tasks import TASKS
from suite_command import timed_suite_command


def training_and_start_up(epoch_times):
    """A run's (training, start-up) seconds from its epochs' times: the first
    epoch counted at the median of the later ones, its excess start-up."""
    if len(epoch_times) < 2:
        return sum(epoch_times), 0.0
    steady = statistics.median(epoch_times[1:])
    return steady + sum(epoch_times[1:]), epoch_times[0] - steady


def study_runs(directory, name):
    """(seconds from start to end, training seconds, start-up seconds) of each
    of the study's training runs in the store in `directory`."""
    import mlflow

    client = mlflow.MlflowClient(f"sqlite:///{directory}/mlflow.db")
    experiments = [e.experiment_id for e in client.search_experiments()]
    found = client.search_runs(
        experiments, f"tags.study = '{name}' and tags.run_kind = 'train'", max_results=10_000
    )
    timed = []
    for run in found:
        history = sorted(
            client.get_metric_history(run.info.run_id, "epoch_time_s"), key=lambda m: m.step
        )
        duration = (run.info.end_time - run.info.start_time) / 1000
        timed.append((duration, *training_and_start_up([m.value for m in history])))
    return timed


def table_row(name, workers, wall, timed):
    """The study's row: how its workers' time (`wall` x `workers`) divides,
    from its runs' `timed` (duration, training, start-up) seconds."""
    capacity = wall * workers
    in_runs, training, start_up = (sum(column) for column in zip(*timed))

    def share(seconds):
        return f"{100 * seconds / capacity:.0f}"

    return [
        name,
        len(timed),
        workers,
        f"{wall:.0f}",
        share(training),
        share(capacity - training),
        share(start_up),
        share(in_runs - training - start_up),
        share(capacity - in_runs),
        f"{training / len(timed):.1f}",
        f"{(capacity - training) / len(timed):.1f}",
    ]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--studies",
        default="style-shift",
        help="comma-separated studies to run at small scale (default: style-shift, the "
        "shortest runs, where a run's fixed costs weigh most)",
    )
    args = parser.parse_args()

    rows = []
    for name in args.studies.split(","):
        workers = local_workers(TASKS[STUDIES[name].task].trial_memory_bytes)
        with tempfile.TemporaryDirectory() as directory:
            wall = timed_suite_command(["study", name, "--scale", "small"], directory)
            timed = study_runs(directory, name)
        rows.append(table_row(name, workers, wall, timed))
        print(f"{name}: {wall:.0f} s, {len(timed)} runs", flush=True)

    from timing import save  # loads Keras: after the runs, which need no Keras here

    header = [
        "study",
        "runs",
        "workers",
        "wall s",
        "training %",
        "outside training %",
        "of which start-up %",
        "rest of the runs %",
        "outside the runs %",
        "training s per run",
        "outside s per run",
    ]
    save("study_overhead", 1, {"study at small scale": (header, rows)})


if __name__ == "__main__":
    main()
