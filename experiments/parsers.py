"""Every command's arguments: the parsers of `run` and `sweep` (a task's own
options exist only with `--task`, so an option of another task is refused with
the task it belongs to), of the other commands, and the option groups several
commands share. What each command does is `experiments.cli`'s.
"""

import argparse
import os
import re
import sys
import time
from pathlib import Path

from . import arguments, paths
from .config import COMMON_SETTINGS, base_config, task_options
from .tasks import TASKS
from .tasks.loop import STEPS_PER_EXECUTION, loop_params

SCRIPT = "keras-norms-experiments"

# `experiments` in a checkout, `keras_norms_experiments` installed from the wheel.
PROG = SCRIPT if os.path.basename(sys.argv[0]) == SCRIPT else f"python -m {__package__}"
# `--seeds` means the same in sweep and study.
SEEDS_HELP = (
    "N runs seeds 0..N-1; a comma-separated list runs those seeds, e.g. 0,4,7 "
    "(one seed other than 0: 5,) (default: {default})"
)


def study_name(text):
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", text):
        raise argparse.ArgumentTypeError(
            f"may hold only letters, digits, '_', '.' and '-', got {text!r}"
        )
    return text


def default_study(kind):
    return f"{kind}-{time.strftime('%Y%m%d-%H%M%S')}"


def out_dir(text):
    """A report directory: refused at once if it names an existing file."""
    path = Path(text)
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a file; give a directory (made if missing)")
    return path


def seeds_text(seeds):
    """0..4 for seeds 0 to 4, else the list: 0,4,7."""
    if seeds == list(range(len(seeds))) and len(seeds) > 1:
        return f"0..{len(seeds) - 1}"
    return ",".join(map(str, seeds))


def task_parser(command, description, task):
    """The parser of `run` or `sweep`, with `task`'s own options when given."""
    parser = argparse.ArgumentParser(prog=f"{PROG} {command}", description=description)
    parser.add_argument(
        "--task",
        required=True,
        type=arguments.choice(tuple(TASKS)),
        help=f"one of: {', '.join(TASKS)}",
    )
    norms = task.norms if task else sorted({n for t in TASKS.values() for n in t.norms})
    norm_type = task.parse_norm if task else arguments.choice(norms)
    datasets = task.datasets if task else sorted({d for t in TASKS.values() for d in t.datasets})
    if command == "run":
        parser.add_argument(
            "--norm",
            required=True,
            type=norm_type,
            help=f"normalization, one of: {', '.join(norms)}",
        )
    else:
        parser.add_argument(
            "--norms",
            required=True,
            type=arguments.comma_list(norm_type),
            help=f"comma-separated normalizations from: {', '.join(norms)}",
        )
    dataset_type = task.parse_dataset if task else arguments.choice(datasets)
    parser.add_argument(
        "--dataset",
        type=dataset_type,
        help=f"one of: {', '.join(datasets)} (default: the task's first)"
        if datasets
        else "a tensorflow-datasets name, prepared locally (default: the task's)",
    )
    parser.add_argument("--epochs", type=arguments.positive_int)
    if command == "run":
        parser.add_argument("--batch-size", type=arguments.positive_int)
        parser.add_argument("--lr", type=arguments.positive_float, help="learning rate")
        parser.add_argument("--seed", type=arguments.non_negative_int, default=0)
    else:
        parser.add_argument(
            "--batch-sizes",
            type=arguments.comma_list(arguments.positive_int),
            help="comma-separated, e.g. 8,128 (default: the task's)",
        )
        parser.add_argument(
            "--lrs",
            type=arguments.comma_list(arguments.positive_float),
            help="comma-separated learning rates, e.g. 1e-3,1e-2",
        )
        parser.add_argument(
            "--seeds",
            type=arguments.seeds,
            default=[0],
            help=SEEDS_HELP.format(default="1: seed 0"),
        )
    parser.add_argument(
        "--train-size", type=arguments.positive_int, help="training examples (default: the task's)"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a small subset and few epochs: a smoke run of well under a minute",
    )
    parser.add_argument("--data-dir", help="read the dataset from this directory of IDX files")
    parser.add_argument("--experiment", help="MLflow experiment (default: keras-norms-TASK)")
    parser.add_argument(
        "--study", type=study_name, help="tag grouping runs in the report (default: dated)"
    )
    if command == "sweep":
        parser.add_argument(
            "--resume",
            action="store_true",
            help="continue the sweep of --study under its parent run: train only "
            "the configurations without a FINISHED run",
        )
        add_engine_arguments(parser)
        add_verbose_argument(parser)
    add_loop_arguments(parser)
    if task:
        task.add_arguments(parser.add_argument_group(f"options of --task {task.name}"))
    else:
        parser.epilog = f"Task options: {PROG} {command} --task TASK --help"
    return parser


def parse_task_args(command, description, argv):
    """Parses `argv` of `run`/`sweep` in two steps: the task, then its options."""
    first = argparse.ArgumentParser(add_help=False)
    first.add_argument("--task")
    known, _ = first.parse_known_args(argv)
    task = TASKS.get(known.task)  # an unknown one is refused below, with the choices
    parser = task_parser(command, description, task)
    args, unknown = parser.parse_known_args(argv)
    for flag in unknown:
        owners = [
            t.name
            for t in TASKS.values()
            if any(flag.split("=")[0] in a.option_strings for a in task_options(t))
        ]
        if owners:
            parser.error(
                f"{flag} is an option of --task {', '.join(owners)}, not of --task {task.name}"
            )
    if unknown:
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    return task, args, parser


def add_verbose_argument(parser):
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="print the training's own output too: Keras's progress bars, "
        "MLflow's INFO lines (default: a line per finished run)",
    )


def add_loop_arguments(parser):
    """`--steps-per-execution` or `--no-compile`: the training loop's compilation."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--steps-per-execution",
        type=arguments.positive_int,
        help="training steps per compiled call; a non-finite loss is found "
        f"at the end of its call (default: {STEPS_PER_EXECUTION})",
    )
    group.add_argument(
        "--no-compile",
        action="store_true",
        help="train step by step without XLA or jax.jit, to debug (slower; "
        "the same losses to rounding)",
    )


def loop_settings(args):
    return loop_params(compiled=not args.no_compile, steps_per_execution=args.steps_per_execution)


def add_engine_arguments(parser):
    """`--workers`, `--ray-address` and what each trial asks of Ray: how a
    sweep's runs are spread."""
    parser.add_argument(
        "--workers",
        type=arguments.positive_int,
        help="runs trained at once at most, each a Ray task with its share of "
        "the CPUs unless --cpus-per-trial says (default: what this machine "
        "fits, one per core as memory allows --memory-per-trial each; on "
        "a --ray-address cluster, as many as Ray fits). 1 trains them one "
        "after the other in this process, without Ray",
    )
    parser.add_argument(
        "--ray-address",
        help="train on this Ray cluster (default: RAY_ADDRESS when set, else a "
        "local Ray instance started for the command, unless --workers is 1)",
    )
    parser.add_argument(
        "--cpus-per-trial",
        type=arguments.positive_int,
        metavar="N",
        help="CPUs each run reserves on Ray, its TensorFlow's threads (default: "
        "its share of the cores with --workers or on this machine; 1 on a "
        "--ray-address cluster)",
    )
    parser.add_argument(
        "--gpus-per-trial",
        type=arguments.gpu_count,
        metavar="X",
        help="GPUs each run reserves where Ray has GPUs: 0, a fraction such as "
        "0.5 (runs share a GPU) or a whole number (default: the GPUs "
        "shared between the runs at once)",
    )
    parser.add_argument(
        "--memory-per-trial",
        type=arguments.memory_size,
        metavar="SIZE",
        help="memory each run reserves on Ray, e.g. 1.5G or 800M (powers of "
        "1024); Ray starts no more runs on a node than its memory holds "
        "(default: what a run of the task takes, 1.5G for the built-in "
        "tasks; the largest of the command's tasks)",
    )


def run_config(task, args):
    """The configuration of `run` and `sweep` but its norm and seed, from
    their parsed `args`."""
    return base_config(
        task,
        quick=args.quick,
        data_dir=args.data_dir,
        dataset=args.dataset,
        common={name: getattr(args, name, None) for name in COMMON_SETTINGS},
        own={action.dest: getattr(args, action.dest) for action in task_options(task)},
        loop=loop_settings(args),
    )


def report_parser():
    """The parser of `report`."""
    parser = argparse.ArgumentParser(
        prog=f"{PROG} report",
        description="Read the runs back from MLflow and write a Markdown report "
        "with PNG figures; print its tables.",
    )
    parser.add_argument(
        "--experiment",
        help="only this MLflow experiment (default: every task's own, keras-norms-TASK)",
    )
    parser.add_argument("--study", type=study_name, help="only runs tagged with this study")
    parser.add_argument(
        "--out",
        type=out_dir,
        default=paths.reports_dir(),
        help=f"output directory (default: {paths.reports_dir()})",
    )
    return parser


def ui_parser():
    """The parser of `ui`."""
    parser = argparse.ArgumentParser(
        prog=f"{PROG} ui",
        description="Serve the MLflow UI on the project's store, on 127.0.0.1 only, until Ctrl-C.",
    )
    parser.add_argument("--port", type=arguments.port, default=5000, help="1-65535 (default: 5000)")
    return parser


def quick_parser():
    """The parser of `quick`."""
    parser = argparse.ArgumentParser(
        prog=f"{PROG} quick",
        description="The quick comparison: each task's quick sweep over its main norms "
        "(a few epochs on a subset), the runs of every task trained together, "
        "as many at once as --workers says; then the report and the command to "
        "open the MLflow UI.",
    )
    quick_tasks = [name for name, task in TASKS.items() if task.quick_norms]
    parser.add_argument(
        "--tasks",
        type=arguments.comma_list(arguments.choice(quick_tasks)),
        default=quick_tasks,
        help=f"comma-separated (default: {','.join(quick_tasks)})",
    )
    parser.add_argument(
        "--out",
        type=out_dir,
        default=paths.reports_dir() / "quick",
        help=f"default: {paths.reports_dir() / 'quick'}",
    )
    parser.add_argument("--data-dir", help="read the dataset from this directory of IDX files")
    add_engine_arguments(parser)
    add_verbose_argument(parser)
    add_loop_arguments(parser)
    return parser


def study_parser():
    """The parser of `study`."""
    from .studies import SCALES, STUDIES

    parser = argparse.ArgumentParser(
        prog=f"{PROG} study",
        description="Run a study (a grid of norms x one factor x seeds, as one sweep tagged "
        'study=NAME), then write the "Which normalization when" page with a '
        "verdict per claim. Run again, it trains only what is missing.",
    )
    parser.add_argument(
        "name",
        type=arguments.choice((*STUDIES, "all")),
        help=f"one of: {', '.join(STUDIES)}, or all",
    )
    parser.add_argument(
        "--scale",
        type=arguments.choice(SCALES),
        default="small",
        help="smoke (seconds), small (at most 30 minutes per study on 2 "
        "cores; the default) or full (bigger machines)",
    )
    parser.add_argument(
        "--seeds",
        type=arguments.seeds,
        help=SEEDS_HELP.format(default="the scale's; 5 at small")
        + "; a study runs the seeds its scale declares, no others",
    )
    add_engine_arguments(parser)
    add_verbose_argument(parser)
    add_loop_arguments(parser)
    parser.add_argument("--data-dir", help="read Fashion-MNIST from this directory of IDX files")
    parser.add_argument(
        "--report-only",
        action="store_true",
        help="write the page from the runs in the store, training nothing",
    )
    parser.add_argument(
        "--out",
        type=out_dir,
        default=paths.reports_dir() / "studies",
        help=f"default: {paths.reports_dir() / 'studies'}",
    )
    return parser


def parse_study_args(argv):
    """Parses `study`'s `argv`; returns (args, {name: Study} of the studies it
    names), refusing seeds other than those each study declares."""
    from .studies import STUDIES

    parser = study_parser()
    args = parser.parse_args(argv)
    chosen = STUDIES if args.name == "all" else {args.name: STUDIES[args.name]}
    for study in chosen.values():
        declared = list(range(study.scale(args.scale).seeds))
        if args.seeds is not None and args.seeds != declared:
            parser.error(
                f"argument --seeds: study {study.name} declares seeds "
                f"{seeds_text(declared)} at scale {args.scale}, got "
                f"{seeds_text(args.seeds)}; seeds are fixed before any run, so "
                "other seeds are a new scale or study, with its own tag"
            )
    return args, chosen


def server_parser():
    """The parser of `server`."""
    from .tracking import server

    parser = argparse.ArgumentParser(
        prog=f"{PROG} server",
        description="Serve the project's MLflow store to many writers over HTTP: trials on "
        "other machines log runs and artifacts through it "
        "(MLFLOW_TRACKING_URI=http://HOST:PORT).",
    )
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to bind (default: 127.0.0.1; any other needs --auth)",
    )
    parser.add_argument("--port", type=arguments.port, default=5000, help="1-65535 (default: 5000)")
    parser.add_argument(
        "--backend-store-uri",
        help="SQLAlchemy URI of the store, e.g. postgresql://USER@HOST:PORT/DB, "
        "its password in PGPASSWORD (default: the project's SQLite store)",
    )
    parser.add_argument(
        "--artifacts-destination",
        help="where served artifacts are kept (default: artifacts/ beside the SQLite store)",
    )
    parser.add_argument(
        "--auth",
        action="store_true",
        help="require a login (MLflow's basic-auth app); the admin password "
        f"comes from {server.PASSWORD_ENV} on the first start",
    )
    parser.add_argument(
        "--workers", type=arguments.positive_int, default=2, help="server processes (default: 2)"
    )
    return parser


def main_parser(commands):
    """The parser of the command's name; the rest is the command's own."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="keras-norms experiments: compare normalizations on real data, "
        "tracked in MLflow.",
        epilog="Run `%(prog)s COMMAND --help` for each command's options.",
    )
    parser.add_argument("command", choices=commands, help=", ".join(commands))
    parser.add_argument("options", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    return parser
