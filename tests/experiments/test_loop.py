"""The compiled training loop computes what the step-by-step one does, on
every backend (on JAX the custom steps run statelessly, `models.steps`).

Every task's model trains on a fixed seed three ways: one step per call
without XLA (`--no-compile`), several steps per call, and several steps per
call under XLA. Steps per call change nothing (the same numbers, bit for
bit); XLA changes the rounding only: the first step's losses agree to float32
rounding, and a short run's stay within 1e-3 (Adam's normalized updates carry
a rounding difference from step to step). The gan task trains without XLA
(`GanTask.xla`): its first step under XLA differs by 0.2%, more than
rounding.
"""

import keras
import numpy as np
import pytest

from experiments.config import base_config
from experiments.models.cnn import build_cnn
from experiments.models.gan import GAN, build_discriminator, build_generator
from experiments.models.mlp import build_mlp
from experiments.models.prequential import Prequential
from experiments.models.rnn import build_rnn
from experiments.models.style import Stylizer, style_texture
from experiments.models.translate import (
    Translator,
    build_patch_discriminator,
    build_translation_generator,
)
from experiments.tasks import TASKS as TASKS_BY_NAME
from experiments.tasks.loop import (
    LOOP_PARAMS,
    build_before_tracing,
    compile_arguments,
    loop_params,
)
from experiments.tracking.keras_logging import DivergenceMonitor

ON_TORCH = keras.config.backend() == "torch"
# Keras's torch `fit` runs one step per call, without a compiler: these loops
# are all step by step there (the last test checks it).
compiled_loops_only = pytest.mark.skipif(ON_TORCH, reason="torch's fit runs one step per call")

STEPS = 4  # per call, in the compiled loops below; the data makes 8 steps per epoch
LOOPS = {
    "step by step": loop_params(compiled=False),
    "steps per call": {"steps_per_execution": STEPS, "jit_compile": False},
    "steps per call, XLA": loop_params(steps_per_execution=STEPS),
}
rng = np.random.default_rng(0)
IMAGES = rng.uniform(0, 1, (64, 28, 28, 1)).astype("float32")
LABELS = rng.integers(0, 10, 64)


def _classifier(build, from_logits):
    def train(loop):
        model = build()
        model.compile(
            optimizer=keras.optimizers.Adam(1e-3),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=from_logits),
            **compile_arguments(loop),
        )
        return model

    return train


def _gan(loop):
    gan = GAN(build_generator("batch", width=8), build_discriminator("weight", width=8))
    gan.compile(
        g_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5),
        d_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5),
        **compile_arguments(loop),
    )
    return gan


def _translator(loop):
    model = Translator(
        build_translation_generator("instance", width=8),
        build_patch_discriminator("instance", width=8),
    )
    model.compile(
        g_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5),
        d_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5),
        **compile_arguments(loop),
    )
    return model


def _stylizer(loop):
    network = build_translation_generator("instance", width=8, input_name="content")
    model = Stylizer(network, style_texture(), style_weight=10.0)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), **compile_arguments(loop))
    return model


def _prequential(loop):
    classifier = build_mlp((28, 28, 1), 10, "batch", depth=2, activation="relu", init="scaled")
    model = Prequential(classifier, segment_steps=4, window=2)
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss="sparse_categorical_crossentropy",
        **compile_arguments(loop),
    )
    return model


TASKS = {
    "cnn": (
        _classifier(lambda: build_cnn((28, 28, 1), 10, "batch", depth=1), False),
        (IMAGES, LABELS),
    ),
    "rnn": (_classifier(lambda: build_rnn("weight", units=16), True), (IMAGES[..., 0], LABELS)),
    "gan": (_gan, (IMAGES * 2 - 1,)),
    "translate": (_translator, (IMAGES, IMAGES)),
    "style": (_stylizer, (IMAGES,)),
    "online": (_prequential, (IMAGES, LABELS)),
}


def _losses(task, loop, epochs=2):
    """The per-epoch logs of `task` trained on a fixed seed with `loop`, and
    its first step's."""
    build, data = TASKS[task]
    keras.utils.set_random_seed(0)
    model = build(loop)
    first = model.fit(*(part[:8] for part in data), batch_size=8, verbose=0).history
    keras.utils.set_random_seed(0)
    model = build(loop)
    history = model.fit(*data, batch_size=8, epochs=epochs, verbose=0, shuffle=False).history
    return first, history


def _marked(tasks):
    # Their step-by-step loops run op by op on JAX: minutes each.
    return [
        pytest.param(task, marks=pytest.mark.eager_minutes) if task in ("gan", "rnn") else task
        for task in tasks
    ]


@compiled_loops_only
@pytest.mark.parametrize("task", _marked(TASKS))
def test_steps_per_call_train_as_the_step_by_step_loop(task):
    assert _losses(task, LOOPS["steps per call"]) == _losses(task, LOOPS["step by step"])


@compiled_loops_only
@pytest.mark.parametrize("task", _marked(["cnn", "rnn", "translate", "style", "online"]))
def test_xla_trains_as_the_step_by_step_loop_to_rounding(task):
    first, history = _losses(task, LOOPS["step by step"])
    first_xla, history_xla = _losses(task, LOOPS["steps per call, XLA"])
    for name, values in first.items():
        np.testing.assert_allclose(first_xla[name], values, rtol=1e-5, err_msg=name)
        np.testing.assert_allclose(history_xla[name], history[name], rtol=1e-3, err_msg=name)


@compiled_loops_only
@pytest.mark.eager_minutes
def test_divergence_is_found_at_the_end_of_its_call():
    images = IMAGES * 2 - 1
    images[9, 0, 0, 0] = np.nan  # in the second batch of eight: step 2
    gan = _gan(LOOPS["steps per call"])
    monitor = DivergenceMonitor()
    gan.fit(images, batch_size=8, epochs=3, verbose=0, callbacks=[monitor], shuffle=False)
    epoch, step, values = monitor.diverged_at
    # Seen when the call of steps 1-4 returns, not later.
    assert (epoch, step) == (1, STEPS)
    assert not np.isfinite(values["d_loss"])
    assert int(gan.d_optimizer.iterations) == STEPS


@compiled_loops_only
def test_a_task_without_xla_compiles_its_loop_without_it_on_tensorflow():
    assert base_config(TASKS_BY_NAME["cnn"])["jit_compile"] is True
    config = base_config(TASKS_BY_NAME["gan"])
    # JAX compiles with jax.jit alone: without it each operation runs on its own.
    assert config["jit_compile"] is (keras.config.backend() == "jax")
    assert config["steps_per_execution"] == 32
    assert (
        base_config(TASKS_BY_NAME["gan"], loop=loop_params(compiled=False))["steps_per_execution"]
        == 1
    )


def test_default_loop_compiles_and_no_compile_runs_step_by_step():
    step_by_step = {"steps_per_execution": 1, "jit_compile": False}
    assert loop_params(compiled=False) == step_by_step
    if ON_TORCH:
        assert loop_params() == loop_params(steps_per_execution=8) == step_by_step
        assert base_config(TASKS_BY_NAME["cnn"])["steps_per_execution"] == 1
    else:
        assert loop_params() == {"steps_per_execution": 32, "jit_compile": True}
        assert loop_params(steps_per_execution=8)["steps_per_execution"] == 8
    assert set(compile_arguments({**loop_params(), "lr": 0.1})) == set(LOOP_PARAMS)


def _traced_fit(task, prebuilt):
    """`task`'s per-epoch logs on a fixed seed and how many times its step
    was traced, with its state built before `fit` (`build_before_tracing`)
    or by Keras in the trace."""
    import tensorflow as tf

    build, data = TASKS[task]
    keras.utils.set_random_seed(0)
    model = build(LOOPS["steps per call, XLA"])
    dataset = tf.data.Dataset.from_tensor_slices(data if len(data) > 1 else data[0]).batch(8)
    if prebuilt:
        build_before_tracing(model, dataset)
    traces = []
    step = model.train_step
    model.train_step = lambda batch: traces.append(batch) or step(batch)
    history = model.fit(dataset, epochs=2, verbose=0, shuffle=False).history
    return history, len(traces)


@pytest.mark.skipif(
    keras.config.backend() != "tensorflow", reason="Keras builds before tracing on JAX and torch"
)
@pytest.mark.parametrize("task", TASKS)
def test_state_built_before_tracing_traces_the_step_once_and_trains_the_same(task):
    history, traces = _traced_fit(task, prebuilt=False)
    history_prebuilt, traces_prebuilt = _traced_fit(task, prebuilt=True)
    # Twice where the first trace creates state (the optimizer's, the
    # compiled metrics'); the GAN's compile builds its optimizers.
    assert traces_prebuilt == 1 <= traces
    assert history_prebuilt == history


@pytest.mark.skipif(
    keras.config.backend() != "tensorflow", reason="Keras builds before tracing on JAX and torch"
)
def test_a_model_keras_cannot_build_symbolically_is_built_in_the_trace_instead():
    import tensorflow as tf

    class TrainingOnly(keras.Model):
        """Keras's symbolic build calls it in inference mode, which it lacks."""

        def __init__(self):
            super().__init__()
            self.dense = keras.layers.Dense(10)

        def call(self, images, training=False):
            if not training:
                raise NotImplementedError("inference is not written yet")
            return self.dense(keras.ops.reshape(images, (-1, 28 * 28)))

    model = TrainingOnly()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    dataset = tf.data.Dataset.from_tensor_slices((IMAGES, LABELS)).batch(8)
    build_before_tracing(model, dataset)
    assert not model.optimizer.built
    history = model.fit(dataset, epochs=1, verbose=0).history
    assert model.optimizer.built and np.isfinite(history["loss"][0])
