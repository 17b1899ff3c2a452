"""The custom task from Python (a notebook, a script): `experiments.compare`.

`compare` trains a model with each normalization in this process, one run
after the other, as `python -m experiments sweep --task custom --workers 1`
does: the same runs in the same MLflow store, one parent run per call; it
returns their results as a table.
"""

import hashlib
import io
import time
from pathlib import Path

DEFAULT_NORMS = ("none", "batch", "instance", "weight")
# The results table's columns: the run's grid, its outcome, its scores.
_COLUMNS = {
    "params.norm": "norm",
    "params.seed": "seed",
    "params.lr": "lr",
    "params.batch_size": "batch_size",
    "status": "status",
}
_ARRAYS = ("x_train", "y_train", "x_test", "y_test")


def compare(
    build_fn,
    data,
    norms=DEFAULT_NORMS,
    *,
    epochs=None,
    batch_size=None,
    lrs=None,
    seeds=(0,),
    train_size=None,
    val_size=None,
    from_logits=None,
    experiment=None,
    study=None,
):
    """Trains `build_fn`'s model with each of `norms` on `data`, each run
    logged to MLflow as the command line's custom task logs it; returns the
    results, one row per run.

    Example:

    ```python
    import experiments

    def build(input_shape, num_classes, norm):
        ...  # a keras.Model with one output per class, normalized by `norm`

    table = experiments.compare(build, "mydata.npz", norms=("none", "batch", "group"),
                                epochs=5)
    table.groupby("norm")["test_accuracy"].mean()
    ```

    Args:
        build_fn: a function called as `build_fn(input_shape, num_classes, norm)`
            for each run, returning a Keras classifier, compiled or not (as
            `--model module:build_fn`); or the path of a saved `.keras` model,
            which `keras_norms.convert` turns into each norm.
        data: the path of a `.npz` file (as `--data`), a tensorflow-datasets
            name (as `--dataset`), or the arrays themselves: a mapping with
            `x_train`, `y_train`, `x_test`, `y_test`, or
            `((x_train, y_train), (x_test, y_test))` as `keras.datasets` gives
            them; arrays are saved once to a `.npz` file named by their
            digest, under `mlruns/.cache/arrays/` of the project directory,
            which the runs log as their data.
        norms: the normalizations, names as on the command line.
        epochs: as `--epochs` (default: the custom task's, 10).
        batch_size: as `--batch-size` (default: the custom task's, 128).
        train_size: as `--train-size` (default: every training example not
            held out for validation).
        lrs: learning rates, one run per rate (default: the task's, 1e-3).
        seeds: seeds, one run per seed and norm.
        val_size: validation examples, a count or a fraction (default 0.1).
        from_logits: whether an uncompiled model outputs logits (default:
            read from its last layer).
        experiment: the MLflow experiment (default: `keras-norms-custom`).
        study: the study tag of the runs (default: `compare-<date>-<time>`).

    Returns:
        A pandas DataFrame, one row per run: `norm`, `seed`, `lr`,
        `batch_size`, `status` (FINISHED, or FAILED with the reason in
        `error`), the test and final validation metrics (`test_accuracy`,
        `test_loss`, `val_accuracy`, ...) and `run_id`.

    Raises:
        ValueError: for an argument the command line would refuse, naming it
            and the value received.
        experiments.errors.ExperimentError: for data or a model that cannot
            be used (before any run is logged).
    """
    import mlflow

    from . import arguments, execution
    from .config import base_config
    from .errors import SweepError
    from .tasks import TASKS
    from .tracking import store

    task = TASKS["custom"]
    if from_logits not in (None, True, False):
        raise ValueError(f"from_logits: must be True, False or None, got {from_logits!r}")
    own = {
        "model": _model_source(build_fn),
        "from_logits": from_logits,
        "data": None,
        "val_size": _optional("val_size", val_size, arguments.count_or_fraction),
    }
    dataset = None
    if isinstance(data, (str, Path)) and not str(data).endswith(".npz"):
        dataset = _checked("data", data, task.parse_dataset)
    else:
        own["data"] = str(data) if isinstance(data, (str, Path)) else _saved_arrays(data)
    common = {
        "epochs": _optional("epochs", epochs, arguments.positive_int),
        "batch_size": _optional("batch_size", batch_size, arguments.positive_int),
        "train_size": _optional("train_size", train_size, arguments.positive_int),
    }
    base = base_config(task, dataset=dataset, common=common, own=own)
    grid = {
        "seed": _seeds(seeds),
        "batch_size": [base["batch_size"]],
        "lr": [_checked("lrs", lr, arguments.positive_float) for lr in _listed(lrs)]
        or [base["lr"]],
        "norm": [_checked("norms", norm, task.parse_norm) for norm in _listed(norms)],
    }
    if not grid["norm"]:
        raise ValueError(f"norms: name at least one normalization, got {norms!r}")
    configs = execution.sweep_configs(task, base, grid)  # ValueError: refused as given

    store.open_store()
    task.prepare(configs[0])
    experiment_id = store.experiment_id(experiment or task.experiment_name)
    study = study or f"compare-{time.strftime('%Y%m%d-%H%M%S')}"
    started_ms = int(time.time() * 1000)
    try:
        [parent_id] = execution.run_sweeps(
            [execution.Sweep(task, configs, grid, experiment_id, study)]
        )
        query = f"tags.`mlflow.parentRunId` = '{parent_id}'"
    except SweepError:  # the failed runs are FAILED, with the reason: the table says so
        query = (
            f"tags.study = '{study}' and tags.run_kind = 'train' "
            f"and attributes.start_time >= {started_ms}"
        )
    runs = mlflow.search_runs([experiment_id], filter_string=query)
    return _results(runs, grid["norm"])


def _results(runs, norms):
    """The table `compare` returns, from `mlflow.search_runs`'s runs."""
    metrics = sorted(
        column
        for column in runs.columns
        if column.startswith("metrics.") and column.split(".", 1)[1].startswith(("test_", "val_"))
    )
    table = runs[[*_COLUMNS, *metrics]].rename(
        columns={**_COLUMNS, **{column: column.split(".", 1)[1] for column in metrics}}
    )
    table["error"] = runs["tags.error"] if "tags.error" in runs else None
    table["run_id"] = runs["run_id"]
    table["seed"] = table["seed"].astype(int)
    table["lr"] = table["lr"].astype(float)
    table["batch_size"] = table["batch_size"].astype(int)
    order = {norm: index for index, norm in enumerate(norms)}
    table = table.sort_values(
        ["norm", "lr", "seed"],
        key=lambda column: column.map(order) if column.name == "norm" else column,
    )
    return table.reset_index(drop=True)


def _model_source(build_fn):
    from .tasks.custom import register_build_function

    if callable(build_fn):
        return register_build_function(build_fn)
    if isinstance(build_fn, (str, Path)) and str(build_fn).endswith(".keras"):
        return str(build_fn)
    raise ValueError(
        "build_fn: must be a function build_fn(input_shape, num_classes, norm) "
        f"or the path of a .keras model, got {build_fn!r}"
    )


def _saved_arrays(data):
    """`data` (four arrays) in a `.npz` file named by their digest; its path."""
    import numpy as np

    from . import paths

    if isinstance(data, dict):
        missing = [name for name in _ARRAYS if name not in data]
        if missing:
            raise ValueError(
                f"data: the arrays lack {', '.join(missing)}; they must be "
                f"{', '.join(_ARRAYS)}, got {sorted(data)}"
            )
        arrays = {name: np.asarray(data[name]) for name in _ARRAYS}
    else:
        try:
            (x_train, y_train), (x_test, y_test) = data
        except (TypeError, ValueError):
            raise ValueError(
                "data: must be a .npz path, a tensorflow-datasets name, a dict "
                "of x_train, y_train, x_test, y_test, or ((x_train, y_train), "
                f"(x_test, y_test)), got a {type(data).__name__}"
            ) from None
        arrays = dict(zip(_ARRAYS, map(np.asarray, (x_train, y_train, x_test, y_test))))
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    digest = hashlib.sha256(buffer.getvalue()).hexdigest()[:16]
    path = paths.cache_dir() / "arrays" / f"arrays-{digest}.npz"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".partial")
        partial.write_bytes(buffer.getvalue())
        partial.replace(path)
    return str(path)


def _checked(name, value, parse):
    """`parse(str(value))` with an `experiments.arguments` parser, its error
    as a ValueError naming `name` and the value received."""
    import argparse

    try:
        return parse(str(value))
    except argparse.ArgumentTypeError as error:
        raise ValueError(f"{name}: {error}") from None


def _listed(values):
    """`values` as a list: a comma-separated string split, one value listed."""
    if values is None:
        return []
    if isinstance(values, str):
        return [item.strip() for item in values.split(",") if item.strip()]
    try:
        return list(dict.fromkeys(values))
    except TypeError:
        return [values]


def _optional(name, value, parse):
    return None if value is None else _checked(name, value, parse)


def _seeds(seeds):
    """A count N (seeds 0..N-1) or the seeds themselves, as `--seeds`."""
    from . import arguments

    if isinstance(seeds, (int, str)):
        return _checked("seeds", seeds, arguments.seeds)
    listed = _listed(seeds)
    if not listed:
        raise ValueError(
            f"seeds: must be a count N >= 1 (seeds 0..N-1) or a list of seeds, got {seeds!r}"
        )
    return [_checked("seeds", seed, arguments.non_negative_int) for seed in listed]
