"""Sweeps on Ray: the default workers, on two local workers (the quick
comparison's tasks at once too), losing a worker or their driver, and
sweeps sharing one store.

The Ray tests run inside the loopback-only namespace on one shared local Ray
instance (`local_ray`), on the tiny dataset; sweeps in processes of their own
(`sweep_process`) join it with --ray-address.
"""

import logging
import os
import signal
import subprocess
import sys
import time

import mlflow
import psutil
import pytest

from experiments import engine, execution, machine
from experiments.cli import main
from experiments.errors import ExperimentError
from experiments.run_config import RunConfig
from experiments.tasks import TASKS
from experiments.tracking import runs
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


GIB = 2**30
TRIAL = 3 * 2**29  # a built-in task's trial: 1.5 GiB


def _node(cpus, memory_gib, gpus=0):
    """A node's resources as `ray.nodes()` lists them."""
    node = {"CPU": float(cpus), "memory": memory_gib * GIB, "object_store_memory": GIB}
    return {**node, "GPU": float(gpus)} if gpus else node


def test_a_task_declares_the_memory_a_trial_of_it_takes():
    assert TASKS["cnn"].trial_memory_bytes == 1.5 * GIB
    assert all(task.trial_memory_bytes >= GIB for task in TASKS.values())


def test_on_a_cluster_trials_are_sized_by_their_request_not_split_between_the_cores():
    # A 64-core node with 32 GiB for tasks: 21 trials of 1.5 GiB at once, not 64.
    resources = engine.size_trials(engine.Request(memory=TRIAL), [_node(64, 32)])
    assert resources == engine.Resources(cpus=1, gpus=0.0, workers=21, memory=TRIAL, at_most=None)
    # More memory: one per core; more cores per trial: fewer at once.
    assert engine.size_trials(engine.Request(memory=TRIAL), [_node(64, 256)]).workers == 64
    assert (
        engine.size_trials(
            engine.Request(memory=TRIAL, cpus=4), [_node(64, 256), _node(8, 4)]
        ).workers
        == 16 + 2
    )
    # Each node holds what fits in it: two 1.5 GiB trials do not fit in two 1 GiB nodes.
    assert engine.size_trials(engine.Request(memory=GIB), [_node(4, 1.25)] * 2).workers == 2
    with pytest.raises(
        ExperimentError,
        match=r"no node of the Ray cluster holds one trial "
        r"of 1 CPU\(s\), 0 GPU\(s\) and 1.50 GiB of memory \(its largest node "
        r"has 4 CPU\(s\), 0 GPU\(s\) and 1.25 GiB.*--memory-per-trial",
    ):
        engine.size_trials(engine.Request(memory=TRIAL), [_node(4, 1.25)] * 2)


def test_with_workers_the_cores_and_gpus_are_split_between_them_as_before():
    def share(workers, cpus, gpus=0):
        return engine.size_trials(
            engine.Request(memory=TRIAL, workers=workers), [_node(cpus, 64, gpus)]
        )

    assert share(2, 2) == engine.Resources(cpus=1, gpus=0.0, workers=2, memory=TRIAL, at_most=2)
    assert share(3, 16).cpus == 5
    # More workers than cores: each still gets one, and as many run as the cores hold.
    assert (share(4, 2).cpus, share(4, 2).workers) == (1, 2)
    # GPUs are shared the same way, a whole one at most, in shares that fit.
    assert share(4, 8, 2).gpus == 0.5
    assert share(2, 8, 4).gpus == 1.0
    # 2 GPUs for 3 trials: halves, since a GPU holds one share of two thirds.
    assert share(3, 8, 2).gpus == 0.5 and share(3, 8, 2).workers == 3
    # Asked for, the CPUs and GPUs are the request's; --workers still caps the trials at once.
    asked = engine.size_trials(
        engine.Request(memory=TRIAL, cpus=2, gpus=0.25, workers=3), [_node(16, 64, 1)]
    )
    assert (asked.cpus, asked.gpus, asked.workers, asked.at_most) == (2, 0.25, 3, 3)


def test_without_workers_each_gpu_is_shared_by_the_trials_its_node_holds():
    # 16 cores and 32 GiB hold 16 trials: each takes 1/8 of one of the 2 GPUs.
    gpu_node = _node(16, 32, gpus=2)
    resources = engine.size_trials(engine.Request(memory=TRIAL), [gpu_node])
    assert (resources.gpus, resources.workers) == (0.12, 16)
    # The GPUs asked for bound the trials at once.
    assert engine.size_trials(engine.Request(memory=TRIAL, gpus=1), [gpu_node]).workers == 2
    assert engine.size_trials(engine.Request(memory=TRIAL, gpus=0.3), [gpu_node]).workers == 6
    assert engine.size_trials(engine.Request(memory=TRIAL, gpus=2), [gpu_node]).workers == 1
    # None asked, on a node without GPUs: none.
    assert engine.size_trials(engine.Request(memory=TRIAL, gpus=0), [gpu_node]).workers == 16


@pytest.mark.parametrize(
    "node, cpus, gpus, memory, fits",
    [
        (_node(64, 32), 1, 0, TRIAL, 21),
        (_node(64, 32), 8, 0, TRIAL, 8),
        (_node(4, 8, gpus=1), 1, 0.5, GIB, 2),
        (_node(4, 8, gpus=4), 1, 2, GIB, 2),
        (_node(4, 8), 1, 0.5, GIB, 0),  # no GPU
        ({"CPU": 4.0}, 1, 0, GIB, 4),  # Ray lists no memory: the cores decide
    ],
)
def test_trials_per_node(node, cpus, gpus, memory, fits):
    assert engine.trials_per_node(node, cpus, gpus, memory) == fits


@pytest.mark.parametrize(
    "cpus, memory, workers",
    [
        (8, 64 * GIB, 8),  # one per core
        (8, 4 * GIB, 2),  # as many as the memory holds
        (2, 1 * GIB, 1),  # at least one
        (1, 64 * GIB, 1),
    ],
)
def test_the_default_workers_are_what_the_machine_fits(cpus, memory, workers, monkeypatch):
    monkeypatch.setattr(machine, "cpus", lambda: cpus)
    monkeypatch.setattr(machine, "available_memory", lambda: memory)
    assert engine.local_workers(TRIAL) == workers


def test_the_local_instance_holds_the_workers_each_with_its_request(monkeypatch):
    monkeypatch.setattr(machine, "cpus", lambda: 8)
    monkeypatch.setattr(machine, "available_memory", lambda: 4 * GIB)
    assert engine.local_workers(GIB, cpus=3) == 2
    # Its CPUs and memory: exactly the workers fit, each with its share of the cores.
    assert engine.local_instance(engine.Request(memory=TRIAL, workers=3)) == (6, 3 * TRIAL)
    assert engine.local_instance(engine.Request(memory=GIB, cpus=3, workers=2)) == (6, 2 * GIB)
    cpus, memory = engine.local_instance(engine.Request(memory=TRIAL, workers=3))
    assert (
        engine.size_trials(
            engine.Request(memory=TRIAL, workers=3), [{"CPU": cpus, "memory": memory}]
        ).workers
        == 3
    )


def test_a_trial_reserves_its_memory_cpus_and_gpus_on_ray(monkeypatch):
    monkeypatch.setenv("KERAS_BACKEND", "jax")
    monkeypatch.delenv("XLA_PYTHON_CLIENT_PREALLOCATE", raising=False)
    resources = engine.Resources(cpus=2, gpus=0.5, workers=4, memory=TRIAL)
    options = engine.trial_options(resources)
    assert {key: options[key] for key in ("num_cpus", "num_gpus", "memory")} == {
        "num_cpus": 2,
        "num_gpus": 0.5,
        "memory": TRIAL,
    }
    assert options["max_retries"] == engine.MAX_RETRIES
    env = options["runtime_env"]["env_vars"]
    # On a shared GPU JAX allocates as it goes; Ray points the trial at its GPU.
    assert env["KERAS_BACKEND"] == "jax" and env["XLA_PYTHON_CLIENT_PREALLOCATE"] == "false"
    assert "CUDA_VISIBLE_DEVICES" not in env
    # A trial given no GPU sees none (Ray would leave every GPU of its node visible).
    no_gpu = engine.trial_options(engine.Resources(cpus=1, gpus=0.0, workers=1, memory=TRIAL))
    assert no_gpu["runtime_env"]["env_vars"]["CUDA_VISIBLE_DEVICES"] == ""
    whole = engine.trial_options(engine.Resources(cpus=1, gpus=1.0, workers=1, memory=TRIAL))
    assert "XLA_PYTHON_CLIENT_PREALLOCATE" not in whole["runtime_env"]["env_vars"]


def test_tensorflows_native_log_stays_out_of_the_terminal_unless_asked_for(monkeypatch):
    resources = engine.Resources(cpus=1, gpus=0.0, workers=1, memory=TRIAL)
    monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL", raising=False)
    assert engine.trial_env(resources)["TF_CPP_MIN_LOG_LEVEL"] == "3"
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "0")
    assert engine.trial_env(resources)["TF_CPP_MIN_LOG_LEVEL"] == "0"


@pytest.mark.parametrize("asked, trials_get", [(None, "3"), ("0", "0")])
def test_the_commands_trials_keep_tensorflows_log_off_though_jax_turns_it_on(
    asked, trials_get, monkeypatch
):
    from experiments import cli

    for name in ("KERAS_BACKEND", "TF_ENABLE_ONEDNN_OPTS", "TF_CPP_MIN_LOG_LEVEL"):
        monkeypatch.delenv(name, raising=False)
    if asked is not None:
        monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", asked)
    monkeypatch.setattr(cli, "main", lambda: 0)
    assert cli.entry() == 0
    # What JAX does on import where the level is not set (it sets 1): the
    # command's own setting came first.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")
    resources = engine.Resources(cpus=1, gpus=0.0, workers=1, memory=TRIAL)
    assert engine.trial_env(resources)["TF_CPP_MIN_LOG_LEVEL"] == trials_get


def test_quiet_training_drops_the_retracing_warning_that_counts_across_runs(caplog):
    """Each run builds its own model, whose new step functions TensorFlow
    counts as retracing one function: a worker that trains run after run
    warns after the fifth. -v shows that warning; quiet runs drop it and
    show other warnings."""
    import keras
    import numpy as np

    from experiments.execution import quiet_training

    tensorflow = logging.getLogger("tensorflow")

    def tensorflow_warnings():
        return [r.getMessage() for r in caplog.records if r.name == "tensorflow"]

    with caplog.at_level(logging.WARNING, logger="tensorflow"):
        with quiet_training(verbose=True):
            for _ in range(7):
                model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
                model.predict(np.zeros((4, 3), "float32"), verbose=0)
        retracing = [m for m in tensorflow_warnings() if "tf.function retracing" in m]
        assert retracing, tensorflow_warnings()
        caplog.clear()
        with quiet_training():
            tensorflow.warning(retracing[0])  # TensorFlow's own message, as it logs it
            tensorflow.warning("another warning")
    assert tensorflow_warnings() == ["another warning"]


def test_native_stderr_is_held_back_and_written_out_only_on_an_error(capfd):
    with engine._native_stderr_held():
        os.write(2, b"I0000 port.cc: start-up line\n")
    assert capfd.readouterr().err == ""
    with pytest.raises(ImportError), engine._native_stderr_held():
        os.write(2, b"E0000 what went wrong\n")
        raise ImportError("no TensorFlow")
    assert capfd.readouterr().err == "E0000 what went wrong\n"
    os.write(2, b"after\n")  # stderr is back
    assert capfd.readouterr().err == "after\n"


def test_a_command_loads_the_backend_without_tensorflows_start_up_lines():
    def stderr_of(code):
        env = {**os.environ, "KERAS_BACKEND": "tensorflow", "TF_ENABLE_ONEDNN_OPTS": "1"}
        env.pop("TF_CPP_MIN_LOG_LEVEL", None)
        command = [sys.executable, "-c", code]
        return subprocess.run(command, env=env, capture_output=True, text=True, check=True).stderr

    # What a plain import prints on this TensorFlow: the lines to hold back.
    assert "oneDNN custom operations are on" in stderr_of("import keras")
    assert stderr_of("from experiments import engine; engine.load_backend()") == ""


@pytest.mark.parametrize("at_most, most_pending", [(None, 5), (2, 2)])
def test_run_trials_submits_at_most_the_workers_at_once(at_most, most_pending, monkeypatch):
    import ray

    declared, pending, seen = [], [], []

    class Remote:
        def __init__(self, function):
            self.function = function

        def remote(self, function, item):
            pending.append((function, item))
            seen.append(len(pending))
            return (function, item)

    def remote(**options):
        declared.append(options)
        return Remote

    def wait(refs, num_returns):
        pending.remove(refs[0])
        return [refs[0]], refs[1:]

    monkeypatch.setattr(ray, "remote", remote)
    monkeypatch.setattr(ray, "wait", wait)
    monkeypatch.setattr(ray, "get", lambda ref: ref[0](ref[1]))
    resources = engine.Resources(cpus=1, gpus=0.0, workers=2, memory=TRIAL, at_most=at_most)
    ended = list(engine.run_trials(abs, [-1, -2, -3, -4, -5], resources))
    assert [(item, result, error) for item, result, error in ended] == [
        (-i, i, None) for i in range(1, 6)
    ]
    assert declared[0]["memory"] == TRIAL and max(seen) == most_pending


@pytest.mark.parametrize(
    "argv, bytes_",
    [
        (["--memory-per-trial", "1.5G"], 3 * 2**29),
        (["--memory-per-trial", "800M"], 800 * 2**20),
        (["--memory-per-trial", "2GiB"], 2 * GIB),
        (["--memory-per-trial", "1048576"], 2**20),
    ],
)
def test_memory_per_trial_is_read_in_bytes(argv, bytes_):
    import argparse

    from experiments import parsers

    parser = argparse.ArgumentParser()
    parsers.add_engine_arguments(parser)
    args = parser.parse_args([*argv, "--cpus-per-trial", "2", "--gpus-per-trial", "0.5"])
    assert (args.memory_per_trial, args.cpus_per_trial, args.gpus_per_trial) == (bytes_, 2, 0.5)


@pytest.mark.parametrize(
    "argv, said",
    [
        (
            ["--memory-per-trial", "1.5X"],
            "argument --memory-per-trial: must be a size such as "
            "1.5G or 800M (K, M, G, T: powers of 1024), got '1.5X'",
        ),
        (["--memory-per-trial", "0"], "argument --memory-per-trial: must be a size"),
        (["--memory-per-trial=-1G"], "argument --memory-per-trial: must be a size"),
        (
            ["--gpus-per-trial", "1.5"],
            "argument --gpus-per-trial: must be 0, a fraction of a GPU "
            "up to 1 (e.g. 0.5) or a whole number, got '1.5'",
        ),
        (["--gpus-per-trial", "-1"], "argument --gpus-per-trial: must be 0"),
        (
            ["--cpus-per-trial", "0"],
            "argument --cpus-per-trial: must be a positive integer, got '0'",
        ),
    ],
)
def test_bad_trial_sizes_are_refused_naming_the_option(argv, said, capsys):
    for command in (["quick"], ["sweep", "--task", "cnn", "--norms", "none"], ["study", "all"]):
        with pytest.raises(SystemExit):
            main([*command, *argv])
        assert said in capsys.readouterr().err


# Runs long enough for parallel workers to pay whatever Ray's start costs.
LONG_RUNS = [600.0] * 4


def _stub_engine(monkeypatch, fits, address=None):
    """Ray replaced by a stub whose starts are listed (workers, address); a
    machine that fits `fits` trials; the cluster at `address`, if any."""
    import contextlib

    calls = []

    @contextlib.contextmanager
    def ray_cluster(request, address):
        calls.append((request.workers, address))
        yield "resources"

    monkeypatch.setattr(engine, "local_workers", lambda memory, cpus=1: fits)
    monkeypatch.setattr(engine, "ray_cluster", ray_cluster)
    monkeypatch.setattr(engine, "machines", lambda: 1)  # the store reaches every machine
    if address:
        monkeypatch.setenv("RAY_ADDRESS", address)
    else:
        monkeypatch.delenv("RAY_ADDRESS", raising=False)
    return calls


def _engine_args(argv):
    import argparse

    from experiments import parsers

    parser = argparse.ArgumentParser()
    parsers.add_engine_arguments(parser)
    return parser.parse_args(argv)


@pytest.mark.parametrize(
    "argv, fits, address, started",
    [
        ([], 3, None, (3, None)),  # the default: a local Ray instance of what fits
        ([], 1, None, None),  # a machine that fits one: here, without Ray
        (["--workers", "1"], 4, None, None),
        (["--workers", "2"], 1, None, (2, None)),
        ([], 1, "10.0.0.2:6379", (None, "10.0.0.2:6379")),  # a cluster: as many as Ray fits
        (["--workers", "1"], 4, "10.0.0.2:6379", (1, "10.0.0.2:6379")),
    ],
)
def test_the_engine_a_command_gets(argv, fits, address, started, monkeypatch):
    from experiments import cli

    calls = _stub_engine(monkeypatch, fits, address)
    with cli._engine(_engine_args(argv), [TASKS["cnn"]]) as connect:
        assert connect(LONG_RUNS) == (None if started is None else "resources")
        connect(LONG_RUNS)  # connected once per command
    assert calls == ([] if started is None else [started])


@pytest.mark.parametrize(
    "argv, address, started",
    [
        ([], None, None),  # the default: here, Ray's start would cost more than it saves
        (["--workers", "2"], None, (2, None)),  # asked for: on Ray all the same
        ([], "10.0.0.2:6379", (None, "10.0.0.2:6379")),  # a cluster already runs
    ],
)
def test_a_small_sweep_trains_here_unless_workers_or_a_cluster_are_asked_for(
    argv, address, started, monkeypatch, capsys
):
    from experiments import cli

    calls = _stub_engine(monkeypatch, 2, address)
    with cli._engine(_engine_args(argv), [TASKS["cnn"]]) as connect:
        assert connect([3.0, 3.0]) == (None if started is None else "resources")
    assert calls == ([] if started is None else [started])
    said = capsys.readouterr().out
    if started is None:
        assert said.strip() == (
            "=== 2 run(s) of about 6 s in all: trained here one after the other, where "
            "starting Ray for 2 workers would cost more than they save "
            "(--workers 2 runs them on Ray)"
        )
    else:
        assert said == ""


def test_once_ray_is_started_a_commands_later_small_sweeps_use_it_too(monkeypatch):
    from experiments import cli

    calls = _stub_engine(monkeypatch, 2)
    with cli._engine(_engine_args([]), [TASKS["cnn"]]) as connect:
        assert connect([3.0, 3.0]) is None  # the first study: small, here
        assert connect(LONG_RUNS) == "resources"  # the next: Ray
        assert connect([3.0]) == "resources"  # Ray's start is paid: the last on Ray too
    assert calls == [(2, None)]


@pytest.mark.parametrize(
    "run_seconds, workers, pays",
    [
        ([600.0], 2, False),  # one run: nothing to share
        ([600.0, 600.0], 1, False),  # one worker: nothing to share it with
        ([3.0, 3.0], 2, False),  # on Ray 8 + 3 = 11 s; here 6 / 1.5 = 4 s
        ([30.0, 30.0], 2, False),  # 8 + 30 = 38 s against 60 / 1.5 = 40 s: not by the margin
        ([30.0] * 6, 2, False),  # 8 + 90 = 98 s against 0.8 x 180 / 1.5 = 96 s
        ([30.0] * 10, 2, True),  # 8 + 150 = 158 s against 0.8 x 300 / 1.5 = 160 s
        ([100.0] * 4, 2, True),  # 8 + 200 = 208 s against 0.8 x 400 / 1.5 = 213 s
        ([100.0] * 4, 4, True),  # 8 + 100 = 108 s
        ([200.0, 1.0, 1.0], 2, False),  # 8 + 200 = 208 s against 202 / 1.5 s: one run dominates
        ([None, 1.0], 2, True),  # a run of unknown length is taken as long
    ],
)
def test_parallel_workers_pay_when_they_end_the_runs_sooner_than_one_after_the_other(
    run_seconds, workers, pays, monkeypatch
):
    monkeypatch.setattr(engine, "RAY_START_SECONDS", 8.0)
    monkeypatch.setattr(engine, "IN_PROCESS_SPEED_UP", 1.5)
    monkeypatch.setattr(engine, "ESTIMATE_MARGIN", 0.8)
    assert engine.parallel_pays(run_seconds, workers) is pays


def test_a_runs_estimate_scales_the_quick_runs_seconds_by_the_examples_it_trains_on():
    task = TASKS["cnn"]  # quick: 3 epochs of 2,048 examples, 25 s
    quick = {**task.settings, **task.quick_settings}
    assert task.estimated_run_seconds(quick) == task.quick_run_seconds
    assert task.estimated_run_seconds({**quick, "epochs": 6, "train_size": 1024}) == (
        task.quick_run_seconds
    )
    assert task.estimated_run_seconds({**quick, "epochs": 30}) == 10 * task.quick_run_seconds
    assert task.estimated_run_seconds(task.settings) is None  # the whole train split


def test_a_trial_asks_for_the_memory_of_the_largest_task_or_what_the_option_says(monkeypatch):
    import argparse
    import contextlib

    from experiments import cli, parsers

    requests, sized = [], []

    @contextlib.contextmanager
    def ray_cluster(request, address):
        requests.append(request)
        yield "resources"

    monkeypatch.setattr(
        engine, "local_workers", lambda memory, cpus=1: sized.append((memory, cpus)) or 2
    )
    monkeypatch.setattr(engine, "ray_cluster", ray_cluster)
    monkeypatch.setattr(engine, "machines", lambda: 1)  # the store reaches every machine
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    monkeypatch.setattr(TASKS["gan"], "trial_memory_bytes", 3 * GIB)
    parser = argparse.ArgumentParser()
    parsers.add_engine_arguments(parser)
    for argv in (
        [],
        ["--memory-per-trial", "800M", "--cpus-per-trial", "2", "--gpus-per-trial", "0.5"],
    ):
        with cli._engine(parser.parse_args(argv), [TASKS["cnn"], TASKS["gan"]]) as connect:
            connect(LONG_RUNS)
    assert requests == [
        engine.Request(memory=3 * GIB, workers=2),
        engine.Request(memory=800 * 2**20, cpus=2, gpus=0.5, workers=2),
    ]
    assert sized == [(3 * GIB, 1), (800 * 2**20, 2)]


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
    assert "run 1/4 done" in out and "left" in out  # a line per run, with the time left

    studies = set()
    for name, quick_norms in norms.items():
        [parent] = runs_of(name, run_kind="sweep")
        children = runs_of(name, run_kind="train")
        assert parent.info.status == "FINISHED" and parent.data.tags["task"] == name
        assert sorted(c.data.params["norm"] for c in children) == quick_norms
        assert {c.data.tags["mlflow.parentRunId"] for c in children} == {parent.info.run_id}
        assert all(c.info.status == "FINISHED" for c in children)
        assert all({"loss", "test_accuracy"} <= set(c.data.metrics) for c in children)
        assert os.getpid() not in {runs.run_process(c.data.tags)["pid"] for c in children}
        studies |= {r.data.tags["study"] for r in (parent, *children)}
    [study] = studies
    assert study.startswith("quick-")
    report = (tmp_path / "report.md").read_text()
    assert "## cnn: " in report and "## rnn: " in report


@pytest.mark.loopback_namespace(timeout=150)
def test_a_trial_whose_worker_is_killed_is_retried_and_its_dead_run_ends_killed(
    local_ray, sweep_process, runs_of
):
    sweep = sweep_process(
        "--norms",
        "none,batch",
        "--epochs",
        "1",
        "--workers",
        "2",
        "--ray-address",
        local_ray,
        "--study",
        "retry",
    )

    def a_started_run():
        # A child with its params and no metric yet: its worker is still well before the end.
        return [
            r
            for r in runs_of("cnn", run_kind="train")
            if r.info.status == "RUNNING" and r.data.params and not r.data.metrics
        ]

    [victim, *_] = _wait_for(a_started_run, "RUNNING child", sweep)
    os.kill(runs.run_process(victim.data.tags)["pid"], signal.SIGKILL)
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
    attempted = RunConfig.from_params(TASKS["cnn"], dead.data.params)
    assert any(execution.trained(r, attempted) for r in children.values())
    [parent] = runs_of("cnn", run_kind="sweep")
    assert parent.info.status == "FINISHED"


@pytest.mark.loopback_namespace(timeout=200)
def test_a_sweep_whose_driver_is_killed_resumes_without_redoing_finished_runs(
    local_ray, sweep_process, runs_of
):
    argv = (
        "--norms",
        "none,batch,layer",
        "--epochs",
        "1",
        "--workers",
        "2",
        "--ray-address",
        local_ray,
        "--study",
        "resumable",
    )
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
    workers = [runs.run_process(r.data.tags)["pid"] for r in running if r.info.status == "RUNNING"]
    _wait_for(
        lambda: not any(psutil.pid_exists(pid) for pid in workers),
        "end of the killed sweep's workers",
    )
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
        [(after[i].info.status, after[i].data.tags) for i in unfinished],
        output,
    )
    new = [r for i, r in after.items() if i not in before]
    # Only what had not finished ran again, once, under the same parent.
    assert len(new) == 3 - len(finished)
    assert all(r.info.status == "FINISHED" for r in new)
    done = [
        RunConfig.from_params(TASKS["cnn"], r.data.params).identity()
        for r in after.values()
        if r.info.status == "FINISHED"
    ]
    assert len(set(done)) == len(done) == 3
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
    node = {runs.PROCESS_TAG: runs.process_record({"host": "node-2", "pid": 7, "started": 1.0})}
    child = client.create_run(
        experiment, tags={**sweep, **node, "run_kind": "train", "mlflow.parentRunId": parent}
    ).info.run_id

    argv = [
        "sweep",
        "--task",
        "cnn",
        "--quick",
        "--norms",
        "none",
        "--study",
        "far",
        "--workers",
        "1",
    ]
    assert main([*argv, "--resume"]) == 1
    assert (
        "the sweep of study 'far' is still running: process(es) 7 on node-2; resume "
        "once they have ended"
    ) in capsys.readouterr().err
    assert client.get_run(child).info.status == "RUNNING"


def test_two_sweeps_log_into_one_sqlite_store_at_once_without_a_lost_run(sweep_process, runs_of):
    sweeps = [
        sweep_process(
            "--norms",
            "none,batch",
            "--epochs",
            "1",
            "--workers",
            "1",
            "--study",
            f"parallel-{index}",
        )
        for index in range(2)
    ]
    for sweep in sweeps:
        status, output = _finished(sweep)
        assert status == 0, output
        assert "database is locked" not in output

    for index in range(2):
        children = runs_of("cnn", run_kind="train", study=f"parallel-{index}")
        assert sorted(r.data.params["norm"] for r in children) == ["batch", "none"]
        assert all(r.info.status == "FINISHED" for r in children)
        assert all(
            mlflow.MlflowClient().get_metric_history(r.info.run_id, "loss") for r in children
        )
        [parent] = runs_of("cnn", run_kind="sweep", study=f"parallel-{index}")
        assert parent.info.status == "FINISHED"


def test_a_sqlite_store_is_refused_for_a_cluster_of_several_machines(store, monkeypatch):
    from experiments.errors import TrackingError
    from experiments.tracking import store as stores

    with pytest.raises(TrackingError, match="spans 2 machines, and the SQLite store"):
        stores.check_reaches_every_machine(2)
    stores.check_reaches_every_machine(1)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")  # a server reaches all
    stores.check_reaches_every_machine(2)


def test_a_dataset_another_run_added_at_the_same_moment_is_logged_again(store, monkeypatch):
    from mlflow.exceptions import MlflowException

    from experiments.tracking import runs

    calls = []

    def log_input(dataset, context):
        calls.append(context)
        if len(calls) == 1:
            raise MlflowException(
                "(sqlite3.IntegrityError) UNIQUE constraint failed: "
                "datasets.experiment_id, datasets.name, datasets.digest"
            )

    monkeypatch.setattr(mlflow, "log_input", log_input)
    runs.log_dataset("fashion_mnist", "/data", "train[:10]", "training")
    assert calls == ["training", "training"]

    def unreachable(dataset, context):
        raise MlflowException("connection refused")

    monkeypatch.setattr(mlflow, "log_input", unreachable)
    with pytest.raises(MlflowException, match="connection refused"):
        runs.log_dataset("fashion_mnist", "/data", "train[:10]", "training")


@pytest.mark.loopback_namespace(timeout=200)
def test_sigterm_to_a_sweep_on_ray_ends_its_runs_killed_and_stops_its_trials(
    local_ray, sweep_process, runs_of
):
    sweep = sweep_process(
        "--norms", "none,batch,layer", "--epochs", "2", "--workers", "2", "--ray-address", local_ray
    )

    def a_running_child():
        return [r for r in runs_of("cnn", run_kind="train") if r.info.status == "RUNNING"]

    _wait_for(a_running_child, "RUNNING child", sweep)
    sweep.send_signal(signal.SIGTERM)
    status, output = _finished(sweep)

    assert status == 143, output
    assert "interrupted by SIGTERM; runs ended KILLED: " in output, output
    [parent] = runs_of("cnn", run_kind="sweep")
    assert parent.info.status == "KILLED"
    children = runs_of("cnn", run_kind="train")
    assert {r.info.status for r in children} <= {"FINISHED", "KILLED"}, output
    assert all(r.info.end_time for r in children)
    assert all(
        r.data.tags["error"].endswith("interrupted by SIGTERM")
        for r in [parent, *children]
        if r.info.status == "KILLED"
    )
    # The trials in flight were stopped on the cluster, which outlives the
    # sweep: none of its runs ends, or changes, afterwards.
    ended = {r.info.run_id: r.info.status for r in children}
    time.sleep(15)
    assert {r.info.run_id: r.info.status for r in runs_of("cnn", run_kind="train")} == ended
