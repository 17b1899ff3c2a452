"""Every task trains on JAX and torch: a smoke-sized run of each, through the
command line, ends FINISHED, its backend logged, with finite values of the
metrics its report tables and plots, and its model logged
(`test_task_*.py` run each task on TensorFlow; `test_loop.py` checks the
custom train steps against the step-by-step loop on each backend)."""

import keras
import numpy as np
import pytest

from experiments import paths
from experiments.cli import main
from experiments.tasks import TASKS
from tests.experiments.conftest import TINY_SETTINGS
from tests.experiments.test_task_gan import TINY as GAN_TINY
from tests.experiments.test_task_online import TINY as ONLINE_TINY
from tests.experiments.test_task_rl import TINY as RL_TINY
from tests.experiments.test_task_rl import TINY_OPTIONS as RL_OPTIONS
from tests.experiments.test_task_rnn import TINY as RNN_TINY
from tests.experiments.test_task_style import TINY as STYLE_TINY
from tests.experiments.test_task_text import SMALL_MODEL as TEXT_MODEL
from tests.experiments.test_task_text import TINY as TEXT_TINY
from tests.experiments.test_task_translate import TINY as TRANSLATE_TINY

BACKEND = keras.config.backend()
pytestmark = pytest.mark.skipif(
    BACKEND == "tensorflow", reason="test_task_*.py run every task on TensorFlow"
)

# task: (norm, its tiny quick settings, options)
RUNS = {
    "cnn": ("batch", TINY_SETTINGS, []),
    "rnn": ("recurrent_batch", RNN_TINY, []),
    "text": ("layer", TEXT_TINY, TEXT_MODEL),
    "online": ("batch", ONLINE_TINY, ["--window", "16"]),
    "rl": ("weight", RL_TINY, RL_OPTIONS),
    "gan": ("batch", GAN_TINY, ["--d-norm", "weight"]),
    "translate": ("batch", TRANSLATE_TINY, []),
    "style": ("instance", STYLE_TINY, []),
}


def test_every_task_is_covered():
    assert set(RUNS) == set(TASKS) - {"custom"}  # custom trains the user's own model


@pytest.mark.parametrize("task", RUNS)
def test_a_smoke_run_logs_its_metrics_and_model(
    task, store, tiny_data, tiny_feature_cache, runs_of, monkeypatch
):
    norm, tiny, options = RUNS[task]
    monkeypatch.setattr(TASKS[task], "quick_settings", tiny)
    # The gan task's scoring classifier, trained on the tiny data's like.
    monkeypatch.setattr(paths, "cache_dir", lambda: tiny_feature_cache)
    assert main(["run", "--task", task, "--norm", norm, "--quick", *options]) == 0
    [run] = runs_of(task)
    assert run.info.status == "FINISHED"
    assert run.data.params["keras_backend"] == BACKEND
    metrics = run.data.metrics
    view = TASKS[task].report_view(run.data.params["dataset"])
    for name in (*view.table_metrics, view.curve_metric):
        assert np.isfinite(metrics[name]), name
    assert len(run.outputs.model_outputs) == 1


@pytest.mark.skipif(BACKEND != "torch", reason="only torch's convolution fails at batch 1")
def test_translate_refuses_batch_size_one_on_torch(tiny_data, monkeypatch, capsys):
    monkeypatch.setattr(TASKS["translate"], "quick_settings", {**TRANSLATE_TINY, "batch_size": 1})
    with pytest.raises(SystemExit) as exit:
        main(["run", "--task", "translate", "--norm", "instance", "--quick"])
    assert exit.value.code == 2
    assert "translate cannot train at batch size 1 on torch" in capsys.readouterr().err
