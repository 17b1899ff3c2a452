"""The life cycle of an MLflow run: it always ends FINISHED, FAILED or KILLED.

A run records what it ran (params, a readable name and description), from
which code (the git commit, the software versions), in which process (host,
pid, process start time) and what it took of the machine (MLflow's system
metrics: CPU, memory, disk, network, and GPU where one is present). An
exception ends it FAILED with the error as a tag; Ctrl-C or SIGTERM ends it
KILLED. A process killed outright (kill -9, a lost machine) cannot end its
runs: the next command on the same host finds them RUNNING with their process
gone and ends them KILLED, tagged `stale` (`end_stale_runs`).
"""

import contextlib
import importlib.metadata
import os
import signal
import socket
import subprocess
import sys
import warnings

import mlflow
import psutil
from mlflow.entities import ViewType
from mlflow.exceptions import MlflowException

from experiments import paths

# Params that record the software, not the experiment: the report groups by the rest.
VERSION_PARAMS = {
    "keras_version": "keras",
    "tensorflow_version": "tensorflow",
    "keras_norms_version": "keras-norms",
}

# Two processes with one pid are told apart by their start times (seconds);
# psutil reports them rounded to a few milliseconds.
_START_TIME_TOLERANCE_S = 0.5

# Seconds between two samples of the system metrics, unless
# MLFLOW_SYSTEM_METRICS_SAMPLING_INTERVAL says otherwise. MLflow's 10 s would
# leave a quick run (seconds to a minute) with one sample or none: MLflow logs
# only whole intervals.
SYSTEM_METRICS_INTERVAL_S = 2

# How MLflow's SQL stores (SQLite, PostgreSQL) report a row added twice at once.
_DUPLICATE_ROW_ERRORS = ("UNIQUE constraint failed", "duplicate key value")
_DATASET_ATTEMPTS = 3

# Ids of the runs this process ended KILLED, for the command line's message.
killed_runs = []


class Terminated(BaseException):
    """SIGTERM, raised where the main thread is, so every open run ends KILLED.

    A BaseException, as KeyboardInterrupt is: the handlers that go on after a
    failed run (a sweep's) must not catch it.
    """


def _raise_terminated(signum, frame):
    raise Terminated("SIGTERM")


def end_runs_on_sigterm():
    """Turns SIGTERM (sent by `timeout`, Docker, systemd, Slurm) into `Terminated`."""
    signal.signal(signal.SIGTERM, _raise_terminated)


def software_versions():
    return {param: importlib.metadata.version(dist) for param, dist in VERSION_PARAMS.items()}


def git_tags():
    """The commit the code ran from, and whether it had uncommitted changes."""
    checkout = paths.source_checkout()
    if checkout is None:
        return {}

    def git(*args):
        return subprocess.run(
            ["git", *args], cwd=checkout, capture_output=True, text=True, timeout=10
        ).stdout.strip()

    try:
        commit = git("rev-parse", "HEAD")
        dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.SubprocessError):
        return {}
    if not commit:
        return {}
    return {"mlflow.source.git.commit": commit, "git_dirty": str(dirty).lower()}


def process_tags():
    """The host and process a run lives in, so a later command can tell it is gone."""
    process = psutil.Process()
    return {"host": socket.gethostname(), "pid": str(process.pid),
            "process_started": f"{process.create_time():.3f}"}


def _process_alive(pid, started):
    try:
        process = psutil.Process(pid)
        return (abs(process.create_time() - started) < _START_TIME_TOLERANCE_S
                and process.status() != psutil.STATUS_ZOMBIE)
    except psutil.Error:  # gone, or not ours to see
        return False


def _system_metrics_wanted():
    """True unless MLFLOW_ENABLE_SYSTEM_METRICS_LOGGING turns them off; sets
    the sampling interval for the run about to start, unless given."""
    from mlflow.environment_variables import MLFLOW_ENABLE_SYSTEM_METRICS_LOGGING

    # MLflow reads it when the run starts its monitor.
    os.environ.setdefault("MLFLOW_SYSTEM_METRICS_SAMPLING_INTERVAL",
                          str(SYSTEM_METRICS_INTERVAL_S))
    return (not MLFLOW_ENABLE_SYSTEM_METRICS_LOGGING.defined
            or MLFLOW_ENABLE_SYSTEM_METRICS_LOGGING.get())


def end_stale_runs():
    """Ends as KILLED, tagged `stale`, the RUNNING runs started on this host
    whose process is gone; prints one line naming them. Returns their ids."""
    client = mlflow.MlflowClient()
    experiments = [e.experiment_id for e in client.search_experiments(view_type=ViewType.ALL)]
    if not experiments:
        return []
    found = client.search_runs(
        experiments,
        filter_string=f"attributes.status = 'RUNNING' and tags.host = '{socket.gethostname()}'",
        run_view_type=ViewType.ALL, max_results=50_000)
    stale = []
    for run in found:
        tags = run.data.tags
        try:
            pid, started = int(tags["pid"]), float(tags["process_started"])
        except (KeyError, ValueError):
            continue  # recorded before runs carried their process: cannot tell
        if not _process_alive(pid, started):
            client.set_tag(run.info.run_id, "stale", f"process {pid} gone")
            client.set_terminated(run.info.run_id, "KILLED")
            stale.append(run.info.run_id)
    if stale:
        print(f"Ended {len(stale)} stale run(s) as KILLED, their process gone: "
              f"{', '.join(stale)}", file=sys.stderr, flush=True)
    return stale


@contextlib.contextmanager
def tracked_run(experiment, run_name, params, tags, parent_run_id=None, description=None,
                resume_run_id=None):
    """Starts an MLflow run (a child of `parent_run_id` when given) that always
    ends FINISHED, FAILED or KILLED.

    `description` (Markdown) is the run's note in the UI. The run logs system
    metrics (`system/...`, every `SYSTEM_METRICS_INTERVAL_S` seconds) unless
    MLFLOW_ENABLE_SYSTEM_METRICS_LOGGING is false. `resume_run_id` continues
    that run instead (a resumed sweep's parent): its params and description are
    already logged; its process tags become this process's.

    On an exception the run ends FAILED (KILLED on Ctrl-C or SIGTERM) with the
    error as the tag `error`, and the exception propagates.
    """
    if resume_run_id:
        run = mlflow.start_run(run_id=resume_run_id, log_system_metrics=_system_metrics_wanted())
        mlflow.set_tags({**git_tags(), **process_tags(), **tags})
    else:
        run = mlflow.start_run(experiment_id=experiment, run_name=run_name,
                               nested=parent_run_id is not None, parent_run_id=parent_run_id,
                               tags={**git_tags(), **process_tags(), **tags},
                               description=description,
                               log_system_metrics=_system_metrics_wanted())
    status = "FINISHED"
    try:
        if not resume_run_id:
            mlflow.log_params(params)
        yield run
    except BaseException as error:
        status = "KILLED" if isinstance(error, (KeyboardInterrupt, Terminated)) else "FAILED"
        with contextlib.suppress(Exception):
            mlflow.set_tag("error", f"{type(error).__name__}: {error}"[:5000])
        raise
    finally:
        # Ending must not be cut short by a second signal: the run would stay RUNNING.
        with _signals_deferred():
            mlflow.end_run(status)
            if status == "KILLED":
                killed_runs.append(run.info.run_id)


@contextlib.contextmanager
def _signals_deferred():
    """Holds SIGINT and SIGTERM until the block is done (main thread only)."""
    held = (signal.SIGINT, signal.SIGTERM)
    try:
        previous = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def log_dataset(name, source, split, context, schema=None):
    """Records one split of a dataset as an input of the active run.

    Only metadata is logged (where the data was read from, which split), not
    the examples: `mlflow.data.meta_dataset.MetaDataset`.
    """
    from mlflow.data.dataset_source_registry import resolve_dataset_source
    from mlflow.data.meta_dataset import MetaDataset

    with warnings.catch_warnings():
        # MLflow registers its local-file source under two URI schemes and warns
        # that a path matches both; either is right.
        warnings.simplefilter("ignore", UserWarning)
        source = resolve_dataset_source(source)
    dataset = MetaDataset(source, name=f"{name}:{split}", schema=schema)
    # MLflow looks the dataset up, then adds it: two runs logging the same new
    # dataset at once (parallel trials) can both add it, and one is refused.
    # Its transaction is rolled back whole; again, it finds the dataset there.
    for attempt in range(_DATASET_ATTEMPTS):
        try:
            return mlflow.log_input(dataset, context=context)
        except MlflowException as error:
            duplicate = any(text in str(error) for text in _DUPLICATE_ROW_ERRORS)
            if not duplicate or attempt == _DATASET_ATTEMPTS - 1:
                raise
