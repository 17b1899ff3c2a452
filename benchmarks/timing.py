"""Interleaved timing of contenders in one process, for the benchmarks."""

import os
import statistics
import time

import numpy as np
import tensorflow as tf


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


def setup_line():
    """Versions, cores and whether TensorFlow's oneDNN kernels are on."""
    import keras

    onednn = os.environ.get("TF_ENABLE_ONEDNN_OPTS", "default")
    return (
        f"TensorFlow {tf.__version__}, Keras {keras.__version__}, "
        f"{os.cpu_count()} CPU cores, TF_ENABLE_ONEDNN_OPTS={onednn}"
    )


def markdown_table(header, rows):
    """Formats rows (lists of cells) as a Markdown table."""
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" for _ in header) + "|",
    ]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def training_step(layer, shape, jit_compile):
    """A compiled forward+backward pass of `layer` in training mode.

    Returns a function that runs one pass and waits for its results.
    """
    rng = np.random.default_rng(0)
    if not layer.built:
        layer.build(shape)
    x = tf.constant(rng.normal(size=shape), tf.float32)
    dy = tf.constant(
        rng.normal(size=layer.compute_output_shape(shape)), tf.float32
    )

    @tf.function(jit_compile=jit_compile)
    def step():
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = tf.reduce_sum(layer(x, training=True) * dy)
        return tape.gradient(loss, [x] + layer.trainable_variables)

    return lambda: [g.numpy() for g in step()]
