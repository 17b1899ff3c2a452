"""The store and the run life cycle: no run left RUNNING, a store many processes
create at once, model-training experiments, one-line errors."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import mlflow
import pytest

from experiments.cli import main
from experiments.tracking import runs, store
from tests.experiments import processes

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def python():
    """`python(code, env)`: starts `code` in a fresh interpreter at the
    repository root, output piped; each is killed, with what it started, at
    the end of the test."""
    started = []

    def start(code, env=None):
        process = processes.start(
            [sys.executable, "-c", textwrap.dedent(code)],
            cwd=REPO,
            env={**os.environ, **(env or {})},
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        started.append(process)
        return process

    yield start
    for process in started:
        processes.kill_group(process)


def _all_runs(uri):
    mlflow.set_tracking_uri(uri)
    client = mlflow.MlflowClient()
    ids = [e.experiment_id for e in client.search_experiments()]
    return client.search_runs(ids) if ids else []


def test_a_run_killed_outright_is_ended_by_the_next_command(store, tmp_path, capsys, python):
    holder = python("""
        import time
        from experiments.tracking import runs, store
        store.open_store()
        experiment = store.experiment_id("keras-norms-cnn")
        with runs.tracked_run(experiment, "held", {}, {"run_kind": "train"}) as run:
            print(run.info.run_id, flush=True)
            time.sleep(600)
    """)
    run_id = holder.stdout.readline().strip()
    [held] = _all_runs(store)
    assert held.info.status == "RUNNING"
    assert runs.run_process(held.data.tags)["pid"] == holder.pid
    holder.kill()  # SIGKILL: nothing of the process runs again
    holder.wait()

    assert main(["report", "--out", str(tmp_path / "report")]) == 1  # no finished runs
    err = capsys.readouterr().err
    assert f"Ended 1 stale run(s) as KILLED, their process gone: {run_id}" in err
    [ended] = _all_runs(store)
    assert ended.info.status == "KILLED" and ended.info.end_time is not None
    assert ended.data.tags["stale"] == f"process {holder.pid} gone"


def test_only_runs_whose_process_is_gone_are_stale(store):
    from experiments.tracking import store as tracking_store

    tracking_store.open_store()  # the fixture's fresh store
    experiment = tracking_store.experiment_id("keras-norms-cnn")
    client = mlflow.MlflowClient()
    mine = runs.this_process()

    def living_in(**process):
        tags = {runs.PROCESS_TAG: runs.process_record({**mine, **process})}
        return client.create_run(experiment, tags=tags).info.run_id

    # This process, alive: not stale. Its pid with another start time: a
    # reused pid, so the run's own process is gone. A run of another host: left alone.
    alive = living_in()
    reused = living_in(started=mine["started"] - 3600)
    elsewhere = living_in(host="another-host", pid=1)

    assert runs.end_stale_runs() == [reused]
    status = {run_id: client.get_run(run_id).info.status for run_id in (alive, reused, elsewhere)}
    assert status == {alive: "RUNNING", reused: "KILLED", elsewhere: "RUNNING"}


def test_runs_of_other_hosts_are_stale_once_their_heartbeat_stopped(store, monkeypatch, capsys):
    from experiments.tracking import store as tracking_store

    monkeypatch.setenv(runs.HEARTBEAT_ENV, "1")  # taken for dead after 10 s without a beat
    tracking_store.open_store()
    experiment = tracking_store.experiment_id("keras-norms-cnn")
    client = mlflow.MlflowClient()
    mine = runs.this_process()
    now = time.time()
    fresh, old = {"beat": now - 1}, {"beat": now - 60}
    another = {"host": "another-host", "pid": 1, "started": 1.0}
    made = {
        # Another host: judged by its heartbeat (one recorded before heartbeats: left alone).
        "silent": {**another, **old},
        "beating": {**another, **fresh},
        "unknown": another,
        # This host: by its process, whatever its heartbeat, unless it has no pid.
        "alive here": {**mine, **old},
        "gone here": {**mine, **fresh, "started": mine["started"] - 3600},
        "no pid here": {"host": mine["host"], **old},
        "unreadable": {},
    }
    ids = {
        name: client.create_run(
            experiment, tags={runs.PROCESS_TAG: json.dumps(process)} if process else {}
        ).info.run_id
        for name, process in made.items()
    }
    ids["unreadable"] = client.create_run(
        experiment, tags={runs.PROCESS_TAG: "pid 7 on node-2"}
    ).info.run_id

    tracking_store.open_store()
    ended = {name: client.get_run(run_id) for name, run_id in ids.items()}
    assert {name: run.info.status for name, run in ended.items()} == {
        "silent": "KILLED",
        "beating": "RUNNING",
        "unknown": "RUNNING",
        "alive here": "RUNNING",
        "gone here": "KILLED",
        "no pid here": "KILLED",
        "unreadable": "RUNNING",
    }
    since = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(now - 60))
    assert ended["silent"].data.tags["stale"] == f"no heartbeat from another-host since {since}"
    assert (
        ended["no pid here"].data.tags["stale"] == f"no heartbeat from {mine['host']} since {since}"
    )
    assert ended["gone here"].data.tags["stale"] == f"process {mine['pid']} gone"
    assert "Ended 3 stale run(s) as KILLED" in capsys.readouterr().err


def _heartbeat_threads():
    return [thread for thread in threading.enumerate() if thread.name.startswith("heartbeat ")]


def test_an_open_run_beats_until_it_ends_and_leaves_no_thread(store, monkeypatch):
    from experiments.tracking import store as tracking_store

    monkeypatch.setenv(runs.HEARTBEAT_ENV, "0.2")
    tracking_store.open_store()
    experiment = tracking_store.experiment_id("keras-norms-cnn")
    client = mlflow.MlflowClient()
    with runs.tracked_run(experiment, "held", {}, {}) as run:
        first = runs.run_process(client.get_run(run.info.run_id).data.tags)["beat"]
        assert [thread.name for thread in _heartbeat_threads()] == [f"heartbeat {run.info.run_id}"]
        deadline = time.monotonic() + 30
        while runs.run_process(client.get_run(run.info.run_id).data.tags)["beat"] == first:
            assert time.monotonic() < deadline, "no heartbeat within 30 s"
            time.sleep(0.1)
    assert _heartbeat_threads() == []
    ended = client.get_run(run.info.run_id)
    assert ended.info.status == "FINISHED"
    last = runs.run_process(ended.data.tags)["beat"]
    assert first < last <= ended.info.end_time / 1000
    time.sleep(0.6)  # three periods: no beat comes after the end
    assert runs.run_process(client.get_run(run.info.run_id).data.tags)["beat"] == last


def test_a_failing_heartbeat_is_reported_once_and_the_run_goes_on(store, monkeypatch, capsys):
    from experiments.tracking import store as tracking_store

    monkeypatch.setenv(runs.HEARTBEAT_ENV, "0.1")
    tracking_store.open_store()
    experiment = tracking_store.experiment_id("keras-norms-cnn")
    set_tag = mlflow.MlflowClient.set_tag
    refused = []

    def busy_server(client, run_id, key, value, **kwargs):  # refuses the first 3 beats
        if key == runs.PROCESS_TAG and len(refused) < 3:
            refused.append(json.loads(value)["beat"])
            raise mlflow.exceptions.MlflowException("503 Service Unavailable")
        return set_tag(client, run_id, key, value, **kwargs)

    monkeypatch.setattr(mlflow.MlflowClient, "set_tag", busy_server)
    with runs.tracked_run(experiment, "held", {}, {}) as run:
        deadline = time.monotonic() + 30
        while (
            len(refused) < 3
            or runs.run_process(mlflow.MlflowClient().get_run(run.info.run_id).data.tags)["beat"]
            <= refused[-1]
        ):
            assert time.monotonic() < deadline, "the heartbeat did not recover within 30 s"
            time.sleep(0.1)
    assert mlflow.MlflowClient().get_run(run.info.run_id).info.status == "FINISHED"
    [line] = [line for line in capsys.readouterr().err.splitlines() if "Heartbeat" in line]
    assert line == (
        f"Heartbeat of run {run.info.run_id} not recorded, trying again every "
        "0.1 s: MlflowException: 503 Service Unavailable"
    )


def test_a_run_taken_for_dead_while_alive_ends_with_its_own_status(store):
    from experiments.tracking import store as tracking_store

    tracking_store.open_store()
    experiment = tracking_store.experiment_id("keras-norms-cnn")
    client = mlflow.MlflowClient()
    with runs.tracked_run(experiment, "held", {}, {}) as run:
        # What a command on another host does when the run's beats were lost a while.
        client.set_tag(run.info.run_id, "stale", "no heartbeat from here since then")
        client.set_terminated(run.info.run_id, "KILLED")
    ended = client.get_run(run.info.run_id)
    assert ended.info.status == "FINISHED" and "stale" not in ended.data.tags


def test_a_bad_heartbeat_period_is_refused_in_one_line(store, monkeypatch, capsys):
    monkeypatch.setenv(runs.HEARTBEAT_ENV, "0")
    assert main(["report"]) == 1
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line.endswith(
        "error: KERAS_NORMS_HEARTBEAT_S must be a positive number of seconds, got '0'"
    )


_SLOW_CLI = """
    import sys, time
    sys.argv = ["keras-norms-experiments", *{argv!r}]  # as the console script starts
    from experiments.cli import entry
    from experiments.tasks import TASKS

    task = TASKS["cnn"]
    task.prepare = lambda config: None
    def train(config):
        print("training", config["norm"], flush=True)
        time.sleep(600)
    task.run = train
    sys.exit(entry())
"""


@pytest.mark.parametrize(
    "signum, status, name", [(signal.SIGTERM, 143, "SIGTERM"), (signal.SIGINT, 130, "SIGINT")]
)
def test_a_signal_ends_the_sweep_and_its_child_killed_in_one_line(
    store, signum, status, name, python
):
    argv = ["sweep", "--task", "cnn", "--norms", "none,batch", "--quick", "--workers", "1"]
    process = python(_SLOW_CLI.format(argv=argv))
    for line in process.stdout:  # the sweep's progress, then the first child trains
        if line.startswith("training"):
            break
    assert line.strip() == "training none"
    process.send_signal(signum)
    _, err = process.communicate(timeout=60)

    assert process.returncode == status
    assert "Traceback" not in err
    [line] = [line for line in err.splitlines() if "interrupted" in line]
    assert line.startswith(
        f"keras-norms-experiments sweep: interrupted by {name}; runs ended KILLED: "
    )
    ended = _all_runs(store)
    assert {run.data.tags["run_kind"]: run.info.status for run in ended} == {
        "train": "KILLED",
        "sweep": "KILLED",
    }
    assert sorted(line.rsplit(": ", 1)[1].split(", ")) == sorted(r.info.run_id for r in ended)


def test_four_processes_create_one_fresh_store_at_once(tmp_path, python):
    uri = f"sqlite:///{tmp_path / 'fresh' / 'mlflow.db'}"
    # Each says when it has imported MLflow, then waits for SIGUSR1: once all
    # four are ready, they are let go at the same moment.
    code = f"""
        import signal
        # Blocked before any thread starts, so that every thread keeps it blocked.
        signal.pthread_sigmask(signal.SIG_BLOCK, {{signal.SIGUSR1}})
        from experiments.tracking import store
        print("ready", flush=True)
        signal.sigwait({{signal.SIGUSR1}})
        store.open_store({uri!r})
        print(store.experiment_id("keras-norms-cnn"))
    """
    openers = [python(code) for _ in range(4)]
    for process in openers:
        assert process.stdout.readline().strip() == "ready", process.communicate(timeout=60)[1]
    for process in openers:
        process.send_signal(signal.SIGUSR1)
    results = [process.communicate(timeout=120) for process in openers]
    for process, (_, err) in zip(openers, results):
        assert process.returncode == 0, err
    assert len({out.strip() for out, _ in results}) == 1
    mlflow.set_tracking_uri(uri)
    assert sorted(e.name for e in mlflow.search_experiments()) == ["Default", "keras-norms-cnn"]


def test_experiments_are_model_training_experiments(store):
    from experiments.tracking import store as tracking_store

    tracking_store.open_store()
    experiment = mlflow.get_experiment(tracking_store.experiment_id("keras-norms-rnn"))
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"
    # One made without the tag (by an older version) gets it when next used.
    client = mlflow.MlflowClient()
    older = client.create_experiment("keras-norms-gan")
    tracking_store.experiment_id("keras-norms-gan")
    assert client.get_experiment(older).tags["mlflow.experimentKind"] == "custom_model_development"


@pytest.mark.parametrize("enabled", [None, "false", "true"])
def test_runs_log_system_metrics_only_where_asked(enabled, store, monkeypatch):
    from experiments.tracking import store as tracking_store

    monkeypatch.setenv("MLFLOW_SYSTEM_METRICS_SAMPLING_INTERVAL", "0.2")
    if enabled is not None:
        monkeypatch.setenv("MLFLOW_ENABLE_SYSTEM_METRICS_LOGGING", enabled)
    tracking_store.open_store()
    experiment = tracking_store.experiment_id("keras-norms-cnn")
    with runs.tracked_run(experiment, "held", {}, {}, description="A **note**.") as run:
        time.sleep(1.0)
    ended = mlflow.MlflowClient().get_run(run.info.run_id)
    assert ended.data.tags["mlflow.note.content"] == "A **note**."
    system = {key for key in ended.data.metrics if key.startswith("system/")}
    if enabled != "true":  # off by default: the UI would list them before the scores
        assert system == set()
    else:
        assert {
            "system/cpu_utilization_percentage",
            "system/system_memory_usage_percentage",
            "system/disk_usage_percentage",
        } <= system
        history = mlflow.MlflowClient().get_metric_history(
            run.info.run_id, "system/cpu_utilization_percentage"
        )
        assert len(history) >= 2  # sampled through the run, not once


def test_the_default_sampling_interval_suits_short_runs(monkeypatch):
    # Restored after the test, whatever it was.
    monkeypatch.setenv("MLFLOW_SYSTEM_METRICS_SAMPLING_INTERVAL", "unset below")
    monkeypatch.delenv("MLFLOW_SYSTEM_METRICS_SAMPLING_INTERVAL")
    monkeypatch.delenv("MLFLOW_ENABLE_SYSTEM_METRICS_LOGGING", raising=False)
    assert not runs._system_metrics_wanted()  # off unless asked for
    assert os.environ["MLFLOW_SYSTEM_METRICS_SAMPLING_INTERVAL"] == "2"
    monkeypatch.setenv("MLFLOW_ENABLE_SYSTEM_METRICS_LOGGING", "true")
    assert runs._system_metrics_wanted()


def test_store_lock_serializes_processes(tmp_path, python):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    holder = python(f"""
        import time
        from experiments.tracking import store
        with store.store_lock({uri!r}):
            print("locked", flush=True)
            time.sleep(3)
            print("released", time.time(), flush=True)
    """)
    assert holder.stdout.readline().strip() == "locked"
    with store.store_lock(uri):
        acquired = time.time()
    released = float(holder.stdout.readline().split()[1])
    holder.wait(timeout=30)
    assert acquired >= released


def _read_only_command(database, argv):
    """`argv` run where `database` cannot be written: a read-only bind mount of
    it for root (whom file modes do not stop), its mode for anyone else."""
    if os.getuid() != 0:
        os.chmod(database, 0o444)
        return argv
    script = (
        f'mount --bind "{database}" "{database}" && '
        f'mount -o remount,bind,ro "{database}" && exec "$@"'
    )
    return ["unshare", "--mount", "sh", "-c", script, "sh", *argv]


def test_a_read_only_store_is_refused_in_one_line(tmp_path):
    database = tmp_path / "store" / "mlflow.db"
    uri = f"sqlite:///{database}"
    store.open_store(uri)  # created
    check = subprocess.run(
        _read_only_command(database, [sys.executable, "-m", "experiments", "report"]),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "MLFLOW_TRACKING_URI": uri},
    )
    assert check.returncode == 1, check.stderr
    [line] = check.stderr.strip().splitlines()
    assert line == (
        f"python -m experiments report: error: The MLflow store {database} is "
        "read-only. Make it writable (chmod u+w), or set MLFLOW_TRACKING_URI to "
        "another store (e.g. sqlite:////tmp/mlruns/mlflow.db)."
    )


def test_an_unwritable_store_directory_is_refused_in_one_line(tmp_path, monkeypatch, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{blocker / 'store' / 'mlflow.db'}")
    assert main(["report"]) == 1
    [line] = capsys.readouterr().err.strip().splitlines()
    assert f"Cannot create the MLflow store directory {blocker / 'store'}" in line
    assert "set MLFLOW_TRACKING_URI to another store" in line


def test_a_sweep_killed_on_another_node_ends_stale_once_its_heartbeats_stop(
    store, tmp_path, python
):
    period = 0.2
    argv = [
        "sweep",
        "--task",
        "cnn",
        "--norms",
        "none,batch",
        "--quick",
        "--workers",
        "1",
        "--study",
        "far",
    ]
    process = python(_SLOW_CLI.format(argv=argv), env={runs.HEARTBEAT_ENV: str(period)})
    for line in process.stdout:
        if line.startswith("training"):
            break

    def beats():
        return {
            run.data.tags["run_kind"]: runs.run_process(run.data.tags)["beat"]
            for run in _all_runs(store)
        }

    # The sweep's parent and its child both beat while the sweep runs.
    started = beats()
    deadline = time.monotonic() + 30
    while not all(beat > started[kind] for kind, beat in beats().items()):
        assert time.monotonic() < deadline, "no heartbeat within 30 s"
        time.sleep(0.1)
    process.kill()
    process.wait()
    # As if it had run on another node: its process cannot be looked at from here.
    client = mlflow.MlflowClient()
    for run in _all_runs(store):
        process = {**runs.run_process(run.data.tags), "host": "node-2"}
        client.set_tag(run.info.run_id, runs.PROCESS_TAG, json.dumps(process))
    last = max(beats().values())
    time.sleep(max(0.0, last + runs.STALE_AFTER_BEATS * period - time.time()) + 0.5)

    env = {runs.HEARTBEAT_ENV: str(period)}
    check = subprocess.run(
        [sys.executable, "-m", "experiments", "report", "--out", str(tmp_path / "report")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **env},
    )
    assert "Ended 2 stale run(s) as KILLED" in check.stderr, check.stderr
    ended = _all_runs(store)
    assert {run.info.status for run in ended} == {"KILLED"}
    assert all(
        run.data.tags["stale"].startswith("no heartbeat from node-2 since ") for run in ended
    )
