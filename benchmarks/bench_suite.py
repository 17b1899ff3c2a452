"""Training steps per second of each task's small-scale configuration, step
by step against the compiled loop.

Each task's model (the study's small-scale settings, one norm per task that
exercises our layers) is compiled twice: as the suite trained before the
compiled loop (one step per call, no XLA: `--no-compile`) and as it trains
now (`experiments.tasks.loop`: 32 steps per call, XLA where the task uses
it). An epoch of `fit` over a cached dataset of random inputs (a step's time
does not depend on the values) is timed for each, interleaved, and the
median steps per second are printed with their ratio, and what the first
epoch costs beyond a later one (tracing the step, and compiling it under
XLA), which every run pays once. Run once per backend (`make bench` does).
On JAX step by step is one step per `jax.jit` call (uncompiled, JAX runs each
operation on its own) and there is no uncompiled 32-step loop; on torch,
whose `fit` runs one step per call without a compiler, only the step-by-step
loop is timed. Usage:

    KERAS_BACKEND=jax python benchmarks/bench_suite.py [--repeats 10]
"""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import functools
import time

import keras
import numpy as np
import tensorflow as tf
from keras_norms_experiments.models.cnn import build_cnn
from keras_norms_experiments.models.gan import GAN, build_discriminator, build_generator
from keras_norms_experiments.models.rnn import build_rnn
from keras_norms_experiments.models.translate import (
    Translator,
    build_patch_discriminator,
    build_translation_generator,
)
from keras_norms_experiments.tasks import TASKS
from keras_norms_experiments.tasks.loop import compile_arguments, loop_params, task_loop
from timing import command_line, interleaved_medians, save

LOOPS_TIMED = ("steps per call", "compiled")  # beside step by step, where the backend has them
STEPS = 64  # per timed epoch: two calls of the compiled loop
TARGET = 2.5  # the compiled loop's steps per second against step by step


def _classifier(model, optimizer, from_logits):
    def compile_(loop):
        model_ = keras.models.clone_model(model)
        model_.compile(
            optimizer=optimizer(),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=from_logits),
            **compile_arguments(loop),
        )
        return model_

    return compile_


def _pair(build, **options):
    def compile_(loop):
        model = build()
        model.compile(
            g_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5),
            d_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5),
            **compile_arguments(loop),
        )
        return model

    return compile_


def _dataset(batch_size, *shapes, labels=False):
    rng = np.random.default_rng(0)
    parts = [rng.uniform(-1, 1, (STEPS * batch_size, *shape)).astype("float32") for shape in shapes]
    if labels:
        parts.append(rng.integers(0, 10, STEPS * batch_size))
    return tf.data.Dataset.from_tensor_slices(tuple(parts)).batch(batch_size).cache()


def configurations():
    """`label -> (compile(loop) -> model, dataset, the task's compiled loop)`:
    the small scale of each study."""
    compiled = loop_params()
    sgd = functools.partial(keras.optimizers.SGD, 0.1, momentum=0.9)
    adam = functools.partial(keras.optimizers.Adam, 1e-3)
    chosen = {}
    for batch_size in (2, 8, 32):
        chosen[f"cnn, batch-size study, batch {batch_size}"] = (
            _classifier(build_cnn((28, 28, 1), 10, "batch", depth=1), adam, False),
            _dataset(batch_size, (28, 28, 1), labels=True),
            compiled,
        )
    chosen["cnn, bn-lr study, batch 64"] = (
        _classifier(build_cnn((28, 28, 1), 10, "batch", depth=1), sgd, False),
        _dataset(64, (28, 28, 1), labels=True),
        compiled,
    )
    chosen["rnn, sequential images, batch 64"] = (
        _classifier(build_rnn("weight", units=32), adam, True),
        _dataset(64, (28, 28), labels=True),
        compiled,
    )
    chosen["gan, batch/weight, batch 64"] = (
        _pair(lambda: GAN(build_generator("batch"), build_discriminator("weight"))),
        _dataset(64, (28, 28, 1)),
        task_loop(TASKS["gan"], compiled),
    )
    # The translate task refuses batch 1 on torch (a torch convolution bug).
    for batch_size in (16,) if keras.config.backend() == "torch" else (1, 16):
        chosen[f"translate, instance, batch {batch_size}"] = (
            _pair(
                lambda: Translator(
                    build_translation_generator("instance"), build_patch_discriminator("instance")
                )
            ),
            _dataset(batch_size, (28, 28, 1), (28, 28, 1)),
            task_loop(TASKS["translate"], compiled),
        )
    return chosen


def main():
    parser = command_line(__doc__, repeats=10)
    args = parser.parse_args()
    backend = keras.config.backend()
    rows = []
    for label, (compile_, dataset, compiled) in configurations().items():
        loops = {
            "step by step": loop_params(compiled=False),
            "steps per call": {**compiled, "jit_compile": False},
            "compiled": compiled,
        }
        if backend == "jax":
            # Uncompiled, JAX runs each operation on its own, as no one trains:
            # one step per jax.jit call is its step by step (Keras's default).
            loops = {"step by step": {**compiled, "steps_per_execution": 1}, "compiled": compiled}
        if backend == "torch":
            loops = {"step by step": loops["step by step"]}
        models = {name: compile_(loop) for name, loop in loops.items()}
        epochs = {
            name: (
                lambda model=model, dataset=dataset: model.fit(
                    dataset, epochs=1, verbose=0, shuffle=False
                )
            )
            for name, model in models.items()
        }
        first = {}
        for name, epoch in epochs.items():  # tracing and compiling included
            start = time.perf_counter()
            epoch()
            first[name] = time.perf_counter() - start
        seconds = interleaved_medians(epochs, args.repeats, warmup=0)
        rate = {name: STEPS / seconds[name] for name in models}
        # What the first epoch costs beyond a later one: tracing, and XLA's compiling.
        start_up = {name: first[name] - seconds[name] for name in models}
        steps = loops["compiled" if "compiled" in loops else "step by step"]["steps_per_execution"]
        loop = f"{steps} step{'s' if steps > 1 else ''}" + (
            ", XLA" if compiled["jit_compile"] else ""
        )
        before = rate["step by step"]
        rows.append(
            [
                label,
                loop,
                f"{before:.0f}",
                *(f"{rate[name]:.0f}" if name in rate else "-" for name in LOOPS_TIMED),
                *(f"{rate[name] / before:.2f}" if name in rate else "-" for name in LOOPS_TIMED),
                f"{start_up['step by step']:.1f}",
                f"{start_up['compiled']:.1f}" if "compiled" in start_up else "-",
            ]
        )
        print(rows[-1], flush=True)
    header = [
        "configuration",
        "compiled loop",
        "steps/s step by step",
        "steps/s 32 per call",
        "steps/s compiled",
        "speed-up 32 per call",
        "speed-up compiled",
        "start-up s step by step",
        "start-up s compiled",
    ]
    save("suite", args.repeats, {"training steps per second": (header, rows)})


if __name__ == "__main__":
    main()
