"""The tracking server for many writers: `mlflow server` on the project's store.

Trials on other machines log through it over HTTP (`MLFLOW_TRACKING_URI=
http://HOST:PORT`), artifacts included (`--serve-artifacts`), so no node needs
the store's disk. The backend store is the project's SQLite file unless a
SQLAlchemy URI (PostgreSQL, say) is given; its password comes from the
driver's own environment (PGPASSWORD, ~/.pgpass), not the URI, which the
server's command line shows.

Bound beyond loopback, the server authenticates every request with MLflow's
`basic-auth` app. Its admin password comes from `MLFLOW_AUTH_ADMIN_PASSWORD`
on the first start (MLflow keeps the admin user in an auth database beside
the store from then on), never from the command line or a file of the
repository; clients send `MLFLOW_TRACKING_USERNAME`/`MLFLOW_TRACKING_PASSWORD`.
"""

import ipaddress
import os
import secrets
import sys
import urllib.parse
from pathlib import Path

from .. import paths
from ..errors import ExperimentError

AUTH_DATABASE = "basic_auth.db"
AUTH_CONFIG = "basic_auth.ini"
PASSWORD_ENV = "MLFLOW_AUTH_ADMIN_PASSWORD"
# The basic-auth app's CSRF key: the same in every server worker.
SECRET_KEY_ENV = "MLFLOW_FLASK_SERVER_SECRET_KEY"


def is_loopback(host):
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_exposure(host, auth):
    """Refuses to serve anonymously beyond loopback."""
    if not is_loopback(host) and not auth:
        raise ExperimentError(
            f"refusing to serve the store on --host {host} without authentication: anyone who "
            f"reaches it could read and change every run. Add --auth (with {PASSWORD_ENV} set "
            "on the first start), or serve on 127.0.0.1"
        )


def write_auth_config(directory):
    """Writes the basic-auth app's settings (no secret in it) into `directory`;
    returns its path."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / AUTH_CONFIG
    path.write_text(
        "[mlflow]\n"
        "# Written by `python -m experiments server --auth`. The admin password is read\n"
        f"# from {PASSWORD_ENV} on the first start, never from here.\n"
        "default_permission = READ\n"
        f"database_uri = sqlite:///{(directory / AUTH_DATABASE).resolve()}\n"
        "admin_username = admin\n"
        "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
    )
    return path


def auth_environment(directory, environ=os.environ):
    """The environment that turns on the basic-auth app with its database in
    `directory`; refuses when the admin user would be created without a password."""
    if not (Path(directory) / AUTH_DATABASE).exists() and not environ.get(PASSWORD_ENV):
        raise ExperimentError(
            f"--auth needs the admin password on its first start: set {PASSWORD_ENV} in the "
            "environment (not on the command line), then start the server again"
        )
    return {
        "MLFLOW_AUTH_CONFIG_PATH": str(write_auth_config(directory)),
        SECRET_KEY_ENV: environ.get(SECRET_KEY_ENV) or secrets.token_hex(32),
    }


def check_backend_store(uri):
    """Refuses a store URI holding a password (`mlflow server`'s command line,
    which every user of the machine can read, would show it), and a PostgreSQL
    store whose driver is not installed, saying which to install.

    `postgresql://` is SQLAlchemy's psycopg (3) driver; `postgresql+DRIVER://`
    names another, which MLflow's own error reports.
    """
    parts = urllib.parse.urlsplit(uri)
    if parts.password:
        raise ExperimentError(
            f"the store URI {parts.scheme}://{parts.username}:***@{parts.hostname}... holds a "
            "password, which the server's command line would show to every user of the "
            "machine: leave it out, and give it to the driver in PGPASSWORD or ~/.pgpass"
        )
    if uri.startswith(("postgresql:", "postgresql+psycopg:")):
        try:
            import psycopg  # noqa: F401  (only whether the driver is installed)
        except ImportError:
            raise ExperimentError(
                f"the store {uri.split('@')[-1]} is PostgreSQL, whose driver is not installed: "
                "pip install 'psycopg[binary]'"
            ) from None


def server_command(host, port, backend_store_uri, artifacts_destination, workers=2, auth=False):
    """The `mlflow server` command line (it holds no secret)."""
    command = [
        sys.executable,
        "-m",
        "mlflow",
        "server",
        "--host",
        host,
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--backend-store-uri",
        backend_store_uri,
        "--serve-artifacts",
        "--artifacts-destination",
        artifacts_destination,
    ]
    if auth:
        command += ["--app-name", "basic-auth"]
    return command


def serve(host, port, backend_store_uri=None, artifacts_destination=None, auth=False, workers=2):
    """Replaces this process with the tracking server (the `server` command):
    on `backend_store_uri`, by default the project's SQLite store (created
    first), its artifacts kept in `artifacts_destination`, by default
    `artifacts/` beside the store. Refuses an exposed host without `auth`
    and a store it cannot serve, before anything starts."""
    from . import store

    check_exposure(host, auth)
    uri = backend_store_uri or store.tracking_uri()
    if uri.startswith(("http:", "https:")):  # that points at a server: serve the local store
        uri = store.default_uri()
    check_backend_store(uri)
    database = store.sqlite_path(uri)
    if database is not None:
        store.open_store(uri)  # creates the store once, before the server's workers start
    home = database.parent if database is not None else paths.store_dir()
    artifacts = artifacts_destination or (home / "artifacts").resolve().as_uri()
    # MLflow's job runner serves GenAI features the suite does not use: several
    # processes saved.
    environment = {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false", **os.environ}
    if auth:
        environment.update(auth_environment(home))
    command = server_command(host, port, uri, artifacts, workers, auth)
    print(
        f"MLflow tracking server on http://{host}:{port} "
        f"({'login required' if auth else 'no login'}; store {uri}, artifacts "
        f"{artifacts}). Ctrl-C stops it.",
        flush=True,
    )
    # The server replaces this process, so signals reach it directly.
    os.execve(command[0], command, environment)
