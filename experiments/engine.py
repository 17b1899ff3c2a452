"""The sweep engine: Ray, one Ray task per configuration.

A command starts a local Ray instance fitted to `--workers` and shuts it down
after, or joins a running cluster (`--ray-address`, or `RAY_ADDRESS`). Each
trial declares its share of the CPUs (and of the GPUs, where the cluster has
them); in its worker TensorFlow's thread pools are sized to that share before
TensorFlow runs anything, so parallel trials do not oversubscribe the cores.
A worker trains trial after trial of one command, every one with the same
share, so TensorFlow is loaded once per worker rather than once per trial.

A trial whose worker dies (kill -9, out of memory, a lost node) is run again
by Ray, up to `MAX_RETRIES` times; once they are spent the trial ends with
`TrialLost`. The engine knows nothing of MLflow: what a trial logs, and how
a dead attempt's run is ended, is the trial function's business.
"""

import contextlib
import dataclasses
import functools
import os

from experiments import machine

# Attempts after the first of a trial whose worker died.
MAX_RETRIES = 2

# The memory one trial takes, to size the default number of workers: a quick
# cnn, gan or translate run peaks at 1.1 GiB resident in a process of its own
# (TensorFlow, the data, MLflow; measured with `ru_maxrss`), and a Ray worker
# adds its own runtime and trains trial after trial.
TRIAL_MEMORY_BYTES = 3 * 2**29  # 1.5 GiB

# The driver's settings a trial needs wherever it runs: the Keras backend and
# TensorFlow's switches, where tensorflow-datasets keeps data, the project's
# home (its caches, the GAN's FID classifier among them), the period of its
# run's heartbeats (`experiments.tracking.runs`).
FORWARDED_ENV = ("KERAS_BACKEND", "TF_ENABLE_ONEDNN_OPTS", "TF_CPP_MIN_LOG_LEVEL",
                 "TFDS_DATA_DIR", "KERAS_NORMS_HOME", "KERAS_NORMS_HEARTBEAT_S")


class TrialLost(RuntimeError):
    """A trial's worker died on every attempt (killed, out of memory, node lost)."""


@dataclasses.dataclass(frozen=True)
class Resources:
    """What one trial declares to Ray, and how many trials run at once."""

    cpus: int
    gpus: float
    workers: int


def local_workers():
    """How many trials this machine fits at once: one per core this process may
    use, as many as the available memory holds, at least one (container limits
    included, `experiments.machine`)."""
    return max(1, min(machine.cpus(), machine.available_memory() // TRIAL_MEMORY_BYTES))


def _share(workers, cpus, gpus):
    """Splits `cpus` and `gpus` between `workers` trials running at once."""
    workers = workers or max(1, int(cpus))
    return Resources(
        cpus=max(1, int(cpus) // workers),
        # A fraction of a GPU lets several trials share one; TensorFlow then
        # grows its memory as needed instead of taking it all (see `_size_tensorflow`).
        gpus=min(1.0, round(gpus / workers, 2)) if gpus else 0.0,
        workers=workers,
    )


@contextlib.contextmanager
def ray_cluster(workers=None, address=None):
    """Connects to Ray for the duration of a command; yields a trial's `Resources`.

    Joins the cluster at `address` (or `RAY_ADDRESS`) when given, else starts
    a local instance with `workers` trials at once (default: what the machine
    fits, `local_workers()`), shut down on exit. Where Ray is already initialized (a notebook, a
    script), that instance is used and left running.
    """
    import ray

    address = address or os.environ.get("RAY_ADDRESS")
    owned = not ray.is_initialized()
    if owned and address:
        ray.init(address=address, log_to_driver=True)
    elif owned:
        cpus = machine.cpus()
        workers = workers or local_workers()
        ray.init(num_cpus=max(1, cpus // workers) * workers, include_dashboard=False,
                 log_to_driver=True)
    try:
        total = ray.cluster_resources()
        yield _share(workers, total.get("CPU", 1), total.get("GPU", 0))
    finally:
        if owned:
            ray.shutdown()


@functools.cache
def _size_tensorflow(threads):
    """Sizes TensorFlow's thread pools, once per worker process (they cannot be
    resized once TensorFlow has started)."""
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)
    for gpu in tf.config.list_physical_devices("GPU"):
        tf.config.experimental.set_memory_growth(gpu, True)


def machines():
    """How many machines the connected Ray cluster spans."""
    import ray

    return len({node["NodeManagerAddress"] for node in ray.nodes() if node["Alive"]})


def _run_trial(function, item):
    """Runs `function(item)` in a Ray worker, TensorFlow sized to the worker's share."""
    import keras
    import ray

    assigned = ray.get_runtime_context().get_assigned_resources()
    _size_tensorflow(max(1, int(assigned.get("CPU", 1))))
    try:
        return function(item)
    finally:
        keras.backend.clear_session()  # the next trial in this worker starts afresh


def forwarded_env():
    return {name: os.environ[name] for name in FORWARDED_ENV if os.environ.get(name)}


def run_trials(function, items, resources):
    """Runs `function(item)` for every item, each as a Ray task; yields
    `(item, result, error)` as each ends, in the order they end.

    `function` must be picklable by reference (a module-level function) and
    import what it needs in the worker. `error` is None, the exception
    `function` raised (not retried: a failed configuration fails again), or
    `TrialLost` once the worker died `MAX_RETRIES + 1` times.
    """
    import ray
    from ray.exceptions import RayError, RayTaskError

    remote = ray.remote(
        num_cpus=resources.cpus,
        num_gpus=resources.gpus,
        max_retries=MAX_RETRIES,
        retry_exceptions=False,
        runtime_env={"env_vars": forwarded_env()},
    )(_run_trial)
    pending = {remote.remote(function, item): item for item in items}
    try:
        while pending:
            [ready], _ = ray.wait(list(pending), num_returns=1)
            item = pending.pop(ready)
            result = error = None
            try:
                result = ray.get(ready)
            except RayTaskError as failure:
                error = failure.cause if isinstance(failure.cause, BaseException) else failure
            except RayError as failure:
                error = TrialLost(f"{type(failure).__name__}: "
                                  f"{str(failure).strip().splitlines()[0]}")
            yield item, result, error
    finally:
        # An interrupted sweep leaves nothing running on a cluster that outlives it.
        for ref in pending:
            ray.cancel(ref, force=True)
