"""The report's arithmetic on a table of runs, apart from MLflow.

A table of runs is what `mlflow.search_runs` returns: a DataFrame with
`run_id`, `params.*`, `metrics.*` and `tags.*` columns. Per-epoch values come
apart, as `histories[run_id][metric] = {epoch: value}`. Runs are grouped by
configuration (the params that vary between them, other than the norm and
the seed), then by norm; a group's statistics are over its runs that did not
diverge (tag `diverged`), and the diverged ones are counted.
"""

import dataclasses
import math
import statistics

from ..models.norms import NORMS
from ..run_config import NOT_IDENTIFYING, order_key

# Params that never define a configuration: what is compared, repeated or recorded.
NOT_CONFIGURATION = {"norm", "seed", "task", "data_dir", *NOT_IDENTIFYING}
EPOCH_TIME = "epoch_time_s"


@dataclasses.dataclass
class Row:
    """One norm under one configuration.

    `metrics` maps a table metric to `(mean, std)` (None without a value);
    `epochs_to_target` is `(mean epochs, runs that reached it, runs)`;
    `seconds_per_epoch` leaves out every run's first epoch (graph tracing);
    `curve` is `(epochs, means, stds)` of the curve metric.
    """

    config: tuple
    norm: str
    runs: int
    diverged: int
    metrics: dict
    epochs_to_target: tuple | None
    seconds_per_epoch: float | None
    curve: tuple | None


def diverged(runs):
    """A boolean Series: which runs diverged."""
    if "tags.diverged" not in runs.columns:
        return runs["run_id"].map(lambda _: False)
    return runs["tags.diverged"] == "true"


def configuration_params(runs, norm_params=()):
    """The params that vary between the runs, other than norm (and the
    `norm_params` that restate it) and seed."""
    names = [
        column[len("params.") :]
        for column in runs.columns
        if column.startswith("params.")
        and column[len("params.") :] not in {*NOT_CONFIGURATION, *norm_params}
        and not column.startswith("params.optimizer_")  # logged by MLflow's Keras callback
    ]
    return [name for name in names if runs[f"params.{name}"].nunique(dropna=False) > 1]


def norm_order(norm):
    """NORMS order; a `generator/discriminator` pair after its generator's norm."""
    return [NORMS.index(part) if part in NORMS else len(NORMS) for part in norm.split("/")]


def mean_std(values):
    """(mean, sample std) of the finite values given; None if there are none."""
    values = [v for v in values if v is not None and not math.isnan(v)]
    if not values:
        return None
    return statistics.mean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def epochs_to(history, target, higher_is_better):
    """The first epoch whose value reaches `target`, or None."""
    for epoch in sorted(history):
        value = history[epoch]
        if (value >= target) if higher_is_better else (value <= target):
            return epoch
    return None


def mean_curve(histories):
    """(epochs, means, stds) over the epochs every history has."""
    epochs = sorted(set.intersection(*(set(h) for h in histories)))
    values = [[h[epoch] for h in histories] for epoch in epochs]
    return (
        epochs,
        [statistics.mean(v) for v in values],
        [statistics.stdev(v) if len(v) > 1 else 0.0 for v in values],
    )


def seconds_per_epoch(epoch_times):
    """Mean seconds per epoch over runs' `{epoch: seconds}`, first epochs left out."""
    times = [seconds for run in epoch_times for epoch, seconds in run.items() if epoch > 1]
    return statistics.mean(times) if times else None


def summarize(runs, histories, view, norm_params=()):
    """Returns (configuration param names, rows, reference rows) of one dataset's runs.

    Args:
        runs: the table of runs, diverged ones included.
        histories: `run_id -> metric -> {epoch: value}`, for `view.curve_metric`
            and `epoch_time_s`.
        view: the task's `ReportView` of the dataset.
        norm_params: params that restate the norm (not a configuration).

    A reference row is `(config, label, {table metric: (mean, std) or None})`,
    over the configuration's runs that did not diverge.
    """
    config_names = configuration_params(runs, norm_params)
    runs = runs.assign(_diverged=diverged(runs))
    groups = {}
    for _, run in runs.iterrows():
        config = tuple(run[f"params.{name}"] for name in config_names)
        groups.setdefault(config, {}).setdefault(run["params.norm"], []).append(run)

    rows, references = [], []
    for config in sorted(groups, key=order_key):
        kept_in_config = []
        for norm in sorted(groups[config], key=norm_order):
            group = groups[config][norm]
            kept = [run for run in group if not run["_diverged"]]
            kept_in_config += kept
            curves = [histories.get(run["run_id"], {}).get(view.curve_metric, {}) for run in kept]
            target = None
            if view.target is not None and kept:
                reached = [epochs_to(h, view.target, view.higher_is_better) for h in curves]
                hits = [epochs for epochs in reached if epochs is not None]
                target = (statistics.mean(hits) if hits else None, len(hits), len(reached))
            rows.append(
                Row(
                    config=config,
                    norm=norm,
                    runs=len(group),
                    diverged=len(group) - len(kept),
                    metrics={
                        metric: mean_std([run.get(f"metrics.{metric}") for run in kept])
                        for metric in view.table_metrics
                    },
                    epochs_to_target=target,
                    seconds_per_epoch=seconds_per_epoch(
                        [histories.get(run["run_id"], {}).get(EPOCH_TIME, {}) for run in kept]
                    ),
                    curve=mean_curve(curves) if curves and all(curves) else None,
                )
            )
        for label, logged in view.references.items():
            references.append(
                (
                    config,
                    label,
                    {
                        metric: mean_std(
                            [run.get(f"metrics.{logged[metric]}") for run in kept_in_config]
                        )
                        if metric in logged
                        else None
                        for metric in view.table_metrics
                    },
                )
            )
    return config_names, rows, references


def format_mean_std(value):
    if value is None:
        return "-"
    mean, std = value
    return f"{mean:.4f}" if std == 0 else f"{mean:.4f} ± {std:.4f}"


def format_runs(row):
    return f"{row.runs} ({row.diverged}/{row.runs} diverged)" if row.diverged else str(row.runs)


def format_epochs_to(value):
    """`2.5`, `3.0 (2/3 runs)` when some never reached the target, or `never`."""
    if value is None:
        return "-"
    mean, hits, total = value
    if not hits:
        return "never"
    return f"{mean:.1f}" + (f" ({hits}/{total} runs)" if hits < total else "")
