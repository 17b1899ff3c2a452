"""A run's typed configuration: built once, logged as text, read back equal."""

import math
import pickle

import pandas
import pytest

from experiments.config import base_config
from experiments.report import tables
from experiments.report.tables import NOT_CONFIGURATION
from experiments.run_config import RunConfig, param_types, parse_param, typed_params
from experiments.tasks import TASKS
from experiments.tasks.base import ReportView


@pytest.mark.parametrize("name", ["cnn", "rnn", "gan", "translate"])
def test_a_configuration_read_back_from_its_params_equals_it(name):
    task = TASKS[name]
    config = RunConfig.configured(task, {**base_config(task), "norm": task.quick_norms[0]})
    params = config.params()
    assert all(isinstance(text, str) for text in params.values())
    read = RunConfig.from_params(task, params)
    assert read == config and read.identity() == config.identity()
    assert {name: type(value) for name, value in read.items()} == {
        name: type(value) for name, value in config.items()
    }
    assert pickle.loads(pickle.dumps(config)) == config  # as Ray ships it to a trial


def test_each_param_has_the_type_its_option_returns():
    types = param_types(TASKS["cnn"])
    assert types["depth"] is int  # arguments.positive_int
    assert types["dropout"] is float  # arguments.below_one
    assert types["architecture"] is str  # arguments.choice
    assert types["shortcuts"] is bool  # a flag
    assert types["keras_version"] is str and types["lr"] is float
    assert param_types(TASKS["custom"])["val_size"] == int | float  # a count or a fraction


@pytest.mark.parametrize(
    "kind, text, value",
    [
        (int, "48", 48),
        (float, "0.001", 0.001),
        (float, "1", 1.0),
        (bool, "False", False),
        (str, "3.15.0", "3.15.0"),
        (int, "None", None),
        (int | float, "5000", 5000),
        (int | float, "0.1", 0.1),
    ],
)
def test_a_param_is_parsed_back_to_its_type(kind, text, value):
    parsed = parse_param(kind, text)
    assert parsed == value and type(parsed) is type(value)


def test_an_option_a_run_lacks_reads_as_its_default():
    task = TASKS["cnn"]
    config = RunConfig.configured(task, {**base_config(task), "norm": "batch"})
    logged = config.params()
    del logged["init"]  # logged before --init existed
    assert RunConfig.from_params(task, logged) == config
    assert RunConfig.from_params(task, {**logged, "init": math.nan}) == config  # as pandas reads it
    assert RunConfig.from_params(task, {**logged, "init": "scaled"}) != config


def test_identity_leaves_out_how_the_run_ran():
    task = TASKS["cnn"]
    config = RunConfig.configured(task, {**base_config(task), "norm": "batch"})
    other_machine = config.replace(keras_version="0.0.1", steps_per_execution=1, jit_compile=False)
    assert other_machine != config and other_machine.identity() == config.identity()
    assert config.replace(lr=0.5).identity() != config.identity()
    assert config.identity(without=("seed",)) == config.replace(seed=7).identity(("seed",))


def test_a_configuration_is_read_only_and_checked():
    task = TASKS["cnn"]
    config = RunConfig.configured(task, {**base_config(task), "norm": "batch"})
    with pytest.raises(TypeError):
        config["lr"] = 0.1
    with pytest.raises(ValueError, match=r"param epochs must be int or None, got epochs='3'"):
        config.replace(epochs="3")
    with pytest.raises(ValueError, match="param shortcuts must be bool or None, got shortcuts=1"):
        config.replace(shortcuts=1)
    with pytest.raises(ValueError, match="params unknown to --task cnn: depht"):
        RunConfig(task, {"depht": 3})
    assert config.replace(lr=1)["lr"] == 1  # an integer is a learning rate too


def test_reports_order_configurations_by_value_not_by_text():
    runs = pandas.DataFrame(
        {
            "run_id": ["a", "b", "c", "d"],
            "params.norm": ["batch"] * 4,
            "params.seed": ["0"] * 4,
            "params.batch_size": ["16", "2", "32", "2"],
            "params.stats_batch": ["None", "None", "None", "2"],
            "params.init": [math.nan, "paper", "scaled", "paper"],  # a: before --init
            "metrics.test_accuracy": [0.5] * 4,
        }
    )
    typed = typed_params(TASKS["cnn"], runs)
    assert list(typed["params.batch_size"]) == [16, 2, 32, 2]
    assert list(typed["params.stats_batch"]) == [None, None, None, 2]
    assert list(typed["params.init"]) == ["paper", "paper", "scaled", "paper"]  # the default
    view = ReportView(("test_accuracy",), True, "val_accuracy")
    names, rows, _ = tables.summarize(typed, {}, view)
    assert names == ["batch_size", "stats_batch", "init"]
    # By text, "16" came before "2"; None (the whole batch) before a ghost batch.
    assert [row.config for row in rows] == [
        (2, None, "paper"),
        (2, 2, "paper"),
        (16, None, "paper"),
        (32, None, "scaled"),
    ]
    assert {"seed", "steps_per_execution", "keras_version"} <= NOT_CONFIGURATION
