"""The quick comparison with one worker (the runs one after the other in one
process) against the default workers (one Ray worker per core, as memory allows).

Runs `python -m experiments quick` once per mode and round, the modes
interleaved, each into a temporary MLflow store; records the median wall
time of each mode, the speed-up, and the largest difference of a final
metric for the same configuration and seed: between two rounds of one mode
(is a mode deterministic?) and against one worker whose TensorFlow runs on
one core, as a Ray trial's does (parallel trials must not change the
results; TensorFlow on two cores sums in another order, and training
carries that rounding into every figure).

Ray binds the machine's network address; to keep it on loopback (a shared
machine), run it in a network namespace of its own:

    unshare --net sh -c 'ip link set lo up && exec .venv/bin/python \\
        benchmarks/bench_quick_workers.py [--tasks cnn] [--repeats 2]'
"""

import argparse
import math
import statistics
import tempfile
from pathlib import Path

from keras_norms_experiments.engine import local_workers
from keras_norms_experiments.tasks.base import Task
from suite_command import timed_suite_command

# name: (options, environment). One worker, its TensorFlow on every core or,
# as a Ray trial's, on one; and the default: as many as the machine fits.
ONE_CORE = "1 worker, TensorFlow on 1 core"
MODES = {
    "1 worker": (["--workers", "1"], {}),
    ONE_CORE: (["--workers", "1"], {"TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": "1"}),
    f"default ({local_workers(Task.trial_memory_bytes)} workers)": ([], {}),
}


def final_metrics(directory):
    """(task, norm, batch_size, lr, seed, metric) -> value of every finished child run."""
    import mlflow

    client = mlflow.MlflowClient(f"sqlite:///{directory}/mlflow.db")
    experiments = [e.experiment_id for e in client.search_experiments()]
    values = {}
    for run in client.search_runs(experiments, "tags.run_kind = 'train'"):
        key = tuple(run.data.params[p] for p in ("task", "norm", "batch_size", "lr", "seed"))
        for metric, value in run.data.metrics.items():
            # Timings differ by nature; the results are what must agree.
            if metric.startswith("test_") or metric in ("fid", "kid"):
                values[key + (metric,)] = value
    return values


def largest_difference(first, second):
    """The largest difference of a final metric between two stores' runs,
    or None when they did not finish the same runs."""
    if set(first) != set(second):
        return None
    return max(
        (
            abs(first[k] - second[k])
            for k in first
            if math.isfinite(first[k]) and math.isfinite(second[k])
        ),
        default=0.0,
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", default="cnn,rnn,gan,translate")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()

    times = {mode: [] for mode in MODES}
    results = {mode: [] for mode in MODES}
    with tempfile.TemporaryDirectory() as scratch:
        for round_ in range(args.repeats):
            for index, (mode, (options, environment)) in enumerate(MODES.items()):
                directory = Path(scratch) / f"{round_}-{index}"
                directory.mkdir()
                times[mode].append(
                    timed_suite_command(
                        ["quick", "--tasks", args.tasks, *options], directory, environment
                    )
                )
                results[mode].append(final_metrics(directory))
                print(f"round {round_ + 1}, {mode}: {times[mode][-1]:.0f} s", flush=True)

    from timing import save  # loads Keras: after the runs, which need no Keras here

    single = next(iter(MODES))
    medians = {mode: statistics.median(ts) for mode, ts in times.items()}

    def agreement(first, second):
        difference = largest_difference(first, second)
        return "different runs finished" if difference is None else f"{difference:.1e}"

    rows = [
        [
            mode,
            args.tasks,
            f"{medians[mode]:.0f}",
            f"{medians[single] / medians[mode]:.2f}",
            agreement(*results[mode][:2]) if args.repeats > 1 else "-",
            agreement(results[ONE_CORE][0], results[mode][0]),
        ]
        for mode in MODES
    ]
    header = [
        "workers",
        "tasks",
        "wall s",
        "speed-up",
        "vs own other round",
        "vs 1 worker on 1 core",
    ]
    save("quick_workers", args.repeats, {"quick comparison": (header, rows)})


if __name__ == "__main__":
    main()
