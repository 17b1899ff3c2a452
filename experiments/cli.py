"""The command line: python -m experiments {run,sweep,report,quick,study,ui,server} ...
(or the console script keras-norms-experiments).

Each command parses its arguments (`experiments.parsers`) and calls what does
the work: the runs and sweeps (`execution`), Ray (`engine`), the reports, the
studies, the UI and the tracking server (`tracking`). TensorFlow and MLflow
are imported only once a command runs, so every `--help` answers at once.
"""

import contextlib
import os
import sys
import time

from . import parsers
from .errors import ExperimentError, SweepError
from .tasks import TASKS


@contextlib.contextmanager
def _engine(args, tasks):
    """`engine.connector` for the engine options in `args`: a trial asks for
    the memory the largest of `tasks` needs (their `trial_memory_bytes`) unless
    `--memory-per-trial` says; the runs train here one after the other with
    `--workers 1`, on a machine that fits one trial at a time, or by default
    where Ray's start would cost more than parallel workers save."""
    from . import engine
    from .tracking import store

    address = args.ray_address or os.environ.get("RAY_ADDRESS")
    memory = args.memory_per_trial or max(task.trial_memory_bytes for task in tasks)
    workers = args.workers or (
        None if address else engine.local_workers(memory, args.cpus_per_trial or 1)
    )
    request = engine.Request(
        memory=memory, cpus=args.cpus_per_trial, gpus=args.gpus_per_trial, workers=workers
    )
    with engine.connector(
        request,
        address,
        on_start=lambda: store.check_reaches_every_machine(engine.machines()),
        adaptive=not (args.workers or address),
    ) as connect:
        yield connect


def cmd_run(argv):
    task, args, parser = parsers.parse_task_args(
        "run", "Train and evaluate one configuration.", argv
    )
    from . import execution
    from .run_config import RunConfig

    try:
        config = RunConfig.configured(
            task, {**parsers.run_config(task, args), "norm": args.norm, "seed": args.seed}
        )
    except ValueError as error:
        parser.error(str(error))
    experiment = execution.open_and_prepare(task, config, args.experiment)
    run_id = execution.train_config(
        task, config, experiment, args.study or parsers.default_study("run")
    )
    print(f"Run {run_id} finished: see it with `{parsers.PROG} ui`")


def cmd_sweep(argv):
    task, args, parser = parsers.parse_task_args(
        "sweep",
        "Train every combination of norms, batch sizes, learning rates and seeds, "
        "as child runs of one parent run, as many at once as --workers says.",
        argv,
    )
    if args.resume and not args.study:
        parser.error("--resume needs --study NAME: the study of the sweep to continue")
    base = parsers.run_config(task, args)
    grid = {
        "seed": args.seeds,
        "batch_size": args.batch_sizes or [base["batch_size"]],
        "lr": args.lrs or [base["lr"]],
        "norm": args.norms,
    }
    from . import execution

    study = args.study or parsers.default_study("sweep")
    with _engine(args, [task]) as connect:
        try:
            sweep = execution.prepared_sweep(
                task, base, grid, args.experiment, study, resume=args.resume
            )
        except ValueError as error:  # refused before anything is logged
            parser.error(str(error))
        execution.run_sweeps([sweep], connect(execution.run_seconds([sweep])), args.verbose)
    print(f"\nReport of this sweep:  {parsers.PROG} report --study {study}")
    print_ui_links(study, [sweep.experiment])


def cmd_report(argv):
    parser = parsers.report_parser()
    args = parser.parse_args(argv)
    print_report(args.out, experiment=args.experiment, study=args.study)


def print_report(out, experiment=None, study=None):
    from .report import writer
    from .tracking import store

    store.open_store()
    path, tables = writer.write_report(TASKS, out, experiment=experiment, study=study)
    print(f"\n{tables}\n\nReport written to {path}")


def print_ui_links(study, experiments, base=None):
    """Prints the links into the MLflow UI that open `study`'s runs by norm and
    its sweep's parent run (`experiments`: ids or names), after the command
    that serves the UI unless `base` is a UI already up."""
    import mlflow

    from .tracking import ui_links

    client = mlflow.MlflowClient()
    names = [client.get_experiment(each).name if each.isdigit() else each for each in experiments]
    lines = ui_links.experiment_links(base or ui_links.DEFAULT_UI, TASKS, study, names)
    if base is None:
        print(f"\nOpen the MLflow UI with  {parsers.PROG} ui  and then:")
    for line in lines:
        print(f"  {line}")


def cmd_ui(argv):
    args = parsers.ui_parser().parse_args(argv)
    from .tracking import ui, ui_links

    # Model-training mode, not the GenAI view MLflow 3 opens on by default.
    ui.serve(args.port, lambda url: ui_links.experiment_links(url, TASKS))


def cmd_quick(argv):
    args = parsers.quick_parser().parse_args(argv)
    loop = parsers.loop_settings(args)
    from . import execution

    study = parsers.default_study("quick")
    start = time.perf_counter()
    failure = None
    # The longest runs go first, so that parallel workers end together.
    names = sorted(args.tasks, key=lambda name: -TASKS[name].quick_run_seconds)
    tasks = [TASKS[name] for name in names]
    with _engine(args, tasks) as connect:
        sweeps = execution.quick_sweeps(tasks, study, args.data_dir, loop)
        try:
            execution.run_sweeps(sweeps, connect(execution.run_seconds(sweeps)), args.verbose)
        except SweepError as error:  # its failed runs are marked; the others went on
            failure = error
    print_report(args.out, study=study)
    print(f"\nQuick comparison done in {time.perf_counter() - start:.0f} s.")
    print_ui_links(study, [sweep.experiment for sweep in sweeps])
    if failure:
        raise SweepError(f"some runs failed (FAILED in MLflow, with the error as a tag): {failure}")


def cmd_study(argv):
    args, chosen = parsers.parse_study_args(argv)
    from .studies import STUDIES, report, runner
    from .tracking import store

    failures, parents = [], {}
    if not args.report_only:
        tasks = [TASKS[study.task] for study in chosen.values()]
        loop = parsers.loop_settings(args)
        with _engine(args, tasks) as connect:
            for study in chosen.values():
                try:
                    parents[study.name] = runner.run_study(
                        study,
                        args.scale,
                        list(range(study.scale(args.scale).seeds)),
                        connect,
                        data_dir=args.data_dir,
                        loop=loop,
                        verbose=args.verbose,
                    )
                except SweepError as error:  # its failed runs are marked; the others go on
                    failures.append(f"{study.name}: {error}")
    store.open_store()
    # Every study, those not run yet at this scale included: the page accumulates.
    path = report.write_page(STUDIES, args.scale, args.out, f"{parsers.PROG} study")
    for name, parent in parents.items():
        if parent is not None:
            report.log_page(path, STUDIES[name], parent)
    print(f"\nWhich normalization when: {path}")
    for study in chosen.values():
        print_ui_links(study.name, [TASKS[study.task].experiment_name])
    if failures:
        raise SweepError(
            "some runs failed (FAILED in MLflow, with the error as a tag): " + "; ".join(failures)
        )


def cmd_server(argv):
    args = parsers.server_parser().parse_args(argv)
    from .tracking import server

    server.serve(
        args.host,
        args.port,
        args.backend_store_uri,
        args.artifacts_destination,
        args.auth,
        args.workers,
    )


COMMANDS = {
    "run": cmd_run,
    "sweep": cmd_sweep,
    "report": cmd_report,
    "quick": cmd_quick,
    "study": cmd_study,
    "ui": cmd_ui,
    "server": cmd_server,
}

# The commands that train, and so load the backend before their runs start.
TRAINING_COMMANDS = ("run", "sweep", "quick", "study")

# Exit statuses of a command stopped by a signal, as shells report them.
EXIT_SIGINT, EXIT_SIGTERM = 130, 143


def main(argv=None):
    from .tracking import runs

    argv = sys.argv[1:] if argv is None else list(argv)
    parser = parsers.main_parser(COMMANDS)
    args = parser.parse_args(argv[:1])
    runs.end_runs_on_sigterm()
    runs.killed_runs.clear()
    # The pages copy figures out of the store: no progress bar per file in the terminal.
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    if args.command in TRAINING_COMMANDS:
        from .engine import load_backend

        load_backend()
    try:
        return COMMANDS[args.command](argv[1:]) or 0
    except ExperimentError as error:
        print(f"{parsers.PROG} {args.command}: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # Ctrl-C, or SIGTERM (`runs.Terminated`)
        signal_name = runs.interruption()
        status = EXIT_SIGTERM if signal_name == "SIGTERM" else EXIT_SIGINT
        ended = (
            f"runs ended KILLED: {', '.join(runs.killed_runs)}"
            if runs.killed_runs
            else "no run was open"
        )
        print(
            f"{parsers.PROG} {args.command}: interrupted by {signal_name}; {ended}", file=sys.stderr
        )
        return status


# The Keras backends the suite trains on.
BACKENDS = ("tensorflow", "jax", "torch")


def entry():
    """`python -m experiments` and the console script `keras-norms-experiments`."""
    # These are read when TensorFlow loads, so they are set before anything imports it.
    # The suite runs on every Keras backend; TensorFlow is the default, and
    # serves the data pipelines (tf.data) on each.
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    # TensorFlow leaves its oneDNN kernels off on some CPUs (AMD among them); with
    # them batch norm's fused kernel is several times faster (BENCHMARKS.md).
    # Set TF_ENABLE_ONEDNN_OPTS=0 to run without them.
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
    # TensorFlow's C++ log stays out of the terminal, here and in each trial
    # (`engine.trial_env` forwards it), unless asked for. Set before JAX loads:
    # importing it sets the level to 1 where none is set.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if os.environ["KERAS_BACKEND"] not in BACKENDS:
        print(
            f"KERAS_BACKEND must be one of {', '.join(BACKENDS)}. "
            f"Received: KERAS_BACKEND={os.environ['KERAS_BACKEND']!r}",
            file=sys.stderr,
        )
        return 1
    return main()
