"""Where parallel workers start to pay: small sweeps with one worker against
two Ray workers.

Runs `python -m experiments sweep --task T --quick --norms none --seeds N`
with `--workers 1` (the runs one after the other in the command's process)
and with `--workers 2` (a local Ray instance, one trial per core), for each
task and grid size, each into a temporary MLflow store; the modes
interleaved, median over rounds. Ray's start, each worker's imports and the
trials' dispatch cost a sweep a few seconds whatever its size, which a short
grid does not win back: the table shows the crossover, and
`render.py` checks the rule the default workers follow
(`engine.parallel_pays`, from the task's estimate of a run's seconds)
against it.

Ray binds the machine's network address; to keep it on loopback (a shared
machine), run it in a network namespace of its own:

    unshare --net sh -c 'ip link set lo up && exec .venv/bin/python \\
        benchmarks/bench_sweep_workers.py [--grids rl:1,2,4,8,16 cnn:1,2,4,8]'
"""

import argparse
import statistics
import tempfile
from pathlib import Path

from keras_norms_experiments.tasks import TASKS
from suite_command import timed_suite_command

MODES = {"1 worker": "1", "2 workers": "2"}


def grid(text):
    """`task:N,N,...` -> (task, [N, ...])."""
    task, sizes = text.split(":")
    return task, [int(size) for size in sizes.split(",")]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--grids", nargs="+", type=grid, default=[grid("rl:1,2,4,8,16"), grid("cnn:1,2,4,8")]
    )
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()

    cells = [(name, runs) for name, sizes in args.grids for runs in sizes]
    times = {(cell, mode): [] for cell in cells for mode in MODES}
    with tempfile.TemporaryDirectory() as scratch:
        for round_ in range(args.repeats):
            for name, runs in cells:
                for mode, workers in MODES.items():
                    directory = Path(scratch) / f"{round_}-{name}-{runs}-{workers}"
                    directory.mkdir()
                    command = ["sweep", "--task", name, "--quick", "--norms", "none"]
                    command += ["--seeds", str(runs), "--workers", workers]
                    wall = timed_suite_command(command, directory, report=False)
                    times[(name, runs), mode].append(wall)
                    print(f"round {round_ + 1}, {name} x {runs}, {mode}: {wall:.1f} s", flush=True)

    from timing import save  # loads Keras: after the runs, which need no Keras here

    rows = []
    for name, runs in cells:
        one, two = (statistics.median(times[(name, runs), mode]) for mode in MODES)
        rows.append(
            [
                name,
                runs,
                TASKS[name].quick_run_seconds,
                f"{one:.1f}",
                f"{two:.1f}",
                f"{one / two:.2f}",
            ]
        )
    header = ["task", "runs", "estimated s per run", *(f"wall s {m}" for m in MODES), "speed-up"]
    save("sweep_workers", args.repeats, {"small sweeps": (header, rows)})


if __name__ == "__main__":
    main()
