"""Sweeps on Ray: the default workers, on two local workers (the quick
comparison's tasks at once too), losing a worker or their driver, and
sweeps sharing one store.

The Ray tests run inside the loopback-only namespace on one shared local Ray
instance (`local_ray`), on the tiny dataset; sweeps in processes of their own
(`sweep_process`) join it with --ray-address.
"""

import os
import signal
import time

import mlflow
import psutil
import pytest

from experiments import engine
from experiments import machine
from experiments.cli import main
from experiments.execution import DIGEST_TAG
from experiments.tasks import TASKS
from tests.experiments.conftest import TINY_SETTINGS

DEADLINE_S = 150


def _finished(process, timeout=DEADLINE_S):
    """Waits for a sweep process; returns its exit status and output."""
    output, _ = process.communicate(timeout=timeout)
    return process.returncode, output


def _wait_for(condition, what, process=None, timeout=DEADLINE_S):
    """Polls `condition()` (while `process`, if given, runs) until it returns
    something true; returns that."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and (process is None or process.poll() is None):
        found = condition()
        if found:
            return found
        time.sleep(0.2)
    said = ""
    if process is not None:
        process.kill()
        said = f"; the sweep said:\n{process.communicate()[0][-5000:]}"
    raise AssertionError(f"no {what} within {timeout} s{said}")


def test_resources_split_the_cores_between_the_workers():
    assert engine._share(2, 2, 0) == engine.Resources(cpus=1, gpus=0.0, workers=2)
    assert engine._share(None, 8, 0) == engine.Resources(cpus=1, gpus=0.0, workers=8)
    assert engine._share(3, 16, 0) == engine.Resources(cpus=5, gpus=0.0, workers=3)
    # More workers than cores: each still gets one.
    assert engine._share(4, 2, 0).cpus == 1
    # GPUs are shared the same way, a whole one at most.
    assert engine._share(4, 8, 2).gpus == 0.5
    assert engine._share(2, 8, 4).gpus == 1.0


GIB = 2**30


@pytest.mark.parametrize("cpus, memory, workers", [
    (8, 64 * GIB, 8),   # one per core
    (8, 4 * GIB, 2),    # as many as the memory holds
    (2, 1 * GIB, 1),    # at least one
    (1, 64 * GIB, 1),
])
def test_the_default_workers_are_what_the_machine_fits(cpus, memory, workers, monkeypatch):
    monkeypatch.setattr(machine, "cpus", lambda: cpus)
    monkeypatch.setattr(machine, "available_memory", lambda: memory)
    assert engine.TRIAL_MEMORY_BYTES == 1.5 * GIB
    assert engine.local_workers() == workers


@pytest.mark.parametrize("argv, fits, address, started", [
    ([], 3, None, (3, None)),            # the default: a local Ray instance of what fits
    ([], 1, None, None),                 # a machine that fits one: here, without Ray
    (["--workers", "1"], 4, None, None),
    (["--workers", "2"], 1, None, (2, None)),
    ([], 1, "10.0.0.2:6379", (None, "10.0.0.2:6379")),  # a cluster: one per CPU of it
    (["--workers", "1"], 4, "10.0.0.2:6379", (1, "10.0.0.2:6379")),
])
def test_the_engine_a_command_gets(argv, fits, address, started, monkeypatch):
    import argparse
    import contextlib

    from experiments import cli

    calls = []

    @contextlib.contextmanager
    def ray_cluster(workers, address):
        calls.append((workers, address))
        yield "resources"

    monkeypatch.setattr(engine, "local_workers", lambda: fits)
    monkeypatch.setattr(engine, "ray_cluster", ray_cluster)
    monkeypatch.setattr(cli, "_check_store_reaches_every_machine", lambda: None)
    if address:
        monkeypatch.setenv("RAY_ADDRESS", address)
    else:
        monkeypatch.delenv("RAY_ADDRESS", raising=False)
    parser = argparse.ArgumentParser()
    cli.add_engine_arguments(parser)
    with cli._engine(parser.parse_args(argv)) as connect:
        assert connect() == (None if started is None else "resources")
        connect()  # connected once per command
    assert calls == ([] if started is None else [started])


@pytest.mark.loopback_namespace(timeout=120)
def test_a_sweep_on_two_local_workers_makes_a_finished_child_per_configuration(
    local_ray, store, tiny_cnn, runs_of, capsys
):
    argv = ["sweep", "--task", "cnn", "--norms", "none,layer", "--lrs", "1e-3,1e-2",
            "--epochs", "1", "--quick", "--study", "two", "--workers", "2"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "4 runs, 2 at once, 1 CPU(s) each" in out
    assert "run 1/4 done" in out and "run 4/4 done" in out and "left" in out

    [parent] = runs_of("cnn", run_kind="sweep")
    children = runs_of("cnn", run_kind="train")
    assert parent.info.status == "FINISHED"
    assert sorted((c.data.params["norm"], c.data.params["lr"]) for c in children) == [
        ("layer", "0.001"), ("layer", "0.01"), ("none", "0.001"), ("none", "0.01")]
    assert {c.data.tags["mlflow.parentRunId"] for c in children} == {parent.info.run_id}
    assert all(c.info.status == "FINISHED" for c in children)
    assert all({"loss", "val_accuracy", "test_accuracy"} <= set(c.data.metrics)
               for c in children)
    # Trained in Ray's workers, not in this process.
    assert str(os.getpid()) not in {c.data.tags["pid"] for c in children}


@pytest.mark.loopback_namespace(timeout=150)
def test_quick_on_two_workers_fans_every_task_out_at_once_each_run_under_its_task(
    local_ray, store, tiny_data, runs_of, monkeypatch, tmp_path, capsys
):
    norms = {"cnn": ["batch", "none"], "rnn": ["none", "weight"]}
    for name, quick_norms in norms.items():
        monkeypatch.setattr(TASKS[name], "quick_settings", {**TINY_SETTINGS, "epochs": 1})
        monkeypatch.setattr(TASKS[name], "quick_norms", quick_norms)
    argv = ["quick", "--tasks", "cnn,rnn", "--workers", "2", "--out", str(tmp_path)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    # One fan-out of both tasks' runs, not a sweep per task.
    assert "4 runs, 2 at once, 1 CPU(s) each" in out
    assert out.count("=== sweep done") == 1 and "run 4/4 done" in out

    studies = set()
    for name, quick_norms in norms.items():
        [parent] = runs_of(name, run_kind="sweep")
        children = runs_of(name, run_kind="train")
        assert parent.info.status == "FINISHED" and parent.data.tags["task"] == name
        assert sorted(c.data.params["norm"] for c in children) == quick_norms
        assert {c.data.tags["mlflow.parentRunId"] for c in children} == {parent.info.run_id}
        assert all(c.info.status == "FINISHED" for c in children)
        assert all({"loss", "test_accuracy"} <= set(c.data.metrics) for c in children)
        assert str(os.getpid()) not in {c.data.tags["pid"] for c in children}
        studies |= {r.data.tags["study"] for r in (parent, *children)}
    [study] = studies
    assert study.startswith("quick-")
    report = (tmp_path / "report.md").read_text()
    assert "## cnn: " in report and "## rnn: " in report


@pytest.mark.loopback_namespace(timeout=150)
def test_a_trial_whose_worker_is_killed_is_retried_and_its_dead_run_ends_killed(
    local_ray, sweep_process, runs_of
):
    sweep = sweep_process("--norms", "none,batch", "--epochs", "1", "--workers", "2",
                          "--ray-address", local_ray, "--study", "retry")

    def a_started_run():
        # A child with no metric yet: its worker is still well before the end.
        return [r for r in runs_of("cnn", run_kind="train")
                if r.info.status == "RUNNING" and not r.data.metrics]

    [victim, *_] = _wait_for(a_started_run, "RUNNING child", sweep)
    os.kill(int(victim.data.tags["pid"]), signal.SIGKILL)
    status, output = _finished(sweep)
    assert status == 0, output

    children = {r.info.run_id: r for r in runs_of("cnn", run_kind="train")}
    dead = children.pop(victim.info.run_id)
    assert dead.info.status == "KILLED" and dead.info.end_time
    assert dead.data.tags["worker_died"] == "true"
    assert "process died before the run ended" in dead.data.tags["error"]
    # The retry is a new run of the same configuration, and every configuration finished.
    assert sorted(r.data.params["norm"] for r in children.values()) == ["batch", "none"]
    assert all(r.info.status == "FINISHED" for r in children.values())
    assert dead.data.tags[DIGEST_TAG] in {r.data.tags[DIGEST_TAG] for r in children.values()}
    [parent] = runs_of("cnn", run_kind="sweep")
    assert parent.info.status == "FINISHED"


@pytest.mark.loopback_namespace(timeout=200)
def test_a_sweep_whose_driver_is_killed_resumes_without_redoing_finished_runs(
    local_ray, sweep_process, runs_of
):
    argv = ("--norms", "none,batch,layer", "--epochs", "1", "--workers", "2",
            "--ray-address", local_ray, "--study", "resumable")
    first = sweep_process(*argv)

    def one_finished_and_one_running():
        children = runs_of("cnn", run_kind="train")
        statuses = [r.info.status for r in children]
        return "FINISHED" in statuses and "RUNNING" in statuses and children

    running = _wait_for(one_finished_and_one_running, "finished and running child", first)
    first.kill()
    first.wait(timeout=30)
    # Its workers end once Ray sees the driver gone, the run in hand perhaps
    # finished first; until then --resume refuses.
    workers = [int(r.data.tags["pid"]) for r in running if r.info.status == "RUNNING"]
    _wait_for(lambda: not any(psutil.pid_exists(pid) for pid in workers),
              "end of the killed sweep's workers")
    before = {r.info.run_id: r for r in runs_of("cnn", run_kind="train")}
    finished = {i for i, r in before.items() if r.info.status == "FINISHED"}
    unfinished = set(before) - finished
    [parent] = runs_of("cnn", run_kind="sweep")
    assert parent.info.status == "RUNNING"  # nothing ended it: its process died

    status, output = _finished(sweep_process(*argv, "--resume"))
    assert status == 0, output
    assert f"{len(finished)} of 3 configurations already FINISHED" in output

    after = {r.info.run_id: r for r in runs_of("cnn", run_kind="train")}
    assert all(after[i].info.status == "FINISHED" for i in finished)
    assert all(after[i].info.status == "KILLED" for i in unfinished), (
        [(after[i].info.status, after[i].data.tags) for i in unfinished], output)
    new = [r for i, r in after.items() if i not in before]
    # Only what had not finished ran again, once, under the same parent.
    assert len(new) == 3 - len(finished)
    assert all(r.info.status == "FINISHED" for r in new)
    done = [r.data.tags[DIGEST_TAG] for r in after.values() if r.info.status == "FINISHED"]
    assert sorted(done) == sorted(set(done)) and len(done) == 3
    assert {r.data.tags["mlflow.parentRunId"] for r in after.values()} == {parent.info.run_id}
    [resumed] = runs_of("cnn", run_kind="sweep")
    assert resumed.info.status == "FINISHED"


def test_resume_refuses_while_a_trial_of_the_sweep_beats_on_another_node(
    store, monkeypatch, capsys
):
    from experiments.tasks import TASKS
    from experiments.tracking import store as tracking_store

    monkeypatch.setattr(TASKS["cnn"], "prepare", lambda config: None)  # no data needed
    tracking_store.open_store()
    experiment = tracking_store.experiment_id("keras-norms-cnn")
    client = mlflow.MlflowClient()
    sweep = {"study": "far", "task": "cnn"}
    parent = client.create_run(experiment, tags={**sweep, "run_kind": "sweep"}).info.run_id
    client.set_terminated(parent, "KILLED")  # its driver died, and was found dead
    node = {"host": "node-2", "pid": "7", "heartbeat": f"{time.time():.3f}"}
    child = client.create_run(experiment, tags={
        **sweep, **node, "run_kind": "train", "mlflow.parentRunId": parent}).info.run_id

    argv = ["sweep", "--task", "cnn", "--quick", "--norms", "none", "--study", "far",
            "--workers", "1"]
    assert main([*argv, "--resume"]) == 1
    assert ("the sweep of study 'far' is still running: process(es) 7 on node-2; resume "
            "once they have ended") in capsys.readouterr().err
    assert client.get_run(child).info.status == "RUNNING"


def test_two_sweeps_log_into_one_sqlite_store_at_once_without_a_lost_run(
    sweep_process, runs_of
):
    sweeps = [sweep_process("--norms", "none,batch", "--epochs", "1", "--workers", "1",
                            "--study", f"parallel-{index}") for index in range(2)]
    for sweep in sweeps:
        status, output = _finished(sweep)
        assert status == 0, output
        assert "database is locked" not in output

    for index in range(2):
        children = runs_of("cnn", run_kind="train", study=f"parallel-{index}")
        assert sorted(r.data.params["norm"] for r in children) == ["batch", "none"]
        assert all(r.info.status == "FINISHED" for r in children)
        assert all(mlflow.MlflowClient().get_metric_history(r.info.run_id, "loss")
                   for r in children)
        [parent] = runs_of("cnn", run_kind="sweep", study=f"parallel-{index}")
        assert parent.info.status == "FINISHED"


def test_a_sqlite_store_is_refused_for_a_cluster_of_several_machines(store, monkeypatch):
    from experiments import cli
    from experiments.errors import TrackingError

    monkeypatch.setattr(engine, "machines", lambda: 2)
    with pytest.raises(TrackingError, match="spans 2 machines, and the SQLite store"):
        cli._check_store_reaches_every_machine()
    monkeypatch.setattr(engine, "machines", lambda: 1)
    cli._check_store_reaches_every_machine()


def test_a_dataset_another_run_added_at_the_same_moment_is_logged_again(store, monkeypatch):
    from mlflow.exceptions import MlflowException

    from experiments.tracking import runs

    calls = []

    def log_input(dataset, context):
        calls.append(context)
        if len(calls) == 1:
            raise MlflowException("(sqlite3.IntegrityError) UNIQUE constraint failed: "
                                  "datasets.experiment_id, datasets.name, datasets.digest")

    monkeypatch.setattr(mlflow, "log_input", log_input)
    runs.log_dataset("fashion_mnist", "/data", "train[:10]", "training")
    assert calls == ["training", "training"]

    def unreachable(dataset, context):
        raise MlflowException("connection refused")

    monkeypatch.setattr(mlflow, "log_input", unreachable)
    with pytest.raises(MlflowException, match="connection refused"):
        runs.log_dataset("fashion_mnist", "/data", "train[:10]", "training")
