"""MLflow tracking: the store, experiments, run life cycle and Keras logging.

The store is `MLFLOW_TRACKING_URI` when set, else a SQLite file in the
repository's `mlruns/`, with artifacts beside it. Everything here uses
MLflow's own APIs; tasks log through the active run with `mlflow.log_*`, the
helpers below and those of `experiments.keras_logging`.
"""

import contextlib
import importlib.metadata
import os
import subprocess
import urllib.parse
import warnings
from pathlib import Path

import mlflow
from mlflow.exceptions import MlflowException

from experiments.errors import TrackingError

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_STORE = REPO_ROOT / "mlruns"
DEFAULT_URI = f"sqlite:///{DEFAULT_STORE / 'mlflow.db'}"

# A remote store is probed once, without MLflow's default retries (minutes).
PROBE_TIMEOUT_S = 5

# Params that record the software, not the experiment: the report groups by the rest.
VERSION_PARAMS = {
    "keras_version": "keras",
    "tensorflow_version": "tensorflow",
    "keras_norms_version": "keras-norms",
}


def tracking_uri():
    return os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_URI


def _sqlite_path(uri):
    """The database file of a `sqlite:///` URI, else None."""
    if not uri.startswith("sqlite:///"):
        return None
    return Path(uri[len("sqlite:///"):])


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


def connect(uri=None):
    """Points MLflow at the store and checks it answers, before any training.

    A SQLite store gets its directory and schema here, once, so later runs
    (and processes) never race to create them.
    """
    uri = uri or tracking_uri()
    database = _sqlite_path(uri)
    if database is not None:
        database.parent.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(uri)
    probe = {}
    if urllib.parse.urlsplit(uri).scheme in ("http", "https"):
        probe = {
            "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
            "MLFLOW_HTTP_REQUEST_TIMEOUT": str(PROBE_TIMEOUT_S),
        }
    try:
        with _environment(**probe):
            mlflow.MlflowClient().search_experiments(max_results=1)
    except Exception as error:  # MLflow raises many kinds: report them all alike
        raise TrackingError(
            f"Cannot reach the MLflow tracking store {uri}: {type(error).__name__}: "
            f"{str(error)[:300]}. Start the server, or unset MLFLOW_TRACKING_URI to use "
            f"the local store {DEFAULT_URI}."
        ) from None
    return uri


def experiment_id(name):
    """Returns the id of experiment `name`, creating it if needed.

    With a SQLite store its artifacts go in a folder named after it beside the
    database, so a temporary store keeps everything in one place.
    """
    client = mlflow.MlflowClient()
    experiment = client.get_experiment_by_name(name)
    if experiment is not None:
        return experiment.experiment_id
    database = _sqlite_path(mlflow.get_tracking_uri())
    location = None
    if database is not None:
        location = (database.parent / name.replace("/", "_")).resolve().as_uri()
    try:
        return client.create_experiment(name, artifact_location=location)
    except MlflowException:
        # Another process created it in between.
        experiment = client.get_experiment_by_name(name)
        if experiment is None:
            raise
        return experiment.experiment_id


def software_versions():
    return {param: importlib.metadata.version(dist) for param, dist in VERSION_PARAMS.items()}


def git_tags():
    """The commit the code ran from, and whether it had uncommitted changes."""
    def git(*args):
        return subprocess.run(
            ["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=10
        ).stdout.strip()

    try:
        commit = git("rev-parse", "HEAD")
        dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.SubprocessError):
        return {}
    if not commit:
        return {}
    return {"mlflow.source.git.commit": commit, "git_dirty": str(dirty).lower()}


@contextlib.contextmanager
def tracked_run(experiment, run_name, params, tags, nested=False):
    """Starts an MLflow run that always ends FINISHED, FAILED or KILLED.

    On an exception the run ends FAILED (KILLED on Ctrl-C) with the error as the
    tag `error`, and the exception propagates.
    """
    run = mlflow.start_run(experiment_id=experiment, run_name=run_name, nested=nested,
                           tags={**git_tags(), **tags})
    status = "FINISHED"
    try:
        mlflow.log_params(params)
        yield run
    except BaseException as error:
        status = "KILLED" if isinstance(error, KeyboardInterrupt) else "FAILED"
        with contextlib.suppress(Exception):
            mlflow.set_tag("error", f"{type(error).__name__}: {error}"[:5000])
        raise
    finally:
        mlflow.end_run(status)


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
    mlflow.log_input(MetaDataset(source, name=f"{name}:{split}", schema=schema), context=context)
