"""The compiled training loop every task trains with.

Keras runs `steps_per_execution` training steps inside one compiled call, so
the Python overhead of a step (callbacks, dispatch, the iterator) is paid
once per call instead of once per step, and `jit_compile` fuses each step's
operations with XLA (TensorFlow) or `jax.jit` (JAX). Both change how the
steps run, not what they compute: the same losses to rounding on a fixed
seed (`tests/experiments/test_loop.py`), so they are logged as params but are
not part of a run's configuration. On torch, Keras's `jit_compile=True` means
`torch.compile`, whose compile time outweighs what it saves on these small
models, so the loop runs without it there, and one step per call (Keras's
torch `fit` runs no other); a task whose `xla` is False
runs without XLA on TensorFlow (the gan task's says why).

What needs a value per step sees one per call: the divergence policy
(`keras_logging.DivergenceMonitor`) finds a non-finite loss at the end of the
call it happened in, at most `steps_per_execution - 1` steps late.
`--no-compile` runs step by step without XLA, to debug.

On TensorFlow, Keras creates the optimizer's slots and the compiled loss's
and metrics' state inside the first trace of the training step, and
TensorFlow traces a function whose first trace created variables a second
time: `build_before_tracing` creates them first, as Keras's JAX and torch
trainers do, so the step is traced once (up to a second or so of a run's
start-up on a 2-core CPU; CHANGELOG).
"""

# Steps per compiled call: a quick run's whole epoch, a few calls per epoch
# at the small scale.
STEPS_PER_EXECUTION = 32

# The params that say how the loop ran, not what it trained.
LOOP_PARAMS = ("steps_per_execution", "jit_compile")


def loop_params(compiled=True, steps_per_execution=None):
    """The run params of the training loop: `steps_per_execution` steps per
    compiled call (default `STEPS_PER_EXECUTION`) and XLA or `jax.jit`; with
    `compiled=False`, and on torch, one step per call and no compiler."""
    import keras

    if not compiled or keras.config.backend() == "torch":
        return {"steps_per_execution": 1, "jit_compile": False}
    return {"steps_per_execution": steps_per_execution or STEPS_PER_EXECUTION, "jit_compile": True}


def task_loop(task, loop):
    """`loop` as `task` runs it: without XLA where the task says so (`Task.xla`)
    on TensorFlow, one step per call where it steps its own updates
    (`Task.compiled_steps`). On JAX, `jax.jit` is its one compiler: without
    it every operation would run on its own."""
    import keras

    steps = loop["steps_per_execution"] if task.compiled_steps else 1
    xla = task.xla or keras.config.backend() == "jax"
    return {**loop, "steps_per_execution": steps, "jit_compile": loop["jit_compile"] and xla}


def compile_arguments(config):
    """The `model.compile` arguments of `config`'s training loop."""
    return {name: config[name] for name in LOOP_PARAMS}


def build_before_tracing(model, data):
    """Creates `model`'s state that its first traced step would create (the
    optimizer's variables, the compiled loss and metrics), from the element
    spec of `data` (a `tf.data.Dataset`), with Keras's own symbolic build: the
    one its TensorFlow trainer runs only under a distribution strategy and
    its JAX and torch trainers run in every `fit`. Nothing to do on those
    backends, or for data of another kind, or for a model Keras cannot build
    on symbolic inputs (a user's, say): Keras then builds in the trace, as it
    would have."""
    import contextlib

    import keras

    if keras.config.backend() != "tensorflow":
        return
    import tensorflow as tf

    if not isinstance(data, tf.data.Dataset):
        return
    batch = tf.nest.map_structure(
        lambda spec: keras.KerasTensor(spec.shape, spec.dtype.name), data.element_spec
    )
    # Keras wraps what the model raised on symbolic inputs in a RuntimeError.
    with contextlib.suppress(RuntimeError):
        model._symbolic_build(data_batch=batch)
