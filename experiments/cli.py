"""The command line: python -m experiments {run,sweep,report,quick,ui} ...

`run` and `sweep` take `--task` first; the task's own options exist only with
it, so an option of another task is refused with the task it belongs to.
TensorFlow and MLflow are imported only once a command runs, so every
`--help` answers at once.
"""

import argparse
import os
import re
import sys
import time

from experiments import arguments
from experiments.errors import ExperimentError, SweepError
from experiments.tasks import TASKS

PROG = "python -m experiments"
COMMON_SETTINGS = ("epochs", "batch_size", "lr", "train_size")


def study_name(text):
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", text):
        raise argparse.ArgumentTypeError(
            f"may hold only letters, digits, '_', '.' and '-', got {text!r}")
    return text


def _default_study(kind):
    return f"{kind}-{time.strftime('%Y%m%d-%H%M%S')}"


def _task_parser(command, description, task):
    """The parser of `run` or `sweep`, with `task`'s own options when given."""
    parser = argparse.ArgumentParser(prog=f"{PROG} {command}", description=description)
    parser.add_argument("--task", required=True, type=arguments.choice(tuple(TASKS)),
                        help=f"one of: {', '.join(TASKS)}")
    norms = task.norms if task else sorted({n for t in TASKS.values() for n in t.norms})
    norm_type = task.parse_norm if task else arguments.choice(norms)
    datasets = task.datasets if task else sorted({d for t in TASKS.values() for d in t.datasets})
    if command == "run":
        parser.add_argument("--norm", required=True, type=norm_type,
                            help=f"normalization, one of: {', '.join(norms)}")
    else:
        parser.add_argument("--norms", required=True, type=arguments.comma_list(norm_type),
                            help=f"comma-separated normalizations from: {', '.join(norms)}")
    parser.add_argument("--dataset", type=arguments.choice(datasets),
                        help=f"one of: {', '.join(datasets)} (default: the task's first)")
    parser.add_argument("--epochs", type=arguments.positive_int)
    if command == "run":
        parser.add_argument("--batch-size", type=arguments.positive_int)
        parser.add_argument("--lr", type=arguments.positive_float, help="learning rate")
        parser.add_argument("--seed", type=arguments.non_negative_int, default=0)
    else:
        parser.add_argument("--batch-sizes", type=arguments.comma_list(arguments.positive_int),
                            help="comma-separated, e.g. 8,128 (default: the task's)")
        parser.add_argument("--lrs", type=arguments.comma_list(arguments.positive_float),
                            help="comma-separated learning rates, e.g. 1e-3,1e-2")
        parser.add_argument("--seeds", type=arguments.comma_list(arguments.non_negative_int),
                            default=[0], help="comma-separated seeds (default: 0)")
    parser.add_argument("--train-size", type=arguments.positive_int,
                        help="training examples (default: the task's)")
    parser.add_argument("--quick", action="store_true",
                        help="a small subset and few epochs: a smoke run of well under a minute")
    parser.add_argument("--data-dir", help="read the dataset from this directory of IDX files")
    parser.add_argument("--experiment", help="MLflow experiment (default: keras-norms-TASK)")
    parser.add_argument("--study", type=study_name,
                        help="tag grouping runs in the report (default: dated)")
    if task:
        task.add_arguments(parser.add_argument_group(f"options of --task {task.name}"))
    else:
        parser.epilog = f"Task options: {PROG} {command} --task TASK --help"
    return parser


def _task_options(task):
    """The argparse actions of `task`'s own options."""
    parser = argparse.ArgumentParser(add_help=False)
    task.add_arguments(parser)
    return parser._actions


def _parse_task_args(command, description, argv):
    """Parses `argv` of `run`/`sweep` in two steps: the task, then its options."""
    first = argparse.ArgumentParser(add_help=False)
    first.add_argument("--task")
    known, _ = first.parse_known_args(argv)
    task = TASKS.get(known.task)  # an unknown one is refused below, with the choices
    parser = _task_parser(command, description, task)
    args, unknown = parser.parse_known_args(argv)
    for flag in unknown:
        owners = [t.name for t in TASKS.values()
                  if any(flag.split("=")[0] in a.option_strings for a in _task_options(t))]
        if owners:
            parser.error(f"{flag} is an option of --task {', '.join(owners)}, "
                         f"not of --task {task.name}")
    if unknown:
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    return task, args, parser


def _config(task, args, norm):
    """Every param of one run but those `task.configure` completes: common
    settings, the task's own options, versions."""
    from experiments.tracking import software_versions

    settings = {**task.settings, **(task.quick_settings if args.quick else {})}
    for name in COMMON_SETTINGS:
        if getattr(args, name, None) is not None:
            settings[name] = getattr(args, name)
    # A task option left unset (None) takes the task's setting, where it has one:
    # its default may differ under --quick.
    own = {dest: getattr(args, dest) for dest in sorted(a.dest for a in _task_options(task))}
    own = {dest: value for dest, value in own.items() if value is not None or dest not in settings}
    return {
        "task": task.name,
        "norm": norm,
        "dataset": args.dataset or task.datasets[0],
        "seed": getattr(args, "seed", 0),
        "quick": args.quick,
        "data_dir": args.data_dir,
        **settings,
        **own,
        **software_versions(),
    }


def _connect_and_prepare(task, config, experiment):
    """Everything that can fail before training, checked before anything is logged."""
    from experiments import tracking

    tracking.connect()
    task.prepare(config)
    return tracking.experiment_id(experiment or task.experiment_name)


def cmd_run(argv):
    task, args, parser = _parse_task_args("run", "Train and evaluate one configuration.", argv)
    from experiments import runner

    try:
        config = task.configure(_config(task, args, args.norm))
    except ValueError as error:
        parser.error(str(error))
    experiment = _connect_and_prepare(task, config, args.experiment)
    run_id = runner.train_one(task, config, experiment, args.study or _default_study("run"))
    print(f"Run {run_id} finished: see it with `{PROG} ui`")


def cmd_sweep(argv):
    task, args, parser = _parse_task_args(
        "sweep", "Train every combination of norms, batch sizes, learning rates and seeds, "
        "as child runs of one parent run.", argv)
    _sweep(task, args, parser, args.study or _default_study("sweep"))


def _sweep(task, args, parser, study):
    from experiments import runner

    base = _config(task, args, norm=None)
    grid = {
        "seed": args.seeds,
        "batch_size": args.batch_sizes or [base["batch_size"]],
        "lr": args.lrs or [base["lr"]],
        "norm": args.norms,
    }
    try:
        runner.sweep_configs(task, base, grid)  # refuses a bad one before anything is logged
    except ValueError as error:
        parser.error(str(error))
    experiment = _connect_and_prepare(task, base, args.experiment)
    return runner.sweep(task, base, grid, experiment, study)


def cmd_report(argv):
    parser = argparse.ArgumentParser(
        prog=f"{PROG} report",
        description="Read the finished runs back from MLflow and write a Markdown report "
                    "with PNG figures; print its tables.")
    parser.add_argument("--experiment", help="only this MLflow experiment "
                        "(default: every task's own, keras-norms-TASK)")
    parser.add_argument("--study", type=study_name, help="only runs tagged with this study")
    parser.add_argument("--out", default="reports", help="output directory (default: reports/)")
    args = parser.parse_args(argv)
    print_report(args.out, experiment=args.experiment, study=args.study)


def print_report(out, experiment=None, study=None):
    from experiments import report, tracking

    tracking.connect()
    path, tables = report.write_report(TASKS, out, experiment=experiment, study=study)
    print(f"\n{tables}\n\nReport written to {path}")


def ui_command(port):
    from experiments import tracking

    # One worker: the UI serves one person, and this machine may have 2 cores.
    return [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
            "--workers", "1", "--backend-store-uri", tracking.tracking_uri(),
            "--default-artifact-root", str(tracking.DEFAULT_STORE)]


def cmd_ui(argv):
    parser = argparse.ArgumentParser(
        prog=f"{PROG} ui",
        description="Serve the MLflow UI on the project's store, on 127.0.0.1 only.")
    parser.add_argument("--port", type=arguments.positive_int, default=5000)
    args = parser.parse_args(argv)
    from experiments import tracking

    tracking.connect()  # creates the local store if needed; refuses an unreachable one
    print(f"MLflow UI on http://127.0.0.1:{args.port} (Ctrl-C stops it)", flush=True)
    # The server replaces this process, so signals reach it directly.
    command = ui_command(args.port)
    os.execv(command[0], command)


def cmd_quick(argv):
    parser = argparse.ArgumentParser(
        prog=f"{PROG} quick",
        description="The quick comparison: each task's quick sweep over its main norms "
                    "(a few epochs on a subset), then the report and the command to open "
                    "the MLflow UI.")
    parser.add_argument("--tasks", type=arguments.comma_list(arguments.choice(tuple(TASKS))),
                        default=list(TASKS), help=f"comma-separated (default: {','.join(TASKS)})")
    parser.add_argument("--out", default="reports/quick", help="default: reports/quick/")
    parser.add_argument("--data-dir", help="read the dataset from this directory of IDX files")
    args = parser.parse_args(argv)
    study = _default_study("quick")
    start = time.perf_counter()
    failures = []
    for name in args.tasks:
        task = TASKS[name]
        sweep_argv = ["--task", name, "--norms", ",".join(task.quick_norms), "--quick"]
        if args.data_dir:
            sweep_argv += ["--data-dir", args.data_dir]
        sweep_parser = _task_parser("sweep", "", task)
        try:
            _sweep(task, sweep_parser.parse_args(sweep_argv), sweep_parser, study)
        except SweepError as error:  # its failed runs are marked; the other tasks go on
            failures.append(f"{name}: {error}")
    print_report(args.out, study=study)
    print(f"\nQuick comparison done in {time.perf_counter() - start:.0f} s.")
    print(f"Open the MLflow UI on these runs:  {PROG} ui   (then http://127.0.0.1:5000)")
    if failures:
        raise SweepError("some runs failed (FAILED in MLflow, with the error as a tag): "
                         + "; ".join(failures))


COMMANDS = {
    "run": cmd_run,
    "sweep": cmd_sweep,
    "report": cmd_report,
    "quick": cmd_quick,
    "ui": cmd_ui,
}


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="keras-norms experiments: compare normalizations on real data, "
                    "tracked in MLflow.",
        epilog="Run `%(prog)s COMMAND --help` for each command's options.")
    parser.add_argument("command", choices=COMMANDS, help=", ".join(COMMANDS))
    parser.add_argument("options", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    args = parser.parse_args(argv[:1])
    try:
        return COMMANDS[args.command](argv[1:]) or 0
    except ExperimentError as error:
        print(f"{PROG} {args.command}: error: {error}", file=sys.stderr)
        return 1
