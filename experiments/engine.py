"""The sweep engine: Ray, one Ray task per configuration.

A command starts a local Ray instance fitted to `--workers` and shuts it down
after, or joins a running cluster (`--ray-address`, or `RAY_ADDRESS`). Each
trial declares to Ray what it needs (`Request`, sized by `size_trials`): CPUs,
memory, and GPUs where the cluster has them, so Ray runs at once only as many
trials as each node holds. In its worker TensorFlow's thread pools are sized to
the trial's CPUs before TensorFlow runs anything, so parallel trials do not
oversubscribe the cores. A worker trains trial after trial of one command,
every one with the same resources, so TensorFlow is loaded once per worker
rather than once per trial.

With the default workers on a local instance, a sweep too small to win back
Ray's start trains in the command's process instead (`parallel_pays`), so the
default never makes a sweep slower than one worker.

A trial whose worker dies (kill -9, out of memory, a lost node) is run again
by Ray, up to `MAX_RETRIES` times; once they are spent the trial ends with
`TrialLost`. The engine knows nothing of MLflow: what a trial logs, and how
a dead attempt's run is ended, is the trial function's business.
"""

import contextlib
import dataclasses
import functools
import itertools
import math
import os
import signal
import sys
import threading

from . import machine
from .errors import ExperimentError

# Attempts after the first of a trial whose worker died.
MAX_RETRIES = 2
# Seconds an interrupted sweep waits for its killed trials to end.
CANCEL_GRACE_S = 30
# What decides whether the default workers pay (`parallel_pays`), fitted to
# small sweeps of quick cnn and rl runs on a 2-core AMD EPYC
# (benchmarks/bench_sweep_workers.py, BENCHMARKS.md): Ray's start and its
# workers' imports, once per command (8-9 s there); how much faster a run
# trains in the command's process, on every core, than as a trial on its
# share of them, one core of two (1.33-1.44x); and, a run's seconds being an
# estimate (a task's quick run, 1.5-2.3x longer than those sweeps' runs of
# no norm), how far below training here Ray's estimate must come.
RAY_START_SECONDS = 9.0
IN_PROCESS_SPEED_UP = 1.4
ESTIMATE_MARGIN = 0.8

# The driver's settings a trial needs wherever it runs: the Keras backend and
# TensorFlow's switches, where tensorflow-datasets keeps data, the project's
# home (its caches, the GAN's FID classifier among them), the period of its
# run's heartbeats (`experiments.tracking.runs`).
FORWARDED_ENV = (
    "KERAS_BACKEND",
    "TF_ENABLE_ONEDNN_OPTS",
    "TF_CPP_MIN_LOG_LEVEL",
    "TFDS_DATA_DIR",
    "KERAS_NORMS_HOME",
    "KERAS_NORMS_HEARTBEAT_S",
)


class TrialLost(RuntimeError):
    """A trial's worker died on every attempt (killed, out of memory, node lost)."""


@dataclasses.dataclass(frozen=True)
class Request:
    """What a command asks of each trial: `memory` bytes (the task's need, or
    `--memory-per-trial`); `cpus` and `gpus` (None: a share, see
    `size_trials`); at most `workers` trials at once (None: as many as Ray
    fits on the cluster)."""

    memory: int
    cpus: int | None = None
    gpus: float | None = None
    workers: int | None = None


@dataclasses.dataclass(frozen=True)
class Resources:
    """What one trial declares to Ray (`memory` in bytes), how many trials
    the cluster runs at once, and at most how many are submitted at once
    (`at_most`, None: every trial, Ray's scheduler deciding)."""

    cpus: int
    gpus: float
    workers: int
    memory: int | None = None
    at_most: int | None = None


def local_workers(memory, cpus=1):
    """How many trials of `memory` bytes and `cpus` cores this machine fits at
    once: as many as the cores this process may use and the available memory
    hold, at least one (container limits included, `experiments.machine`)."""
    return max(1, min(machine.cpus() // cpus, machine.available_memory() // memory))


def parallel_pays(run_seconds, workers):
    """Whether `workers` trials at once on a local Ray instance end runs that
    each take about `run_seconds` as a trial (a list of estimates; None: not
    known, taken as long) sooner than the command's process trains them one
    after the other: never for one run or one worker; else where Ray's start
    plus the busiest worker's runs (longest first, each to the least busy
    worker) come to less than `ESTIMATE_MARGIN` of the runs in a row, each
    `IN_PROCESS_SPEED_UP` faster here."""
    if workers < 2 or len(run_seconds) < 2:
        return False
    if None in run_seconds:
        return True
    busy = [0.0] * workers
    for seconds in sorted(run_seconds, reverse=True):
        busy[busy.index(min(busy))] += seconds
    here = sum(run_seconds) / IN_PROCESS_SPEED_UP
    return RAY_START_SECONDS + max(busy) < ESTIMATE_MARGIN * here


def trials_per_node(node, cpus, gpus, memory):
    """How many trials of `cpus`, `gpus` and `memory` bytes fit on one Ray
    node at once; `node` is its resources as Ray lists them ({"CPU": 16.0,
    "GPU": 1.0, "memory": bytes, ...}). A fraction of a GPU fits on one GPU
    as many times as it goes into 1; a whole number needs that many GPUs."""
    counts = [int(node.get("CPU", 0) // cpus)]
    if memory and "memory" in node:
        counts.append(int(node["memory"] // memory))
    if gpus:
        whole = int(node.get("GPU", 0) + 1e-9)
        counts.append(whole * int(1 / gpus + 1e-9) if gpus < 1 else int(whole // gpus))
    return max(0, min(counts))


def _gpu_share(gpus, trials):
    """`gpus` GPUs split between `trials` trials so that they all fit at once:
    a whole one at most, else the fraction that lets each GPU hold its part of
    the trials (2 GPUs for 3 trials: 0.5, not 0.67, of which a GPU holds one),
    rounded down to 1%, at least 1%."""
    per_gpu = math.ceil(trials / int(gpus + 1e-9))
    return 1.0 if per_gpu <= 1 else max(0.01, math.floor(100 / per_gpu) / 100)


def size_trials(request, nodes):
    """What each trial declares, given the `Request` and the alive nodes'
    resources (`trials_per_node`'s `node`): Ray then runs on each node only as
    many trials as it holds.

    CPUs: the request's; else with `workers`, the cluster's CPUs split between
    them (at least one); else one. GPUs, where the cluster has some and the
    request says none: a share, so trials share the GPUs as they share the
    cores: the cluster's GPUs split between `workers`, or without `workers`
    each GPU node's split between the trials it holds by CPUs and memory (the
    tightest node's share). Raises `ExperimentError` where no node holds one
    trial, which Ray would otherwise keep waiting for.
    """
    total_cpus = sum(node.get("CPU", 0) for node in nodes)
    total_gpus = sum(node.get("GPU", 0) for node in nodes)
    cpus = request.cpus or (max(1, int(total_cpus) // request.workers) if request.workers else 1)
    gpus = request.gpus
    if gpus is None and total_gpus < 1:
        gpus = 0.0
    elif gpus is None and request.workers:
        gpus = _gpu_share(total_gpus, request.workers)
    elif gpus is None:
        gpus = min(
            (
                _gpu_share(node["GPU"], max(1, trials_per_node(node, cpus, 0, request.memory)))
                for node in nodes
                if node.get("GPU", 0) >= 1
            ),
            default=0.0,
        )
    fit = sum(trials_per_node(node, cpus, gpus, request.memory) for node in nodes)
    if fit == 0:
        largest = max(
            nodes, key=lambda node: (node.get("CPU", 0), node.get("memory", 0)), default={}
        )
        raise ExperimentError(
            f"no node of the Ray cluster holds one trial of {cpus} CPU(s), {gpus:g} GPU(s) and "
            f"{_gib(request.memory)} of memory (its largest node has {largest.get('CPU', 0):g} "
            f"CPU(s), {largest.get('GPU', 0):g} GPU(s) and {_gib(largest.get('memory', 0))} of "
            "memory for tasks): lower --cpus-per-trial, --gpus-per-trial or --memory-per-trial"
        )
    return Resources(
        cpus=cpus,
        gpus=float(gpus),
        memory=request.memory,
        workers=min(fit, request.workers or fit),
        at_most=request.workers,
    )


def _gib(size):
    return f"{size / 2**30:.2f} GiB"


def local_instance(request):
    """The CPUs and memory of the local Ray instance a command starts for
    `request` (its `workers` set): exactly `workers` trials fit, each with
    its share of this machine's cores unless `request.cpus` says otherwise."""
    cpus = request.cpus or max(1, machine.cpus() // request.workers)
    return cpus * request.workers, request.memory * request.workers


def _nodes():
    import ray

    return [node["Resources"] for node in ray.nodes() if node["Alive"]]


@contextlib.contextmanager
def ray_cluster(request, address=None):
    """Connects to Ray for the duration of a command; yields a trial's
    `Resources` for `request` (a `Request`, see `size_trials`).

    Joins the cluster at `address` (or `RAY_ADDRESS`) when given, else starts
    a local instance holding `request.workers` trials at once (default: what
    the machine fits, `local_workers`), shut down on exit. Where Ray is already
    initialized (a notebook, a script), that instance is used and left running.
    """
    import ray

    address = address or os.environ.get("RAY_ADDRESS")
    owned = not ray.is_initialized()
    # `ray.init` makes SIGTERM abort the driver; the command's own handler
    # (`tracking.runs.end_runs_on_sigterm`) is put back, so that its runs end
    # KILLED as on Ctrl-C.
    on_sigterm = signal.getsignal(signal.SIGTERM)
    if owned and address:
        ray.init(address=address, log_to_driver=True)
    elif owned:
        if request.workers is None:
            request = dataclasses.replace(
                request, workers=local_workers(request.memory, request.cpus or 1)
            )
        cpus, memory = local_instance(request)
        ray.init(num_cpus=cpus, _memory=memory, include_dashboard=False, log_to_driver=True)
    if owned and on_sigterm is not None and threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, on_sigterm)
    try:
        yield size_trials(request, _nodes())
    finally:
        if owned:
            ray.shutdown()


@contextlib.contextmanager
def connector(request, address=None, on_start=lambda: None, adaptive=False):
    """Yields `connect(run_seconds)` for a command whose runs may train on Ray:
    it returns a trial's `Resources`, joining or starting Ray (`ray_cluster`)
    on its first call, after which `on_start()` runs (a check that needs the
    cluster); or None where the runs train in this process one after the
    other: `request.workers` is 1 and no cluster `address` is given, or, with
    `adaptive` (the default workers on a local instance) and Ray not started
    yet, where parallel workers would not end the runs (`run_seconds`, each
    one's estimate) sooner (`parallel_pays`). Ray is started only when a
    command has passed the checks that need no Ray."""
    with contextlib.ExitStack() as stack:
        resources = []

        def connect(run_seconds):
            if not resources and not address:
                if request.workers == 1:
                    return None
                if adaptive and not parallel_pays(list(run_seconds), request.workers):
                    print(_in_process_note(run_seconds, request.workers), flush=True)
                    return None
            if not resources:
                resources.append(stack.enter_context(ray_cluster(request, address)))
                on_start()
            return resources[0]

        yield connect


def _in_process_note(run_seconds, workers):
    """What a command says when its runs train in its own process although
    `workers` fit at once."""
    estimate = "" if None in run_seconds else f" of about {sum(run_seconds):.0f} s in all"
    return (
        f"=== {len(run_seconds)} run(s){estimate}: trained here one after the other, where "
        f"starting Ray for {workers} workers would cost more than they save "
        f"(--workers {workers} runs them on Ray)"
    )


@functools.cache
def _size_threads(threads):
    """Sizes TensorFlow's thread pools (its data pipelines run on every
    backend), and torch's on torch, once per worker process (TensorFlow's
    cannot be resized once it has started). JAX sizes its own from the CPUs
    it sees."""
    import keras
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)
    for gpu in tf.config.list_physical_devices("GPU"):
        tf.config.experimental.set_memory_growth(gpu, True)
    if keras.config.backend() == "torch":
        import torch

        torch.set_num_threads(threads)


def machines():
    """How many machines the connected Ray cluster spans."""
    import ray

    return len({node["NodeManagerAddress"] for node in ray.nodes() if node["Alive"]})


def _run_trial(function, item):
    """Runs `function(item)` in a Ray worker, its threads sized to the worker's share."""
    import ray

    keras = load_backend()
    assigned = ray.get_runtime_context().get_assigned_resources()
    _size_threads(max(1, int(assigned.get("CPU", 1))))
    try:
        return function(item)
    finally:
        keras.backend.clear_session()  # the next trial in this worker starts afresh


def load_backend():
    """Imports and returns Keras, its backend loaded, with what native code
    prints on loading held back (`_native_stderr_held`): a command's terminal,
    and each Ray trial's, shows the runs rather than TensorFlow's start-up lines."""
    with _native_stderr_held():
        import keras

    return keras


@contextlib.contextmanager
def _native_stderr_held():
    """Holds back what native code writes to stderr in the block: TensorFlow's
    start-up lines (oneDNN, CUDA), which absl prints in each worker whatever
    TF_CPP_MIN_LOG_LEVEL says and Ray would relay to the command's terminal.
    They are written out after all where the block raises."""
    import tempfile

    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        try:
            yield
        except BaseException:
            os.dup2(saved, 2)
            held.seek(0)
            os.write(2, held.read())
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def forwarded_env():
    return {name: os.environ[name] for name in FORWARDED_ENV if os.environ.get(name)}


def trial_env(resources):
    """A trial's environment: the driver's `forwarded_env()` (TensorFlow's C++
    log off where it says nothing of it), and what its GPU
    share asks. Ray points a trial given GPUs at them (CUDA_VISIBLE_DEVICES),
    whatever the backend, but leaves every GPU visible to one given none:
    those are hidden from it. On a GPU shared with other trials JAX allocates
    as it goes instead of taking most of the GPU at start (TensorFlow grows
    its memory, `_size_threads`; torch allocates as it goes)."""
    env = forwarded_env()
    # TensorFlow's C++ log (the graph optimizer's notes among them) stays out of
    # the command's terminal unless asked for; a trial's errors reach the
    # command as Python exceptions.
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if not resources.gpus:
        env["CUDA_VISIBLE_DEVICES"] = ""
    elif resources.gpus < 1:
        env.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
    return env


def trial_options(resources):
    """The options of a trial's Ray task (`ray.remote`): what it declares, its
    retries, its environment."""
    return {
        "num_cpus": resources.cpus,
        "num_gpus": resources.gpus,
        "memory": resources.memory,
        "max_retries": MAX_RETRIES,
        "retry_exceptions": False,
        "runtime_env": {"env_vars": trial_env(resources)},
    }


def run_trials(function, items, resources):
    """Runs `function(item)` for every item, each as a Ray task declaring
    `resources` (at most `resources.at_most` submitted at once, the next as
    one ends); yields `(item, result, error)` as each ends, in the order they
    end.

    `function` must be picklable by reference (a module-level function) and
    import what it needs in the worker. `error` is None, the exception
    `function` raised (not retried: a failed configuration fails again), or
    `TrialLost` once the worker died `MAX_RETRIES + 1` times.
    """
    import ray
    from ray.exceptions import RayError, RayTaskError

    remote = ray.remote(**trial_options(resources))(_run_trial)
    items = iter(items)
    pending = {}

    def submit(count):  # None: every item left
        for item in itertools.islice(items, count):
            pending[remote.remote(function, item)] = item

    # With `at_most`, the next trial is submitted as one ends.
    submit(resources.at_most)
    try:
        while pending:
            [ready], _ = ray.wait(list(pending), num_returns=1)
            item = pending.pop(ready)
            submit(1 if resources.at_most else 0)
            result = error = None
            try:
                result = ray.get(ready)
            except RayTaskError as failure:
                error = failure.cause if isinstance(failure.cause, BaseException) else failure
            except RayError as failure:
                error = TrialLost(
                    f"{type(failure).__name__}: {str(failure).strip().splitlines()[0]}"
                )
            yield item, result, error
    finally:
        _cancel(list(pending))


def _cancel(refs):
    """Stops the trials `refs` still in flight, killing their workers, so that
    an interrupted sweep leaves nothing running on a cluster that outlives
    it; waits up to `CANCEL_GRACE_S` for them to end (a killed trial cannot end
    its own run: the caller does)."""
    import ray

    for ref in refs:
        ray.cancel(ref, force=True)
    if refs:
        ray.wait(refs, num_returns=len(refs), timeout=CANCEL_GRACE_S)
