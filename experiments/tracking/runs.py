"""The life cycle of an MLflow run: it always ends FINISHED, FAILED or KILLED.

A run records what it ran (params, a readable name and description), from
which code (the git commit, the software versions), in which process (host,
pid, process start time) and, where MLFLOW_ENABLE_SYSTEM_METRICS_LOGGING=true
asks, what it took of the machine (MLflow's system metrics: CPU, memory,
disk, network, and GPU where one is present). An
exception ends it FAILED with the error as a tag; Ctrl-C or SIGTERM ends it
KILLED. A process killed outright (kill -9, a lost machine) cannot end its
runs: the next command to open the store ends them KILLED, tagged `stale`
(`end_stale_runs`). On its own host it sees their process gone. Runs of other
hosts (the nodes of a cluster) it cannot see: while a run is open a thread
of its process records a heartbeat (unix time) every `HEARTBEAT_S` seconds,
and a run whose beats stopped `STALE_AFTER_BEATS` periods ago is taken for
dead. `KERAS_NORMS_HEARTBEAT_S` sets another period (the same on every
machine that shares the store).

Where the process lives and its last beat are one tag, `process` (JSON:
host, pid, start time, beat): the MLflow UI offers every tag not under its
own `mlflow.` prefix before any param in its Group by and column lists, so a
run carries as few tags of its own as it can, and those a user groups or
filters by (study, task, run_kind) before this one.
"""

import contextlib
import importlib.metadata
import importlib.util
import json
import math
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path

import mlflow
import psutil
from mlflow.entities import ViewType
from mlflow.exceptions import MlflowException

from .. import paths
from ..errors import TrackingError

# Params that record the software, not the experiment: the report groups by the rest.
VERSION_PARAMS = {
    "keras_version": "keras",
    "tensorflow_version": "tensorflow",
    "keras_norms_version": "keras-norms",
}
# The Keras backend a run trained on and its version (TensorFlow serves the
# data pipelines on every backend; its version is logged apart).
BACKEND_PARAMS = ("keras_backend", "keras_backend_version")

# Two processes with one pid are told apart by their start times (seconds);
# psutil reports them rounded to a few milliseconds.
_START_TIME_TOLERANCE_S = 0.5

# Seconds between two samples of the system metrics, unless
# MLFLOW_SYSTEM_METRICS_SAMPLING_INTERVAL says otherwise. MLflow's 10 s would
# leave a quick run (seconds to a minute) with one sample or none: MLflow logs
# only whole intervals.
SYSTEM_METRICS_INTERVAL_S = 2

# Seconds between two heartbeats of an open run, unless HEARTBEAT_ENV says otherwise.
HEARTBEAT_S = 30
HEARTBEAT_ENV = "KERAS_NORMS_HEARTBEAT_S"
# The tag holding a run's host, pid, process start time and last heartbeat.
PROCESS_TAG = "process"
# A run of another host is taken for dead after this many periods without a
# beat: 5 minutes at 30 s. A beat sent to a busy or restarting server can be
# late by as long as MLflow retries one request (7 retries with backoff by
# default, about 4 minutes), and a live run ended KILLED is a worse mistake
# than a dead one ended a few minutes late. The machines' clocks, kept by NTP,
# differ by far less.
STALE_AFTER_BEATS = 10
# How long ending a run waits for a beat in flight.
_HEARTBEAT_JOIN_S = 5

# How MLflow's SQL stores (SQLite, PostgreSQL) report a row added twice at once.
_DUPLICATE_ROW_ERRORS = ("UNIQUE constraint failed", "duplicate key value")
_DATASET_ATTEMPTS = 3

# Ids of the runs this process ended KILLED, for the command line's message.
killed_runs = []


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the main thread is, so every open run ends KILLED.

    A KeyboardInterrupt, so that what stops cleanly on Ctrl-C (Ray's waits
    among them, which raise a KeyboardInterrupt of their own in its place)
    stops cleanly on SIGTERM too, and the handlers that go on after a failed
    run (a sweep's) do not catch it. `terminated()` says which signal it was.
    """


_sigterm_received = threading.Event()


def _raise_terminated(signum, frame):
    _sigterm_received.set()
    raise Terminated("SIGTERM")


def describe(error):
    """An exception as a run's `error` tag reads it."""
    if isinstance(error, KeyboardInterrupt):
        return f"interrupted by {interruption()}"
    return f"{type(error).__name__}: {error}"


def end_runs_on_sigterm():
    """Turns SIGTERM (sent by `timeout`, Docker, systemd, Slurm) into `Terminated`."""
    _sigterm_received.clear()
    signal.signal(signal.SIGTERM, _raise_terminated)


def interruption():
    """The signal that interrupted this command: "SIGTERM" where SIGTERM came
    (since `end_runs_on_sigterm`), else "SIGINT" (Ctrl-C)."""
    return "SIGTERM" if _sigterm_received.is_set() else "SIGINT"


def software_versions():
    """The versions of `VERSION_PARAMS`; keras-norms's is the `__version__` of
    the code that runs, which an editable install's metadata (written when
    it was installed) does not follow."""
    versions = {param: importlib.metadata.version(dist) for param, dist in VERSION_PARAMS.items()}
    versions["keras_norms_version"] = _keras_norms_version()
    return versions


def backend_params():
    """`BACKEND_PARAMS`: the Keras backend and its version (each backend's
    distribution is named as the backend)."""
    import keras

    backend = keras.config.backend()
    return dict(zip(BACKEND_PARAMS, (backend, importlib.metadata.version(backend))))


def _keras_norms_version():
    """`keras_norms.__version__`, read from its source without importing Keras."""
    spec = importlib.util.find_spec("keras_norms")
    text = Path(spec.origin).read_text(encoding="utf-8")
    return re.search(r'^__version__ = "([^"]+)"', text, re.MULTILINE).group(1)


def git_tags():
    """The commit the code ran from; `git_dirty` only where it had uncommitted
    changes (the exception a reader must see; a clean run needs no tag)."""
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
    return {"mlflow.source.git.commit": commit, **({"git_dirty": "true"} if dirty else {})}


def this_process():
    """The host and process a run lives in, so a later command can tell it is
    gone: the tag `process` without its beat."""
    process = psutil.Process()
    return {
        "host": socket.gethostname(),
        "pid": process.pid,
        "started": round(process.create_time(), 3),
    }


def process_record(process, beat=None):
    """The value of the tag `process` of a run living in `process`
    (`this_process()`), its heartbeat at `beat` (unix time; default: now)."""
    beat = time.time() if beat is None else beat
    return json.dumps({**process, "beat": round(beat, 3)})


def run_process(tags):
    """The record of a run's tag `process` (host, pid, started, beat), or {}
    where it has none (a run recorded before runs carried it) or it is unreadable."""
    try:
        record = json.loads(tags[PROCESS_TAG])
    except (KeyError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}


def heartbeat_period():
    """Seconds between two heartbeats: `HEARTBEAT_S`, or `KERAS_NORMS_HEARTBEAT_S`."""
    value = os.environ.get(HEARTBEAT_ENV)
    if not value:
        return HEARTBEAT_S
    try:
        period = float(value)
    except ValueError:
        period = 0.0
    if not 0 < period < math.inf:
        raise TrackingError(f"{HEARTBEAT_ENV} must be a positive number of seconds, got {value!r}")
    return period


def live_tags():
    """The tags saying where an open run lives: the code, and its process
    with a first heartbeat."""
    return {**git_tags(), PROCESS_TAG: process_record(this_process())}


class Heartbeat:
    """A daemon thread that records the time as the heartbeat in the tag
    `process` of run `run_id`, every `period` seconds (default:
    `heartbeat_period()`), until `stop`.

    A beat that fails (a busy or unreachable server) is not the training's
    problem: the first failure of a streak is reported in one line, and the
    thread beats on.
    """

    def __init__(self, run_id, period=None):
        self._run_id = run_id
        self._period = period or heartbeat_period()
        self._process = this_process()
        # Fixed now: the thread must not follow a later change of the global URI.
        self._client = mlflow.MlflowClient(mlflow.get_tracking_uri())
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"heartbeat {run_id}", daemon=True)
        self._thread.start()

    def _beat(self):
        failing = False
        while not self._stopped.wait(self._period):
            try:
                self._client.set_tag(self._run_id, PROCESS_TAG, process_record(self._process))
                failing = False
            except Exception as error:  # MLflow raises many kinds: each is a missed beat
                if not failing:
                    print(
                        f"Heartbeat of run {self._run_id} not recorded, trying again every "
                        f"{self._period:g} s: {type(error).__name__}: {str(error)[:200]}",
                        file=sys.stderr,
                        flush=True,
                    )
                failing = True

    def stop(self):
        self._stopped.set()
        self._thread.join(_HEARTBEAT_JOIN_S)


def _process_alive(pid, started):
    try:
        process = psutil.Process(pid)
        return (
            abs(process.create_time() - started) < _START_TIME_TOLERANCE_S
            and process.status() != psutil.STATUS_ZOMBIE
        )
    except psutil.Error:  # gone, or not ours to see
        return False


def _system_metrics_wanted():
    """True only where MLFLOW_ENABLE_SYSTEM_METRICS_LOGGING asks for them; sets
    the sampling interval for the run about to start, unless given.

    Off by default: MLflow lists a run's eight or more `system/*` metrics
    before its scores in the run, compare and Models views, and charts them
    beside the training curves. Profiling a sweep is the exception, asked for.
    """
    from mlflow.environment_variables import MLFLOW_ENABLE_SYSTEM_METRICS_LOGGING

    # MLflow reads it when the run starts its monitor.
    os.environ.setdefault("MLFLOW_SYSTEM_METRICS_SAMPLING_INTERVAL", str(SYSTEM_METRICS_INTERVAL_S))
    return (
        MLFLOW_ENABLE_SYSTEM_METRICS_LOGGING.defined and MLFLOW_ENABLE_SYSTEM_METRICS_LOGGING.get()
    )


def _why_stale(tags, host, now, limit):
    """Why a RUNNING run with `tags` has no process left, or None where it may
    have one. A run of this `host` is judged by its process, any other by its
    heartbeat; one recorded before runs carried them cannot be judged."""
    process = run_process(tags)
    try:
        if process.get("host") == host and "pid" in process:
            pid, started = int(process["pid"]), float(process["started"])
            return None if _process_alive(pid, started) else f"process {pid} gone"
        beat = float(process["beat"])
    except (KeyError, TypeError, ValueError):
        return None
    if now - beat <= limit:
        return None
    since = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(beat))
    return f"no heartbeat from {process.get('host', 'an unknown host')} since {since}"


def end_stale_runs():
    """Ends as KILLED, tagged `stale` with the reason, the RUNNING runs whose
    process is gone: on this host, whose process has ended; on any other, whose
    heartbeat stopped `STALE_AFTER_BEATS` periods ago. Prints one line naming
    them; returns their ids."""
    limit = STALE_AFTER_BEATS * heartbeat_period()
    client = mlflow.MlflowClient()
    experiments = [e.experiment_id for e in client.search_experiments(view_type=ViewType.ALL)]
    if not experiments:
        return []
    found = client.search_runs(
        experiments,
        filter_string="attributes.status = 'RUNNING'",
        run_view_type=ViewType.ALL,
        max_results=50_000,
    )
    host, now = socket.gethostname(), time.time()
    stale = []
    for run in found:
        reason = _why_stale(run.data.tags, host, now, limit)
        if reason is not None:
            client.set_tag(run.info.run_id, "stale", reason)
            client.set_terminated(run.info.run_id, "KILLED")
            stale.append(run.info.run_id)
    if stale:
        print(
            f"Ended {len(stale)} stale run(s) as KILLED, their process gone: {', '.join(stale)}",
            file=sys.stderr,
            flush=True,
        )
    return stale


@contextlib.contextmanager
def tracked_run(
    experiment, run_name, params, tags, parent_run_id=None, description=None, resume_run_id=None
):
    """Starts an MLflow run (a child of `parent_run_id` when given) that always
    ends FINISHED, FAILED or KILLED.

    `description` (Markdown) is the run's note in the UI. The run logs system
    metrics (`system/...`, every `SYSTEM_METRICS_INTERVAL_S` seconds) where
    MLFLOW_ENABLE_SYSTEM_METRICS_LOGGING is true, and a heartbeat (see the
    module) while it is open. `resume_run_id` continues that run instead (a
    resumed sweep's parent): its params and description are already logged;
    its process tags become this process's. A run another
    command took for dead (its heartbeats lost for a while) still ends with
    its own status, the `stale` tag removed.

    On an exception the run ends FAILED (KILLED on Ctrl-C or SIGTERM) with the
    error as the tag `error`, and the exception propagates.
    """
    period = heartbeat_period()
    if resume_run_id:
        run = mlflow.start_run(run_id=resume_run_id, log_system_metrics=_system_metrics_wanted())
        mlflow.set_tags({**live_tags(), **tags})
    else:
        run = mlflow.start_run(
            experiment_id=experiment,
            run_name=run_name,
            nested=parent_run_id is not None,
            parent_run_id=parent_run_id,
            tags={**live_tags(), **tags},
            description=description,
            log_system_metrics=_system_metrics_wanted(),
        )
    heartbeat = Heartbeat(run.info.run_id, period)
    status = "FINISHED"
    try:
        if not resume_run_id:
            mlflow.log_params(params)
        yield run
    except BaseException as error:
        status = "KILLED" if isinstance(error, KeyboardInterrupt) else "FAILED"
        with contextlib.suppress(Exception):
            mlflow.set_tag("error", describe(error)[:5000])
        raise
    finally:
        # Ending must not be cut short by a second signal: the run would stay RUNNING.
        with _signals_deferred():
            heartbeat.stop()
            with contextlib.suppress(Exception):
                if "stale" in mlflow.get_run(run.info.run_id).data.tags:
                    mlflow.MlflowClient().delete_tag(run.info.run_id, "stale")
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
