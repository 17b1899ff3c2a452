"""Per-norm aggregates of a sweep's runs, and the best configuration of each
norm chosen on validation: what a sweep's parent run records in MLflow.

Works on a table of runs as `mlflow.search_runs` returns it (see
`experiments.report.tables`), apart from MLflow.
"""

import dataclasses
import math
import statistics

from scipy import stats

from ..run_config import order_key
from . import tables

CONFIDENCE = 0.95


@dataclasses.dataclass(frozen=True)
class Aggregate:
    """One norm under one configuration: `runs` (diverged ones included),
    `diverged`, the primary metric's `mean` and 95% confidence bounds (t
    interval; None with fewer than two finite values) and the validation
    metric's mean (`validation`, None where the task declares none)."""

    config: dict
    norm: str
    runs: int
    diverged: int
    mean: float | None
    ci_low: float | None
    ci_high: float | None
    validation: float | None

    @property
    def label(self):
        return " ".join(f"{name}={value}" for name, value in self.config.items()) or "-"


def confidence_interval(values, confidence=CONFIDENCE):
    """(mean, low, high) of the finite `values`: Student's t interval of the
    mean; the bounds are None with one value, all three with none."""
    values = [v for v in values if v is not None and math.isfinite(v)]
    if not values:
        return None, None, None
    mean = statistics.fmean(values)
    if len(values) < 2:
        return mean, None, None
    half = stats.t.ppf((1 + confidence) / 2, len(values) - 1) * statistics.stdev(values)
    half /= math.sqrt(len(values))
    return mean, mean - half, mean + half


def _value(run, metric):
    value = run.get(f"metrics.{metric}") if metric else None
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else value


def aggregate(runs, view, norm_params=()):
    """The `Aggregate`s of `runs` (finished and diverged runs of one dataset),
    grouped as the report groups them: by configuration, then norm."""
    names = tables.configuration_params(runs, norm_params)
    runs = runs.assign(_diverged=tables.diverged(runs))
    groups = {}
    for _, run in runs.iterrows():
        config = tuple(run[f"params.{name}"] for name in names)
        groups.setdefault((config, run["params.norm"]), []).append(run)
    primary = view.table_metrics[0]
    found = []
    for (config, norm), group in sorted(
        groups.items(), key=lambda item: (order_key(item[0][0]), tables.norm_order(item[0][1]))
    ):
        kept = [run for run in group if not run["_diverged"]]
        mean, low, high = confidence_interval([_value(run, primary) for run in kept])
        validation = [_value(run, view.validation_metric) for run in kept]
        validation = [v for v in validation if v is not None]
        found.append(
            Aggregate(
                dict(zip(names, config)),
                norm,
                len(group),
                len(group) - len(kept),
                mean,
                low,
                high,
                statistics.fmean(validation) if validation else None,
            )
        )
    return found


def best_per_norm(aggregates, view):
    """Each norm's `Aggregate` with the best mean validation metric (in the
    direction of `view.higher_is_better`), by norm; a norm none of whose
    configurations has a validation value is left out. Empty where the task
    declares no validation metric."""
    sign = 1 if view.higher_is_better else -1
    best = {}
    for row in aggregates:
        if row.validation is None:
            continue
        if row.norm not in best or sign * row.validation > sign * best[row.norm].validation:
            best[row.norm] = row
    return best
