"""The MLflow UI on the project's store: an `mlflow server` bound to 127.0.0.1,
one worker, served until Ctrl-C (the `ui` command)."""

import socket
import subprocess
import sys
import time
import urllib.request

from .. import paths
from ..errors import ExperimentError
from . import store

# Seconds the MLflow server may take to answer after it starts.
START_TIMEOUT_S = 120


def ui_command(port):
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


def serve(port, links):
    """Serves the UI on 127.0.0.1:`port` until Ctrl-C or SIGTERM, then stops
    the server; once it answers, prints a line and each of `links(url)`. An
    unusable store, a taken port or a server that stops on its own raise an
    `ExperimentError`."""
    store.open_store()  # creates the local store if needed; refuses an unusable one
    if not _port_free(port):
        raise ExperimentError(
            f"port {port} on 127.0.0.1 is taken (another MLflow UI?): "
            f"stop what uses it, or pass --port with a free one"
        )
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(ui_command(port))
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not _answers(f"{url}/health"):
            if server.poll() is not None:
                raise ExperimentError(
                    f"the MLflow server exited with status {server.returncode} "
                    "before answering; its messages are above"
                )
            if time.monotonic() > deadline:
                raise ExperimentError(
                    f"the MLflow server did not answer on {url} within {START_TIMEOUT_S} s"
                )
            time.sleep(0.5)
        print(f"MLflow UI on {url} (Ctrl-C stops it)", flush=True)
        for line in links(url):
            print(f"  {line}", flush=True)
        status = server.wait()
        if status != 0:
            raise ExperimentError(f"the MLflow server stopped with status {status}")
    except KeyboardInterrupt:  # Ctrl-C, or SIGTERM (`runs.Terminated`)
        print("MLflow UI stopped", flush=True)
    finally:
        if server.poll() is None:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
