"""Interleaved timing of contenders in one process, on any Keras backend.

A contender is a function that runs one forward+backward pass and waits for
its results. `layer_step` builds one for a Keras layer; `function_step`
builds one for a function written in the backend's own framework (its
native layers); `floor_step` for `y = 2 * x`, one read and one write of the
tensor each way, the least any layer of that shape can cost.
"""

import argparse
import inspect
import json
import os
import platform
import statistics
import sys
import time

import keras
import numpy as np
from tables import RESULTS, markdown_table

BACKEND = keras.backend.backend()


def command_line(doc, repeats=30):
    """A benchmark's argument parser: `--repeats` (rounds timed), described by
    the first line of the script's `doc`."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=repeats)
    return parser


def interleaved_medians(contenders, repeats, warmup=3):
    """Times each `name -> fn()` once per round, for `repeats` rounds.

    Interleaving spreads any slowdown of the machine over all contenders
    alike, so their ratios stay fair. Returns `name -> median seconds`.
    """
    for fn in contenders.values():
        for _ in range(warmup):
            fn()
    times = {name: [] for name in contenders}
    for _ in range(repeats):
        for name, fn in contenders.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(ts) for name, ts in times.items()}


def compile_modes():
    """The ways the backend runs a step: `(label, compiled)` pairs.

    TensorFlow runs graphs with and without XLA; JAX always compiles with
    XLA; torch runs eagerly, as Keras runs it unless told otherwise.
    """
    if BACKEND == "tensorflow":
        return [("graph", False), ("XLA", True)]
    if BACKEND == "jax":
        return [("XLA", True)]
    return [("eager", False)]


def _random(shape, seed):
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


def layer_step(layer, shape, compiled):
    """One training-mode forward+backward pass of a Keras layer."""
    if not layer.built:
        layer.build(shape)
    # Some layers (GroupNormalization) take no `training` argument.
    kwargs = {}
    if "training" in inspect.signature(layer.call).parameters:
        kwargs["training"] = True
    # One call first, as in training after the first step: JAX steps reuse
    # the state read below, which must not ask for WeightNormalization's
    # data-dependent init again.
    layer(_random(shape, 0), **kwargs)
    if BACKEND == "jax":

        def fn(params, state, x):
            return layer.stateless_call(params, state, x, **kwargs)

        return function_step(
            fn,
            shape,
            compiled,
            params=[v.value for v in layer.trainable_variables],
            state=[v.value for v in layer.non_trainable_variables],
        )
    params = [v.value if BACKEND == "torch" else v for v in layer.trainable_variables]
    return function_step(lambda x: layer(x, **kwargs), shape, compiled, params=params)


def function_step(fn, shape, compiled, params=(), state=()):
    """One forward+backward pass of `fn` on a random input of `shape`.

    The gradient is that of `sum(fn(x) * dy)` with respect to `x` and
    `params`. On TensorFlow and torch `fn(x)` returns the output and
    `params` are the variables (tensors) to differentiate; on JAX, which is
    stateless, `fn(params, state, x)` returns the output and the new state,
    and the new state is returned too, so XLA cannot drop its computation.
    """
    x_np = _random(shape, 0)
    if BACKEND == "tensorflow":
        import tensorflow as tf

        x = tf.constant(x_np)
        dy = tf.constant(_random(tuple(fn(x).shape), 1))

        @tf.function(jit_compile=compiled)
        def step():
            with tf.GradientTape() as tape:
                tape.watch(x)
                loss = tf.reduce_sum(fn(x) * dy)
            return tape.gradient(loss, [x] + list(params))

        return lambda: [g.numpy() for g in step()]

    if BACKEND == "jax":
        import jax

        x = jax.numpy.asarray(x_np)
        y, _ = fn(params, state, x)
        dy = jax.numpy.asarray(_random(tuple(y.shape), 1))

        def loss(params, x, state):
            y, new_state = fn(params, state, x)
            return (y * dy).sum(), new_state

        grad = jax.grad(loss, argnums=(0, 1), has_aux=True)
        if compiled:
            grad = jax.jit(grad)
        return lambda: jax.block_until_ready(grad(params, x, state))

    import torch

    device = torch_device()
    x = torch.tensor(x_np, device=device, requires_grad=True)
    dy = torch.tensor(_random(tuple(fn(x).shape), 1), device=device)

    def step():
        loss = (fn(x) * dy).sum()
        grads = torch.autograd.grad(loss, [x] + list(params))
        if device.type == "cuda":
            torch.cuda.synchronize()
        return grads

    return step


def torch_device():
    """The device Keras's torch backend computes on (a GPU where there is
    one), where the native layers and the floor must run too."""
    return keras.ops.convert_to_tensor(0.0).device


def floor_step(shape, compiled):
    """Forward+backward of `y = 2 * x`: one read and one write each way."""
    if BACKEND == "jax":
        return function_step(lambda params, state, x: (x * 2.0, state), shape, compiled)
    return function_step(lambda x: x * 2.0, shape, compiled)


def _cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _framework():
    if BACKEND == "tensorflow":
        import tensorflow as tf

        devices = [d.device_type for d in tf.config.list_logical_devices()]
        device = "GPU" if "GPU" in devices else "CPU"
        return f"TensorFlow {tf.__version__}", device
    if BACKEND == "jax":
        import jax

        device = jax.devices()[0]
        return f"JAX {jax.__version__}", device.device_kind
    import torch

    device = torch.cuda.get_device_name() if torch.cuda.is_available() else "CPU"
    return f"torch {torch.__version__}", device


def setup():
    """What the figures depend on: versions, device, cores and load."""
    framework, device = _framework()
    return {
        "backend": BACKEND,
        "framework": framework,
        "keras": keras.__version__,
        "python": sys.version.split()[0],
        "device": device,
        "cpu": _cpu_name(),
        "cores": os.cpu_count(),
        "onednn": os.environ.get("TF_ENABLE_ONEDNN_OPTS", "default")
        if BACKEND == "tensorflow"
        else None,
        "load_average": round(os.getloadavg()[0], 2),
        "date": time.strftime("%Y-%m-%d"),
    }


def run_name(script, device):
    """`<script>-<backend>`, with the oneDNN setting on TensorFlow, and
    `-gpu` on a GPU (`device`, as `setup()` names it), so that a GPU run's
    figures sit beside the CPU's."""
    name = f"{script}-{BACKEND}"
    if BACKEND == "tensorflow":
        name += "-onednn" + os.environ.get("TF_ENABLE_ONEDNN_OPTS", "default")
    if device.lower() != "cpu":
        name += "-gpu"
    return name


def save(script, repeats, tables):
    """Prints `tables` (`title -> (header, rows)`) and writes them, with the
    setup, to `benchmarks/results/<run name>.json` for `render.py`."""
    info = setup()
    print(json.dumps(info))
    for title, (header, rows) in tables.items():
        print(f"\n{title} (median of {repeats})")
        print(markdown_table(header, rows))
    os.makedirs(RESULTS, exist_ok=True)
    path = os.path.join(RESULTS, run_name(script, info["device"]) + ".json")
    with open(path, "w") as f:
        json.dump({"setup": info, "repeats": repeats, "tables": tables}, f, indent=1)
    print(f"\nwrote {path}")
