"""Fixtures: a tiny Fashion-MNIST in IDX files, its tfds copy, a temporary MLflow
store, sweeps in processes of their own, and the namespace Ray tests run in."""

import fcntl
import gzip
import json
import os
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from experiments.data import images as data
from experiments.data.idx import IDX_FILES
from tests.conftest import LOOPBACK_RESULTS
from tests.experiments import processes

DEBIAN_DIR = data.DATASETS["fashion_mnist"].idx_dir
TINY = {"train": 640, "test": 160}
# Sizes the tiny dataset can serve; quick runs in tests use them.
TINY_SETTINGS = {
    "epochs": 2,
    "batch_size": 32,
    "train_size": 256,
    "val_size": 128,
    "test_size": 128,
}
IN_NAMESPACE_ENV = "KERAS_NORMS_TEST_IN_NAMESPACE"  # the inner run's results file
TINY_TFDS_ENV = "KERAS_NORMS_TEST_TINY_TFDS"  # the outer run's tiny dataset, for the inner


def write_idx_subset(source, target, count):
    """Copies the first `count` records of a gzipped IDX file, header adjusted."""
    with gzip.open(source, "rb") as f:
        raw = f.read()
    dims = raw[3]  # the magic number's last byte
    header = list(struct.unpack(f">{1 + dims}I", raw[: 4 * (1 + dims)]))
    record = 1
    for size in header[2:]:
        record *= size
    header[1] = count
    body = raw[4 * (1 + dims) : 4 * (1 + dims) + count * record]
    with gzip.open(target, "wb") as f:
        f.write(struct.pack(f">{1 + dims}I", *header) + body)


@pytest.fixture(scope="session")
def tiny_idx_dir(tmp_path_factory):
    directory = tmp_path_factory.mktemp("fashion_mnist_idx")
    for split, names in IDX_FILES.items():
        for name in names:
            write_idx_subset(f"{DEBIAN_DIR}/{name}", directory / name, TINY[split])
    return directory


@pytest.fixture(scope="session")
def tiny_tfds_dir(tiny_idx_dir, tmp_path_factory):
    """A tfds data directory holding the tiny Fashion-MNIST, prepared once (the
    run inside the loopback namespace gets the one the outer run prepared)."""
    if os.environ.get(TINY_TFDS_ENV):
        return Path(os.environ[TINY_TFDS_ENV])
    directory = tmp_path_factory.mktemp("tfds")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TFDS_DATA_DIR", str(directory))
        data.prepare_from_idx("fashion_mnist", tiny_idx_dir)
    return directory


@pytest.fixture(scope="session")
def tiny_feature_cache(tmp_path_factory):
    """A GAN-scoring feature classifier trained for one epoch on random images, cached."""
    import numpy as np
    import tensorflow as tf

    from experiments.tasks import gan_metrics

    cache = tmp_path_factory.mktemp("feature_cache")
    rng = np.random.default_rng(0)
    images = rng.random((64, 28, 28, 1)).astype("float32")
    labels = rng.integers(0, 10, 64).astype("int32")
    gan_metrics.load_feature_extractor(
        cache, train_data=tf.data.Dataset.from_tensor_slices((images, labels)).batch(32), epochs=1
    )
    return cache


@pytest.fixture
def offline(monkeypatch):
    """No server answers: tests never download, whatever the machine's network."""
    monkeypatch.setattr(data, "network_reachable", lambda url, timeout=None: False)


@pytest.fixture
def store(tmp_path, monkeypatch):
    """A temporary SQLite MLflow store; returns its URI."""
    uri = f"sqlite:///{tmp_path / 'store' / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    return uri


@pytest.fixture
def tiny_cnn(tiny_tfds_dir, offline, monkeypatch):
    """`--quick` CNN runs on the tiny dataset, in a couple of seconds."""
    from experiments.tasks import TASKS

    monkeypatch.setenv("TFDS_DATA_DIR", str(tiny_tfds_dir))
    monkeypatch.setattr(TASKS["cnn"], "quick_settings", TINY_SETTINGS)
    return TASKS["cnn"]


@pytest.fixture
def tiny_data(tiny_tfds_dir, offline, monkeypatch):
    """Tasks read the tiny Fashion-MNIST, offline."""
    monkeypatch.setenv("TFDS_DATA_DIR", str(tiny_tfds_dir))


@pytest.fixture
def runs_of(store):
    """`runs_of(task, **tags)`: the runs of a task's experiment in the temporary store
    whose tags match, oldest first."""
    import mlflow

    def runs(task, **tags):
        mlflow.set_tracking_uri(store)
        experiment = mlflow.get_experiment_by_name(f"keras-norms-{task}")
        if experiment is None:
            return []
        found = mlflow.MlflowClient().search_runs(
            [experiment.experiment_id], order_by=["attributes.start_time ASC"]
        )
        return [r for r in found if all(r.data.tags.get(k) == v for k, v in tags.items())]

    return runs


@pytest.fixture
def metric_steps(store):
    """`metric_steps(run, metric)`: the steps `metric` was logged at, sorted."""
    import mlflow

    def steps(run, metric):
        history = mlflow.MlflowClient().get_metric_history(run.info.run_id, metric)
        return sorted(m.step for m in history)

    return steps


@pytest.fixture
def image_steps(store):
    """`image_steps(run, key)`: the steps of the images logged under `key`."""
    import mlflow

    def steps(run, key):
        paths = [a.path for a in mlflow.MlflowClient().list_artifacts(run.info.run_id, "images")]
        # MLflow names them images/<key>+step+<step>+timestamp+...(.png|+compressed.webp).
        return sorted(
            {
                int(p.split("+")[2])
                for p in paths
                if p.startswith(f"images/{key}+step+") and p.endswith(".png")
            }
        )

    return steps


# Tests that start Ray or a server run in a network namespace holding only
# loopback, in a PID namespace of their own: Ray then finds 127.0.0.1 for every
# node and sends nothing beyond the machine, and whatever a test leaves running
# dies with the namespace. All of them run in one inner pytest, started once
# per session, so they share its imports and one local Ray instance
# (`local_ray`); each outer test reports its inner outcome. Under pytest-xdist
# the inner run starts once for all workers: the first worker to reach a
# marked test runs it, the others wait for its results.


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "loopback_namespace(timeout): run the test in the session's loopback-only "
        "network and PID namespace; `timeout` seconds count towards its limit",
    )
    config.addinivalue_line(
        "markers",
        "eager_minutes: trains the GAN or the LSTM step by step, which JAX runs "
        "op by op for minutes; `make test` runs it on TensorFlow and torch only",
    )


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem):
    if pyfuncitem.get_closest_marker("loopback_namespace") is None or os.environ.get(
        IN_NAMESPACE_ENV
    ):
        return None
    results = _namespace_results(pyfuncitem)
    outcome = results.get(pyfuncitem.nodeid)
    if outcome is None:
        pytest.fail(
            f"{pyfuncitem.nodeid} did not report from the namespace:\n{results['<output>']}",
            pytrace=False,
        )
    if outcome["outcome"] != "passed":
        pytest.fail(
            f"{pyfuncitem.nodeid} {outcome['outcome']} in the namespace:\n{outcome['report']}",
            pytrace=False,
        )
    return True


def _session_temp_root(config):
    """The session's temporary directory, shared by its pytest-xdist workers
    (each works in a subdirectory of it)."""
    basetemp = config._tmp_path_factory.getbasetemp()
    return basetemp.parent if os.environ.get("PYTEST_XDIST_WORKER") else basetemp


def _namespace_results(first):
    """Every marked test of the session's results, from one pytest run inside
    the namespace (started when `first` of them is called, by one worker
    under xdist): {nodeid: {"outcome", "report", ...}, "<output>": its output}."""
    session = first.session
    if not hasattr(session, "loopback_results"):
        root = _session_temp_root(session.config)
        results = root / LOOPBACK_RESULTS
        with open(root / "loopback.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # held while another worker runs them
            if not results.exists():
                results.write_text(json.dumps(_run_in_namespace(first)))
        session.loopback_results = json.loads(results.read_text())
    return session.loopback_results


def _run_in_namespace(first):
    """Runs every marked test of the session in one pytest inside the namespace;
    returns their results. Every marked test asks for `tiny_tfds_dir`."""
    session = first.session
    items = [item for item in session.items if item.get_closest_marker("loopback_namespace")]
    timeout = sum(
        item.get_closest_marker("loopback_namespace").kwargs.get("timeout", 120) for item in items
    )
    tiny_tfds = first.funcargs["tiny_tfds_dir"]
    unshare = ["unshare", "--net", "--pid", "--fork", "--kill-child", "--mount-proc"]
    if os.geteuid() != 0:
        unshare.append("--map-root-user")
    # Ray's sockets live in its temporary directory: a short path keeps them
    # within the 107 bytes a socket path may have.
    with tempfile.TemporaryDirectory(prefix="ray", dir="/tmp") as ray_tmp:
        results_file = Path(ray_tmp) / "results.jsonl"
        command = [
            *unshare,
            "sh",
            "-c",
            'ip link set lo up && exec "$0" "$@"',
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-W",
            "ignore::DeprecationWarning",
            *(item.nodeid for item in items),
        ]
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("PYTEST_XDIST")},
            IN_NAMESPACE_ENV: str(results_file),
            "RAY_TMPDIR": ray_tmp,
            "RAY_USAGE_STATS_ENABLED": "0",
            TINY_TFDS_ENV: str(tiny_tfds),
        }
        try:
            run = subprocess.run(
                command,
                cwd=session.config.rootpath,
                env=env,
                timeout=timeout,
                capture_output=True,
                text=True,
            )
            output = run.stdout[-8000:] + run.stderr[-4000:]
        except subprocess.TimeoutExpired as error:
            output = error.stdout or b""
            output = (output.decode(errors="replace") if isinstance(output, bytes) else output)[
                -8000:
            ]
            output = f"the namespace's tests ran past {timeout} s:\n{output}"
        results = {"<output>": output}
        if results_file.exists():
            for line in results_file.read_text().splitlines():
                report = json.loads(line)
                previous = results.get(report["nodeid"], {"outcome": "passed"})
                if previous["outcome"] == "passed":  # a failed setup or teardown sticks
                    results[report["nodeid"]] = report
    return results


def pytest_runtest_logreport(report):
    """Inside the namespace, records each phase's outcome for the outer run."""
    path = os.environ.get(IN_NAMESPACE_ENV)
    if not path or (report.when != "call" and report.outcome == "passed"):
        return
    with open(path, "a") as results:
        results.write(
            json.dumps(
                {
                    "nodeid": report.nodeid,
                    "outcome": report.outcome,
                    "report": str(report.longrepr or "")[-6000:],
                    "when": report.when,
                    "duration": report.duration,
                }
            )
            + "\n"
        )


@pytest.fixture(scope="session")
def local_ray():
    """One local Ray instance with 2 CPUs for the namespace's tests; returns its
    address. A sweep in the test's process uses it (Ray is initialized); one in
    a process of its own joins it with --ray-address."""
    import ray

    if not os.environ.get(IN_NAMESPACE_ENV):  # the outer run only reports the inner one's
        yield None
        return
    # "local": a new instance, whatever cluster a test has started with `ray start`.
    # Memory for two trials of 1.5 GiB whatever this machine has free: trials
    # reserve it (`engine.trial_options`).
    context = ray.init(address="local", num_cpus=2, _memory=4 * 2**30, include_dashboard=False)
    yield context.address_info["gcs_address"]
    ray.shutdown()


# A sweep in a process of its own on the tiny dataset: the tiny sizes replace
# the `--quick` settings there as `tiny_cnn` does here.
SWEEP_PROCESS = """
import sys
from experiments.tasks import TASKS
TASKS["cnn"].quick_settings = {settings!r}
from experiments.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.fixture
def sweep_process(tiny_tfds_dir, store):
    """`sweep_process(*argv, **env)`: starts `python -m experiments sweep --task cnn
    --quick ARGV` on the tiny dataset, logging to the temporary store (or
    `MLFLOW_TRACKING_URI` in `env`); returns the `subprocess.Popen`, output piped.
    Each is killed at the end, with what it started. The store is opened first (under
    its lock), as the test polls it while the sweeps log to it."""
    from experiments.tracking import store as tracking_store

    tracking_store.open_store(store)
    started = []

    def start(*argv, **env):
        code = SWEEP_PROCESS.format(settings=TINY_SETTINGS)
        process = processes.start(
            [sys.executable, "-c", code, "sweep", "--task", "cnn", "--quick", *argv],
            env={
                **os.environ,
                "TFDS_DATA_DIR": str(tiny_tfds_dir),
                "MLFLOW_TRACKING_URI": store,
                "TF_CPP_MIN_LOG_LEVEL": "2",
                **env,
            },
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        started.append(process)
        return process

    yield start
    for process in started:
        processes.kill_group(process)
