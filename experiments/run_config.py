"""A run's configuration, typed: built once by a command, a study or
`experiments.compare`, trained from by its task, recorded as the run's MLflow
params by `RunConfig.params` and read back from them by
`RunConfig.from_params`, so that a run read back from the store equals the
configuration it was trained from.

Every param has a type (`param_types`): the common settings' are declared
here, the software versions' are text, a task option's is what its argparse
`type=` function returns (`experiments.arguments` annotates each), a flag's is
bool. Any param may be None: an option left at a default the task fills in.
"""

import argparse
import collections.abc
import functools
import math
import numbers
import typing

import pandas

from .config import option_defaults, task_options
from .tasks.loop import LOOP_PARAMS
from .tracking.runs import BACKEND_PARAMS, VERSION_PARAMS

# The params every run has, and their types.
COMMON_TYPES = {
    "task": str,
    "norm": str,
    "dataset": str,
    "seed": int,
    "quick": bool,
    "data_dir": str,
    "epochs": int,
    "batch_size": int,
    "lr": float,
    "train_size": int,
    "val_size": int,
    "test_size": int,
    "steps_per_execution": int,
    "jit_compile": bool,
}
# Params that record how a run ran, not which configuration it is.
NOT_IDENTIFYING = frozenset({*VERSION_PARAMS, *BACKEND_PARAMS, *LOOP_PARAMS})
PREFIX = "params."  # of a param's column in `mlflow.search_runs`
_FLAGS = (argparse._StoreTrueAction, argparse._StoreFalseAction, argparse.BooleanOptionalAction)


def option_type(action):
    """The type of an option's value: bool for a flag, else what its `type=`
    function returns (text without one)."""
    if isinstance(action, _FLAGS):
        return bool
    if action.type is None:
        return str
    return typing.get_type_hints(action.type)["return"]


@functools.cache
def param_types(task):
    """Every param a run of `task` has, by name, with its type (built once
    per task: the reports read it for every run). Not to be changed."""
    return {
        **COMMON_TYPES,
        **dict.fromkeys(VERSION_PARAMS, str),
        **dict.fromkeys(BACKEND_PARAMS, str),
        **{action.dest: option_type(action) for action in task_options(task)},
    }


def _accepts(kind, value):
    """Whether `value` (not None) is of the param type `kind`; a float param
    takes any real number, an int one no bool."""
    if kind is float:
        return isinstance(value, numbers.Real) and not isinstance(value, bool)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, typing.get_args(kind) or kind)


def _absent(text):
    """Whether a param's cell holds nothing: pandas reads a param a run lacks as NaN."""
    return text is None or (isinstance(text, float) and math.isnan(text))


def parse_param(kind, text):
    """A param's value from the text MLflow stores (`str(value)`)."""
    if text == "None":
        return None
    if kind is bool:
        return {"True": True, "False": False}[text]
    if kind is str:
        return text
    if kind is float:
        return float(text)
    try:
        return int(text)
    except ValueError:
        if float in typing.get_args(kind):  # a count or a fraction
            return float(text)
        raise


class RunConfig(collections.abc.Mapping):
    """Every param of one run of `task`, read-only, each checked to be of its
    type (`param_types`) or None; a task reads it as a dict (`config["lr"]`)."""

    __slots__ = ("task", "_params")

    def __init__(self, task, params):
        types = param_types(task)
        unknown = sorted(set(params) - set(types))
        if unknown:
            raise ValueError(f"params unknown to --task {task.name}: {', '.join(unknown)}")
        for name, value in params.items():
            if value is not None and not _accepts(types[name], value):
                raise ValueError(
                    f"param {name} must be {getattr(types[name], '__name__', types[name])} "
                    f"or None, got {name}={value!r}"
                )
        self.task = task
        self._params = dict(params)

    @classmethod
    def configured(cls, task, params):
        """The configuration `task.configure` completes from `params` (a
        mapping); raises ValueError for a combination the task refuses."""
        return cls(task, task.configure(dict(params)))

    @classmethod
    def from_params(cls, task, logged):
        """The configuration of a run of `task` from its MLflow params
        (`logged`: name -> text; a NaN, as pandas reads a param a run lacks,
        counts as absent). An option added after the run was logged reads as
        its default, which is what the run trained with."""
        types = param_types(task)
        present = {
            name: text for name, text in logged.items() if name in types and not _absent(text)
        }
        params = {name: parse_param(types[name], text) for name, text in present.items()}
        missing = {
            name: value for name, value in option_defaults(task).items() if name not in params
        }
        return cls(task, {**params, **missing})

    @classmethod
    def from_run_row(cls, task, row):
        """`from_params` of a row of `mlflow.search_runs` (its `params.*` columns)."""
        return cls.from_params(
            task,
            {
                column[len(PREFIX) :]: row[column]
                for column in row.index
                if column.startswith(PREFIX)
            },
        )

    def params(self):
        """The run's MLflow params: every param as text."""
        return {name: str(value) for name, value in self._params.items()}

    def replace(self, **changes):
        """A copy with `changes`, checked as a new configuration is."""
        return RunConfig(self.task, {**self._params, **changes})

    def identity(self, without=()):
        """What tells this configuration apart from another of its task's: its
        params but the software versions, the loop's settings and `without`."""
        return frozenset(
            (name, value)
            for name, value in self._params.items()
            if name not in NOT_IDENTIFYING and name not in without
        )

    def __getitem__(self, name):
        return self._params[name]

    def __iter__(self):
        return iter(self._params)

    def __len__(self):
        return len(self._params)

    def __hash__(self):
        return hash(frozenset(self._params.items()))

    def __repr__(self):
        return f"RunConfig({self.task.name!r}, {self._params!r})"


def typed_params(task, runs):
    """`runs` (as `mlflow.search_runs` returns them, every param as text) with
    each column of a param of `task` read back to its type, as `from_params`
    reads it (an option a run lacks: its default; another param: None): the
    reports group and order configurations by these values."""
    types = param_types(task)
    defaults = option_defaults(task)

    def read(name, text):
        return defaults.get(name) if _absent(text) else parse_param(types[name], text)

    columns = {
        column: pandas.Series(
            [read(name, text) for text in runs[column]], index=runs.index, dtype=object
        )
        for column in runs.columns
        if column.startswith(PREFIX) and (name := column[len(PREFIX) :]) in types
    }
    return runs.assign(**columns)


def order_key(values):
    """A sort key for a tuple of param values that may hold None (first)."""
    return tuple((value is not None, value) for value in values)
