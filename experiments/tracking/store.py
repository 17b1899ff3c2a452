"""The MLflow store: where it is, opening it, and the experiments in it.

The store is `MLFLOW_TRACKING_URI` when set, else the SQLite file
`mlruns/mlflow.db` in the project directory (`experiments.paths`), with each
experiment's artifacts in a folder beside it. A SQLite store is created, and
its experiments added, under a file lock beside the database, so processes
that start together never race to create the same tables or experiment.
"""

import contextlib
import fcntl
import os
import sqlite3
import urllib.parse
from pathlib import Path

import mlflow
from mlflow.exceptions import MlflowException

from .. import paths
from ..errors import TrackingError
from . import runs

# A remote store is probed once, without MLflow's default retries (minutes).
PROBE_TIMEOUT_S = 5

# MLflow's UI opens an experiment on its runs table, not on traces, when it is
# tagged as a model-training ("custom model development") experiment.
EXPERIMENT_KIND_TAG = "mlflow.experimentKind"
MODEL_TRAINING_KIND = "custom_model_development"

_USE_ANOTHER = "or set MLFLOW_TRACKING_URI to another store (e.g. sqlite:////tmp/mlruns/mlflow.db)"


def default_uri():
    return f"sqlite:///{paths.store_dir() / 'mlflow.db'}"


def tracking_uri():
    return os.environ.get("MLFLOW_TRACKING_URI") or default_uri()


def sqlite_path(uri):
    """The database file of a `sqlite:///` URI, else None."""
    if not uri.startswith("sqlite:///"):
        return None
    return Path(uri[len("sqlite:///") :])


@contextlib.contextmanager
def store_lock(uri):
    """Holds an exclusive lock on `<database>.lock` for a SQLite store; no-op otherwise."""
    database = sqlite_path(uri)
    if database is None:
        yield
        return
    with open(database.with_name(database.name + ".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


@contextlib.contextmanager
def _environment(**values):
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _check_writable(database):
    """Refuses, in one line, a SQLite store this process cannot write."""
    directory = database.parent
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise TrackingError(
            f"Cannot create the MLflow store directory {directory}: "
            f"{error.strerror}. Create it writable, {_USE_ANOTHER}."
        ) from None
    if not os.access(directory, os.W_OK | os.X_OK):
        raise TrackingError(
            f"The MLflow store directory {directory} is not writable. "
            f"Make it writable (chmod u+w), {_USE_ANOTHER}."
        )
    if not database.exists():
        return
    read_only = TrackingError(
        f"The MLflow store {database} is read-only. Make it writable (chmod u+w), {_USE_ANOTHER}."
    )
    if not os.access(database, os.W_OK):
        raise read_only
    # A write, rolled back: it fails whatever else keeps the file from being
    # written, where os.access may not tell.
    try:
        connection = sqlite3.connect(f"file:{database}?mode=rw", uri=True, timeout=30)
        try:
            connection.execute("BEGIN IMMEDIATE")
            version = connection.execute("PRAGMA user_version").fetchone()[0]
            connection.execute(f"PRAGMA user_version = {version}")
            connection.rollback()
        finally:
            connection.close()
    except sqlite3.OperationalError as error:
        if "readonly" in str(error) or "read-only" in str(error):
            raise read_only from None
        raise TrackingError(
            f"Cannot write the MLflow store {database}: {error}. Check the file, {_USE_ANOTHER}."
        ) from None


def open_store(uri=None):
    """Points MLflow at the store, checks it can be written, and ends stale runs.

    Every command calls it before anything else touches the store. A SQLite
    store gets its directory and schema here, under the lock.
    """
    uri = uri or tracking_uri()
    runs.heartbeat_period()  # a bad KERAS_NORMS_HEARTBEAT_S is refused before the store is touched
    database = sqlite_path(uri)
    if database is not None:
        _check_writable(database)
    mlflow.set_tracking_uri(uri)
    probe = {}
    if urllib.parse.urlsplit(uri).scheme in ("http", "https"):
        probe = {
            "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
            "MLFLOW_HTTP_REQUEST_TIMEOUT": str(PROBE_TIMEOUT_S),
        }
    try:
        with store_lock(uri), _environment(**probe):
            mlflow.MlflowClient().search_experiments(max_results=1)
    except Exception as error:  # MLflow raises many kinds: report them all alike
        problem = "Cannot open" if database is not None else "Cannot reach"
        fix = (
            "Check the file"
            if database is not None
            else "Start the server, or unset "
            f"MLFLOW_TRACKING_URI to use the local store {default_uri()}"
        )
        raise TrackingError(
            f"{problem} the MLflow tracking store {uri}: "
            f"{type(error).__name__}: {str(error)[:300]}. {fix}."
        ) from None
    runs.end_stale_runs()
    return uri


def experiment_id(name):
    """Returns the id of experiment `name`, creating it (a model-training
    experiment) if needed.

    With a SQLite store its artifacts go in a folder named after it beside the
    database, so a temporary store keeps everything in one place.
    """
    uri = mlflow.get_tracking_uri()
    client = mlflow.MlflowClient()
    with store_lock(uri):
        experiment = client.get_experiment_by_name(name)
        if experiment is None:
            database = sqlite_path(uri)
            location = None
            if database is not None:
                location = (database.parent / name.replace("/", "_")).resolve().as_uri()
            try:
                return client.create_experiment(
                    name,
                    artifact_location=location,
                    tags={EXPERIMENT_KIND_TAG: MODEL_TRAINING_KIND},
                )
            except MlflowException:
                # A server store has no lock: another process created it in between.
                experiment = client.get_experiment_by_name(name)
                if experiment is None:
                    raise
        if EXPERIMENT_KIND_TAG not in experiment.tags:  # made before the tag was set
            client.set_experiment_tag(
                experiment.experiment_id, EXPERIMENT_KIND_TAG, MODEL_TRAINING_KIND
            )
        return experiment.experiment_id


def check_reaches_every_machine(machines):
    """Refuses a SQLite store for runs spread over `machines` machines: it is
    on this one only."""
    uri = tracking_uri()
    if sqlite_path(uri) is not None and machines > 1:
        raise TrackingError(
            f"the Ray cluster spans {machines} machines, and the SQLite store {uri} is on "
            "this one only: start the suite's `server` command and set "
            "MLFLOW_TRACKING_URI=http://HOST:PORT (see the README's cluster recipe)"
        )
