"""The command line: python -m experiments {run,sweep,report,quick,study,ui,server} ...
(or the console script keras-norms-experiments).

`run` and `sweep` take `--task` first; the task's own options exist only with
it, so an option of another task is refused with the task it belongs to.
TensorFlow and MLflow are imported only once a command runs, so every
`--help` answers at once.
"""

import argparse
import contextlib
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from . import arguments, paths
from .config import COMMON_SETTINGS, base_config, task_options
from .errors import ExperimentError, SweepError, TrackingError
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
# Seconds the MLflow server may take to answer after it starts.
UI_START_TIMEOUT_S = 120


def study_name(text):
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", text):
        raise argparse.ArgumentTypeError(
            f"may hold only letters, digits, '_', '.' and '-', got {text!r}"
        )
    return text


def _default_study(kind):
    return f"{kind}-{time.strftime('%Y%m%d-%H%M%S')}"


def _task_parser(command, description, task):
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


def _loop(args):
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


@contextlib.contextmanager
def _engine(args, tasks):
    """Yields `connect()`, which returns a trial's `engine.Resources`, joining
    or starting Ray on its first call (once the checks that need no Ray have
    passed), or None where the runs train here one after the other: with
    `--workers 1`, or by default on a machine that fits one trial at a time.

    Each trial asks for the memory the largest of `tasks` needs (their
    `trial_memory_bytes`) unless `--memory-per-trial` says."""
    from . import engine

    address = args.ray_address or os.environ.get("RAY_ADDRESS")
    memory = args.memory_per_trial or max(task.trial_memory_bytes for task in tasks)
    workers = args.workers or (
        None if address else engine.local_workers(memory, args.cpus_per_trial or 1)
    )
    request = engine.Request(
        memory=memory, cpus=args.cpus_per_trial, gpus=args.gpus_per_trial, workers=workers
    )
    with contextlib.ExitStack() as stack:
        resources = []

        def connect():
            if workers == 1 and not address:
                return None
            if not resources:
                resources.append(stack.enter_context(engine.ray_cluster(request, address)))
                _check_store_reaches_every_machine()
            return resources[0]

        yield connect


def _check_store_reaches_every_machine():
    from . import engine
    from .tracking import store

    machines = engine.machines()
    if store.sqlite_path(store.tracking_uri()) is not None and machines > 1:
        raise TrackingError(
            f"the Ray cluster spans {machines} machines, and the SQLite store "
            f"{store.tracking_uri()} is on this one only: start `{PROG} server` and set "
            "MLFLOW_TRACKING_URI=http://HOST:PORT (see the README's cluster recipe)"
        )


def _parse_task_args(command, description, argv):
    """Parses `argv` of `run`/`sweep` in two steps: the task, then its options."""
    first = argparse.ArgumentParser(add_help=False)
    first.add_argument("--task")
    known, _ = first.parse_known_args(argv)
    task = TASKS.get(known.task)  # an unknown one is refused below, with the choices
    parser = _task_parser(command, description, task)
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


def _base_config(task, args):
    return base_config(
        task,
        quick=args.quick,
        data_dir=args.data_dir,
        dataset=args.dataset,
        common={name: getattr(args, name, None) for name in COMMON_SETTINGS},
        own={action.dest: getattr(args, action.dest) for action in task_options(task)},
        loop=_loop(args),
    )


def _open_and_prepare(task, config, experiment):
    """Everything that can fail before training, checked before anything is logged."""
    from .tracking import store

    store.open_store()
    task.prepare(config)
    return store.experiment_id(experiment or task.experiment_name)


def cmd_run(argv):
    task, args, parser = _parse_task_args("run", "Train and evaluate one configuration.", argv)
    from . import execution

    try:
        config = task.configure({**_base_config(task, args), "norm": args.norm, "seed": args.seed})
    except ValueError as error:
        parser.error(str(error))
    experiment = _open_and_prepare(task, config, args.experiment)
    run_id = execution.train_config(task, config, experiment, args.study or _default_study("run"))
    print(f"Run {run_id} finished: see it with `{PROG} ui`")


def cmd_sweep(argv):
    task, args, parser = _parse_task_args(
        "sweep",
        "Train every combination of norms, batch sizes, learning rates and seeds, "
        "as child runs of one parent run, as many at once as --workers says.",
        argv,
    )
    if args.resume and not args.study:
        parser.error("--resume needs --study NAME: the study of the sweep to continue")
    base = _base_config(task, args)
    grid = {
        "seed": args.seeds,
        "batch_size": args.batch_sizes or [base["batch_size"]],
        "lr": args.lrs or [base["lr"]],
        "norm": args.norms,
    }
    from . import execution

    study = args.study or _default_study("sweep")
    with _engine(args, [task]) as connect:
        sweep = _prepared_sweep(
            task, base, grid, args.experiment, study, parser.error, resume=args.resume
        )
        execution.run_sweeps([sweep], connect(), args.verbose)
    print(f"\nReport of this sweep:  {PROG} report --study {study}")
    print_ui_links(study, [sweep.experiment])


def _prepared_sweep(task, base, grid, experiment, study, refuse, resume=False):
    """The `execution.Sweep` of the grid, every configuration checked and the
    data prepared (before any run is logged, and before any trial starts)."""
    from . import execution

    try:
        configs = execution.sweep_configs(task, base, grid)
    except ValueError as error:  # refused before anything is logged
        refuse(str(error))
    experiment = _open_and_prepare(task, configs[0], experiment)
    return execution.Sweep(task, configs, grid, experiment, study, resume)


def _out_dir(text):
    """A report directory: refused at once if it names an existing file."""
    path = Path(text)
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a file; give a directory (made if missing)")
    return path


def cmd_report(argv):
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
        type=_out_dir,
        default=paths.reports_dir(),
        help=f"output directory (default: {paths.reports_dir()})",
    )
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
        print(f"\nOpen the MLflow UI with  {PROG} ui  and then:")
    for line in lines:
        print(f"  {line}")


def ui_command(port):
    from .tracking import store

    # One worker: the UI serves one person, and this machine may have 2 cores.
    return [
        sys.executable,
        "-m",
        "mlflow",
        "server",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
        "--backend-store-uri",
        store.tracking_uri(),
        "--default-artifact-root",
        paths.store_dir().as_uri(),
    ]


def _port_free(port):
    with socket.socket() as probe:
        # As the server will: a port in TIME_WAIT is free, one listened on is not.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _answers(url):
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def cmd_ui(argv):
    from .tracking.runs import Terminated

    parser = argparse.ArgumentParser(
        prog=f"{PROG} ui",
        description="Serve the MLflow UI on the project's store, on 127.0.0.1 only, until Ctrl-C.",
    )
    parser.add_argument("--port", type=arguments.port, default=5000, help="1-65535 (default: 5000)")
    args = parser.parse_args(argv)
    from .tracking import store

    store.open_store()  # creates the local store if needed; refuses an unusable one
    if not _port_free(args.port):
        raise ExperimentError(
            f"port {args.port} on 127.0.0.1 is taken (another MLflow UI?): "
            f"stop what uses it, or pass --port with a free one"
        )
    url = f"http://127.0.0.1:{args.port}"
    server = subprocess.Popen(ui_command(args.port))
    try:
        deadline = time.monotonic() + UI_START_TIMEOUT_S
        while not _answers(f"{url}/health"):
            if server.poll() is not None:
                raise ExperimentError(
                    f"the MLflow server exited with status {server.returncode} "
                    "before answering; its messages are above"
                )
            if time.monotonic() > deadline:
                raise ExperimentError(
                    f"the MLflow server did not answer on {url} within {UI_START_TIMEOUT_S} s"
                )
            time.sleep(0.5)
        print(f"MLflow UI on {url} (Ctrl-C stops it)", flush=True)
        from .tracking import ui_links

        # Model-training mode, not the GenAI view MLflow 3 opens on by default.
        for line in ui_links.experiment_links(url, TASKS):
            print(f"  {line}", flush=True)
        status = server.wait()
        if status != 0:
            raise ExperimentError(f"the MLflow server stopped with status {status}")
    except (KeyboardInterrupt, Terminated):
        print("MLflow UI stopped", flush=True)
    finally:
        if server.poll() is None:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


def cmd_quick(argv):
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
        type=_out_dir,
        default=paths.reports_dir() / "quick",
        help=f"default: {paths.reports_dir() / 'quick'}",
    )
    parser.add_argument("--data-dir", help="read the dataset from this directory of IDX files")
    add_engine_arguments(parser)
    add_verbose_argument(parser)
    add_loop_arguments(parser)
    args = parser.parse_args(argv)
    loop = _loop(args)
    from . import execution

    study = _default_study("quick")
    start = time.perf_counter()
    failure = None
    # The longest runs go first, so that parallel workers end together.
    names = sorted(args.tasks, key=lambda name: -TASKS[name].quick_run_seconds)
    with _engine(args, [TASKS[name] for name in names]) as connect:
        sweeps = []
        for name in names:  # every task's data prepared before any run trains
            task = TASKS[name]
            base = base_config(task, quick=True, data_dir=args.data_dir, loop=loop)
            grid = {
                "seed": [0],
                "batch_size": [base["batch_size"]],
                "lr": [base["lr"]],
                "norm": list(task.quick_norms),
            }
            sweeps.append(_prepared_sweep(task, base, grid, None, study, parser.error))
        try:
            execution.run_sweeps(sweeps, connect(), args.verbose)
        except SweepError as error:  # its failed runs are marked; the others went on
            failure = error
    print_report(args.out, study=study)
    print(f"\nQuick comparison done in {time.perf_counter() - start:.0f} s.")
    print_ui_links(study, [sweep.experiment for sweep in sweeps])
    if failure:
        raise SweepError(f"some runs failed (FAILED in MLflow, with the error as a tag): {failure}")


def _seeds_text(seeds):
    """0..4 for seeds 0 to 4, else the list: 0,4,7."""
    if seeds == list(range(len(seeds))) and len(seeds) > 1:
        return f"0..{len(seeds) - 1}"
    return ",".join(map(str, seeds))


def cmd_study(argv):
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
        help="smoke (seconds), small (at most 20 minutes per study on 2 "
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
        type=_out_dir,
        default=paths.reports_dir() / "studies",
        help=f"default: {paths.reports_dir() / 'studies'}",
    )
    args = parser.parse_args(argv)
    from .studies import report, runner
    from .tracking import store

    chosen = STUDIES if args.name == "all" else {args.name: STUDIES[args.name]}
    for study in chosen.values():
        declared = list(range(study.scale(args.scale).seeds))
        if args.seeds is not None and args.seeds != declared:
            parser.error(
                f"argument --seeds: study {study.name} declares seeds "
                f"{_seeds_text(declared)} at scale {args.scale}, got "
                f"{_seeds_text(args.seeds)}; seeds are fixed before any run, so "
                "other seeds are a new scale or study, with its own tag"
            )
    failures, parents = [], {}
    if not args.report_only:
        tasks = [TASKS[study.task] for study in chosen.values()]
        loop = _loop(args)
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
    path = report.write_page(STUDIES, args.scale, args.out, f"{PROG} study")
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
    args = parser.parse_args(argv)
    server.check_exposure(args.host, args.auth)
    from .tracking import store

    uri = args.backend_store_uri or store.tracking_uri()
    if uri.startswith(("http:", "https:")):  # that points at a server: serve the local store
        uri = store.default_uri()
    server.check_backend_store(uri)
    database = store.sqlite_path(uri)
    if database is not None:
        store.open_store(uri)  # creates the store once, before the server's workers start
    home = database.parent if database is not None else paths.store_dir()
    artifacts = args.artifacts_destination or (home / "artifacts").resolve().as_uri()
    # MLflow's job runner serves GenAI features the suite does not use: several
    # processes saved.
    environment = {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false", **os.environ}
    if args.auth:
        environment.update(server.auth_environment(home))
    command = server.server_command(args.host, args.port, uri, artifacts, args.workers, args.auth)
    print(
        f"MLflow tracking server on http://{args.host}:{args.port} "
        f"({'login required' if args.auth else 'no login'}; store {uri}, artifacts "
        f"{artifacts}). Ctrl-C stops it.",
        flush=True,
    )
    # The server replaces this process, so signals reach it directly.
    os.execve(command[0], command, environment)


COMMANDS = {
    "run": cmd_run,
    "sweep": cmd_sweep,
    "report": cmd_report,
    "quick": cmd_quick,
    "study": cmd_study,
    "ui": cmd_ui,
    "server": cmd_server,
}

# Exit statuses of a command stopped by a signal, as shells report them.
EXIT_SIGINT, EXIT_SIGTERM = 130, 143


def main(argv=None):
    from .tracking import runs

    argv = sys.argv[1:] if argv is None else list(argv)
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="keras-norms experiments: compare normalizations on real data, "
        "tracked in MLflow.",
        epilog="Run `%(prog)s COMMAND --help` for each command's options.",
    )
    parser.add_argument("command", choices=COMMANDS, help=", ".join(COMMANDS))
    parser.add_argument("options", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    args = parser.parse_args(argv[:1])
    runs.end_runs_on_sigterm()
    runs.killed_runs.clear()
    try:
        return COMMANDS[args.command](argv[1:]) or 0
    except ExperimentError as error:
        print(f"{PROG} {args.command}: error: {error}", file=sys.stderr)
        return 1
    except (KeyboardInterrupt, runs.Terminated) as interruption:
        terminated = isinstance(interruption, runs.Terminated)
        signal_name, status = ("SIGTERM", EXIT_SIGTERM) if terminated else ("SIGINT", EXIT_SIGINT)
        ended = (
            f"runs ended KILLED: {', '.join(runs.killed_runs)}"
            if runs.killed_runs
            else "no run was open"
        )
        print(f"{PROG} {args.command}: interrupted by {signal_name}; {ended}", file=sys.stderr)
        return status


def entry():
    """`python -m experiments` and the console script `keras-norms-experiments`."""
    # Both are read when TensorFlow loads, so they are set before anything imports it.
    # The suite trains with TensorFlow (tf.data pipelines, custom train steps).
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    # TensorFlow leaves its oneDNN kernels off on some CPUs (AMD among them); with
    # them batch norm's fused kernel is several times faster (BENCHMARKS.md).
    # Set TF_ENABLE_ONEDNN_OPTS=0 to run without them.
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
    if os.environ["KERAS_BACKEND"] != "tensorflow":
        print(
            "The experiment suite runs on the TensorFlow backend. "
            f"Received: KERAS_BACKEND={os.environ['KERAS_BACKEND']!r}",
            file=sys.stderr,
        )
        return 1
    return main()
