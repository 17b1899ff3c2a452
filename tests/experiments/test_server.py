"""`python -m experiments server`: a two-node Ray cluster logging through it
over HTTP with authentication, and what the command refuses.

Servers and clusters start inside the test's loopback-only namespace and are
stopped by the test, each step bounded in time.
"""

import contextlib
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import mlflow
import pytest

from experiments.cli import main

PASSWORD = "a-test-only-Passw0rd"
RAY = str(Path(sys.executable).with_name("ray"))


@contextlib.contextmanager
def serving(store_dir, port, *options, env=None):
    """Runs the server command on a SQLite store in `store_dir` until the block ends."""
    uri = f"sqlite:///{store_dir / 'mlflow.db'}"
    server = subprocess.Popen(
        [sys.executable, "-m", "experiments", "server", "--port", str(port), "--workers", "1",
         *options],
        env={**os.environ, "MLFLOW_TRACKING_URI": uri, **(env or {})},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 120
        while True:
            assert server.poll() is None, server.communicate()[0][-3000:]
            assert time.monotonic() < deadline, "the server did not answer within 120 s"
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2)
                break
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.5)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)


@contextlib.contextmanager
def two_node_cluster(port, env):
    """A Ray head and a second node on this machine, one CPU each; their
    workers get `env` (a login to the tracking server, say)."""
    env = {**os.environ, "RAY_AUTH_MODE": "disabled", **env}
    common = ["--num-cpus", "1", "--node-ip-address", "127.0.0.1", "--disable-usage-stats"]
    try:
        subprocess.run([RAY, "start", "--head", "--port", str(port), "--include-dashboard",
                        "false", *common], env=env, check=True, timeout=120,
                       capture_output=True)
        subprocess.run([RAY, "start", "--address", f"127.0.0.1:{port}", *common], env=env,
                       check=True, timeout=120, capture_output=True)
        yield f"127.0.0.1:{port}"
    finally:
        # Inside the test's PID namespace `ray stop` sees only this cluster.
        subprocess.run([RAY, "stop", "--force"], env=env, timeout=60, capture_output=True)


def _runs(tracking_uri, **tags):
    client = mlflow.MlflowClient(tracking_uri)
    experiment = client.get_experiment_by_name("keras-norms-cnn")
    runs = client.search_runs([experiment.experiment_id])
    return [r for r in runs if all(r.data.tags.get(k) == v for k, v in tags.items())]


@pytest.mark.loopback_namespace(timeout=200)
def test_a_two_node_cluster_sweep_logs_every_run_and_artifact_through_a_server_with_auth(
    sweep_process, tmp_path, monkeypatch
):
    login = {"MLFLOW_TRACKING_USERNAME": "admin", "MLFLOW_TRACKING_PASSWORD": PASSWORD}
    with serving(tmp_path / "served", 5081, "--auth",
                 env={"MLFLOW_AUTH_ADMIN_PASSWORD": PASSWORD}) as url:
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"{url}/api/2.0/mlflow/experiments/search?max_results=1",
                                   timeout=10)
        assert refused.value.code == 401

        # As on a real cluster, each node's workers get the login from the
        # environment `ray start` ran in.
        with two_node_cluster(6390, login) as address:
            sweep = sweep_process("--norms", "none,batch", "--lrs", "1e-3,1e-2", "--epochs",
                                  "1", "--ray-address", address, "--study", "cluster",
                                  MLFLOW_TRACKING_URI=url, RAY_AUTH_MODE="disabled", **login)
            output, _ = sweep.communicate(timeout=200)
        assert sweep.returncode == 0, output
        assert "4 runs, 2 at once, 1 CPU(s) each" in output  # both nodes' CPUs

        for name, value in login.items():
            monkeypatch.setenv(name, value)
        [parent] = _runs(url, run_kind="sweep")
        children = _runs(url, run_kind="train")
        assert parent.info.status == "FINISHED"
        assert len(children) == 4 and all(c.info.status == "FINISHED" for c in children)
        client = mlflow.MlflowClient(url)
        for child in children:
            # Artifacts went through the server, into its artifact store.
            assert child.info.artifact_uri.startswith("mlflow-artifacts:")
            assert "learning_curves.png" in {a.path for a in client.list_artifacts(
                child.info.run_id)}
    served = list((tmp_path / "served" / "artifacts").rglob("learning_curves.png"))
    assert len(served) == 4
    # The password is in no file the server wrote.
    for path in (tmp_path / "served").rglob("*.ini"):
        assert PASSWORD not in path.read_text()


def test_the_server_refuses_to_serve_beyond_loopback_without_auth(store, capsys):
    assert main(["server", "--host", "0.0.0.0"]) == 1
    error = capsys.readouterr().err
    assert "refusing to serve the store on --host 0.0.0.0 without authentication" in error
    assert "--auth" in error


def test_auth_on_a_new_store_needs_the_admin_password_from_the_environment(
    store, monkeypatch, capsys
):
    monkeypatch.delenv("MLFLOW_AUTH_ADMIN_PASSWORD", raising=False)
    assert main(["server", "--auth"]) == 1
    assert "set MLFLOW_AUTH_ADMIN_PASSWORD in the environment" in capsys.readouterr().err


def test_a_port_outside_1_to_65535_is_refused(capsys):
    with pytest.raises(SystemExit):
        main(["server", "--port", "70000"])
    assert "--port: must be a port number in 1-65535, got '70000'" in capsys.readouterr().err
