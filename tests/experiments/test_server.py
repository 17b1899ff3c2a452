"""`python -m experiments server`: a two-node Ray cluster logging through it
over HTTP with authentication, set up step by step as the README's cluster
recipe says (Ray's token authentication included), a sweep logging through it
into PostgreSQL, and what the command refuses.

Servers, clusters and databases start inside the test's loopback-only
namespace and are stopped by the test, each step bounded in time.
"""

import contextlib
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import mlflow
import psutil
import pytest

from experiments.cli import main
from tests.experiments import processes
from tests.experiments.ports import free_port

PASSWORD = "a-test-only-Passw0rd"
# The steps of the README's cluster recipe that `two_node_cluster` and the
# cluster test take, each as the recipe writes it.
RECIPE_STEPS = (
    "read -rs MLFLOW_AUTH_ADMIN_PASSWORD && export MLFLOW_AUTH_ADMIN_PASSWORD",
    "experiments server --host 10.0.0.1 --port 5000 --auth",
    "export MLFLOW_TRACKING_URI=http://10.0.0.1:5000 MLFLOW_TRACKING_USERNAME=admin",
    "read -rs MLFLOW_TRACKING_PASSWORD && export MLFLOW_TRACKING_PASSWORD",
    "export RAY_AUTH_MODE=token",
    "ray get-auth-token --generate",
    "ray start --head --port 6379",
    "read -rs RAY_AUTH_TOKEN && export RAY_AUTH_TOKEN",
    "ray start --address 10.0.0.2:6379",
    "experiments sweep --task cnn",
    "--ray-address 10.0.0.2:6379",
)
RAY = str(Path(sys.executable).with_name("ray"))


@contextlib.contextmanager
def serving(store_dir, port, *options, env=None):
    """Runs the server command on a SQLite store in `store_dir` until the block ends."""
    uri = f"sqlite:///{store_dir / 'mlflow.db'}"
    server = processes.start(
        [
            sys.executable,
            "-m",
            "experiments",
            "server",
            "--port",
            str(port),
            "--workers",
            "1",
            *options,
        ],
        env={**os.environ, "MLFLOW_TRACKING_URI": uri, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
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
            pass
        processes.kill_group(server)  # the MLflow server too, had it not stopped


def test_the_readme_cluster_recipe_has_the_steps_the_cluster_test_takes():
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    recipe = readme.split("**A cluster.**")[1].split("```bash")[1].split("```")[0]
    missing = [step for step in RECIPE_STEPS if step not in recipe]
    assert not missing, f"the README's cluster recipe no longer has: {missing}"


@contextlib.contextmanager
def two_node_cluster(port, env, home):
    """A Ray head and a second node on this machine, one CPU each, started as
    the README's cluster recipe says: token authentication on everywhere, the
    token made on the head with `ray get-auth-token --generate` (kept in its
    `~/.ray`, under `home`) and given to the second node, whose home has none,
    in `RAY_AUTH_TOKEN`. Their workers get `env` (a login to the tracking
    server, say). Yields (the head's address, the token)."""
    head_home, node_home = home / "head", home / "node"
    head_home.mkdir()
    node_home.mkdir()
    env = {**os.environ, "RAY_AUTH_MODE": "token", **env}
    made = subprocess.run(
        [RAY, "get-auth-token", "--generate"],
        env={**env, "HOME": str(head_home)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert made.returncode == 0, made.stderr[-3000:]
    token = made.stdout.strip().splitlines()[-1]
    assert (head_home / ".ray" / "auth_token").read_text().strip() == token
    common = ["--num-cpus", "1", "--node-ip-address", "127.0.0.1", "--disable-usage-stats"]
    head = ["env", f"HOME={head_home}", RAY, "start", "--head", "--port", str(port)]
    head += ["--include-dashboard", "false", *common]
    node = ["env", f"HOME={node_home}", RAY, "start", "--address", f"127.0.0.1:{port}", *common]
    # In a PID namespace of its own the cluster ends whole when its first
    # process does; `ray stop` would stop every Ray process of the test's
    # namespace, the session's `local_ray` with them. The token reaches the
    # second node as the recipe's `export RAY_AUTH_TOKEN` does: in its environment.
    cluster = subprocess.Popen(
        [
            "unshare",
            "--pid",
            "--fork",
            "--kill-child",
            "--mount-proc",
            "sh",
            "-c",
            f'{shlex.join(head)} && RAY_AUTH_TOKEN="$TOKEN" {shlex.join(node)} '
            "&& echo started && exec sleep infinity",
        ],
        env={**env, "TOKEN": token},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        said = []
        for line in cluster.stdout:  # `ray start` bounds its own waits
            said.append(line)
            if line.strip() == "started":
                break
        else:
            raise AssertionError(f"the two-node cluster did not start:\n{''.join(said)[-3000:]}")
        yield f"127.0.0.1:{port}", token
    finally:
        cluster.kill()
        cluster.wait(timeout=60)


def _postgres_bin():
    """The directory of PostgreSQL's `initdb` and `postgres`, or None: on the
    PATH, else where Debian's packages put them."""
    found = shutil.which("postgres")
    candidates = [Path(found).parent] if found else []
    candidates += sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda path: int(path.parent.name),
        reverse=True,
    )
    for directory in candidates:
        if (directory / "initdb").exists() and (directory / "postgres").exists():
            return directory
    return None


# PostgreSQL refuses to run as root: it runs as `nobody`, which needs root to
# switch to. Unprivileged, the namespace maps the user to root there, and that
# "root" cannot switch to anyone.
NOBODY = 65534
_AS_NOBODY = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
_ROOT = os.geteuid() == 0 and Path("/proc/self/uid_map").read_text().split()[:3] == [
    "0",
    "0",
    "4294967295",
]


@contextlib.contextmanager
def postgresql(password):
    """A throwaway PostgreSQL cluster on 127.0.0.1 (a free port; its socket in
    its own directory) with a database `mlflow` owned by the user `mlflow`;
    yields the database's URI, which holds no password (libpq reads
    PGPASSWORD). Stopped and deleted when the block ends."""
    import psycopg

    bindir = _postgres_bin()
    home = Path(tempfile.mkdtemp(prefix="pg", dir="/tmp"))
    port = free_port()
    server = None
    try:
        os.chown(home, NOBODY, NOBODY)
        secret = home / "password"
        secret.write_text(password)
        os.chown(secret, NOBODY, NOBODY)
        subprocess.run(
            [
                *_AS_NOBODY,
                bindir / "initdb",
                "--pgdata",
                home / "data",
                "--username",
                "mlflow",
                "--pwfile",
                secret,
                "--auth",
                "scram-sha-256",
                "--encoding",
                "UTF8",
                "--locale",
                "C",
                "--no-sync",
            ],
            cwd=home,
            check=True,
            timeout=120,
            capture_output=True,
        )
        secret.unlink()
        with open(home / "log", "w") as log:
            server = subprocess.Popen(
                [
                    *_AS_NOBODY,
                    bindir / "postgres",
                    "-D",
                    home / "data",
                    "-p",
                    str(port),
                    "-c",
                    "listen_addresses=127.0.0.1",
                    "-c",
                    f"unix_socket_directories={home}",
                    "-c",
                    "fsync=off",
                ],
                cwd=home,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        login = {
            "host": "127.0.0.1",
            "port": port,
            "user": "mlflow",
            "password": password,
            "connect_timeout": 2,
        }
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, (home / "log").read_text()[-3000:]
            try:
                connection = psycopg.connect(dbname="postgres", autocommit=True, **login)
                break
            except psycopg.OperationalError:
                assert time.monotonic() < deadline, "PostgreSQL did not answer within 60 s"
                time.sleep(0.5)
        with connection:
            connection.execute("CREATE DATABASE mlflow")
        yield f"postgresql://mlflow@127.0.0.1:{port}/mlflow"
    finally:
        if server is not None:
            server.send_signal(signal.SIGINT)  # PostgreSQL's fast shutdown
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(timeout=10)
        shutil.rmtree(home, ignore_errors=True)


def _runs(tracking_uri, **tags):
    client = mlflow.MlflowClient(tracking_uri)
    experiment = client.get_experiment_by_name("keras-norms-cnn")
    runs = client.search_runs([experiment.experiment_id])
    return [r for r in runs if all(r.data.tags.get(k) == v for k, v in tags.items())]


# The ceilings only catch a hang: the sweep takes about a minute on 2 idle cores.
@pytest.mark.loopback_namespace(timeout=400)
def test_a_two_node_cluster_sweep_logs_every_run_and_artifact_through_a_server_with_auth(
    sweep_process, tmp_path, monkeypatch
):
    login = {"MLFLOW_TRACKING_USERNAME": "admin", "MLFLOW_TRACKING_PASSWORD": PASSWORD}
    with serving(
        tmp_path / "served", 5081, "--auth", env={"MLFLOW_AUTH_ADMIN_PASSWORD": PASSWORD}
    ) as url:
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(
                f"{url}/api/2.0/mlflow/experiments/search?max_results=1", timeout=10
            )
        assert refused.value.code == 401

        # As on a real cluster, each node's workers get the login from the
        # environment `ray start` ran in.
        with two_node_cluster(6390, login, tmp_path) as (address, token):
            # The machine the sweep starts on: the head's token, as the recipe has it.
            sweep = sweep_process(
                "--norms",
                "none,batch",
                "--epochs",
                "1",
                "--ray-address",
                address,
                "--study",
                "cluster",
                MLFLOW_TRACKING_URI=url,
                RAY_AUTH_MODE="token",
                RAY_AUTH_TOKEN=token,
                **login,
            )
            output, _ = sweep.communicate(timeout=360)
        assert sweep.returncode == 0, output
        assert "2 runs, 2 at once, 1 CPU(s) each" in output  # both nodes' CPUs

        for name, value in login.items():
            monkeypatch.setenv(name, value)
        [parent] = _runs(url, run_kind="sweep")
        children = _runs(url, run_kind="train")
        assert parent.info.status == "FINISHED"
        assert len(children) == 2 and all(c.info.status == "FINISHED" for c in children)
        client = mlflow.MlflowClient(url)
        for child in children:
            # Artifacts went through the server, into its artifact store.
            assert child.info.artifact_uri.startswith("mlflow-artifacts:")
            assert "learning_curves.png" in {
                a.path for a in client.list_artifacts(child.info.run_id)
            }
    served = list((tmp_path / "served" / "artifacts").rglob("learning_curves.png"))
    assert len(served) == 2
    # The password is in no file the server wrote.
    for path in (tmp_path / "served").rglob("*.ini"):
        assert PASSWORD not in path.read_text()


@pytest.mark.skipif(
    _postgres_bin() is None,
    reason="PostgreSQL's initdb and postgres are not "
    "installed (Debian: apt-get install postgresql)",
)
@pytest.mark.skipif(
    not _ROOT, reason="PostgreSQL runs as `nobody` here, which needs the tests to run as root"
)
@pytest.mark.loopback_namespace(timeout=150)
def test_two_sweeps_at_once_log_every_run_through_the_server_into_postgresql(
    sweep_process, tmp_path
):
    import psycopg

    password = "a-test-only-Pg-passw0rd"
    with postgresql(password) as database:
        # The password stays out of the URI, hence out of every command line.
        with serving(
            tmp_path / "served",
            free_port(),
            "--backend-store-uri",
            database,
            "--artifacts-destination",
            (tmp_path / "artifacts").as_uri(),
            env={"PGPASSWORD": password},
        ) as url:
            # Two writers at once, each training its runs in its own process.
            sweeps = [
                sweep_process(
                    "--norms",
                    "none,batch",
                    "--epochs",
                    "1",
                    "--workers",
                    "1",
                    "--study",
                    f"postgres-{index}",
                    MLFLOW_TRACKING_URI=url,
                )
                for index in range(2)
            ]
            for sweep in sweeps:
                output, _ = sweep.communicate(timeout=180)
                assert sweep.returncode == 0, output
            assert not any(
                password in " ".join(process.info["cmdline"] or [])
                for process in psutil.process_iter(["cmdline"])
            )

            for index in range(2):
                [parent] = _runs(url, run_kind="sweep", study=f"postgres-{index}")
                children = _runs(url, run_kind="train", study=f"postgres-{index}")
                assert parent.info.status == "FINISHED"
                assert sorted(c.data.params["norm"] for c in children) == ["batch", "none"]
                assert {c.data.tags["mlflow.parentRunId"] for c in children} == {parent.info.run_id}
                assert all(c.info.status == "FINISHED" for c in children)
                assert all(
                    {"loss", "val_accuracy", "test_accuracy"} <= set(c.data.metrics)
                    for c in children
                )

        # The runs are PostgreSQL's rows, not a SQLite file's.
        host, port = database.split("@")[1].split("/")[0].split(":")
        with psycopg.connect(
            host=host, port=port, dbname="mlflow", user="mlflow", password=password
        ) as db:
            rows = db.execute("SELECT status, count(*) FROM runs GROUP BY status").fetchall()
        assert dict(rows) == {"FINISHED": 6}


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


def test_a_postgresql_store_without_its_driver_is_refused_in_one_line(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "psycopg", None)  # as if not installed
    uri = "postgresql://mlflow@127.0.0.1:5432/mlflow"
    assert main(["server", "--backend-store-uri", uri]) == 1
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line.endswith(
        "error: the store 127.0.0.1:5432/mlflow is PostgreSQL, whose driver "
        "is not installed: pip install 'psycopg[binary]'"
    )


def test_a_password_in_the_store_uri_is_refused_in_one_line(capsys):
    uri = "postgresql://mlflow:s3cret@127.0.0.1:5432/mlflow"
    assert main(["server", "--backend-store-uri", uri]) == 1
    [line] = capsys.readouterr().err.strip().splitlines()
    assert "s3cret" not in line
    assert line.endswith(
        "error: the store URI postgresql://mlflow:***@127.0.0.1... holds a "
        "password, which the server's command line would show to every user "
        "of the machine: leave it out, and give it to the driver in PGPASSWORD "
        "or ~/.pgpass"
    )


def test_a_port_outside_1_to_65535_is_refused(capsys):
    with pytest.raises(SystemExit):
        main(["server", "--port", "70000"])
    assert "--port: must be a port number in 1-65535, got '70000'" in capsys.readouterr().err
