"""What a sweep's (and so a study's) parent run carries once its runs have
trained, so the comparison is read inside MLflow, not only from `reports/`:

- artifacts `report/`: the report of the study's runs (`report.md`, its
  figures, and `report.html`, which MLflow's artifact view renders);
- the logged table `norm_aggregates.json` (MLflow's `log_table`): for every
  configuration and norm, the runs, how many diverged, the primary metric's
  mean and 95% confidence bounds, the validation metric's mean, and which
  configuration is each norm's best. A table, since a sweep can hold many
  configurations and metrics named after each would flood the metric list;
- metrics `NORM/PRIMARY_mean`, `NORM/PRIMARY_ci95_low`, `NORM/PRIMARY_ci95_high`
  and `NORM/runs_diverged` of each norm at its best configuration, chosen on
  the validation metric (never on test): metrics, as the runs table and
  compare view sort and chart them. Under a `DATASET/` prefix when the sweep
  spans several datasets;
- the run's description (what its page shows first) ends with the same per-norm table.

Not params or tags: params cannot change when a resumed sweep's best changes,
and every tag key lands in the UI's "Group by" list.
"""

import math
import tempfile
import time

import mlflow
import pandas
from mlflow.entities import Metric
from mlflow.utils.mlflow_tags import MLFLOW_RUN_NOTE

from ..run_config import typed_params
from . import aggregates, html, writer

AGGREGATES_TABLE = "norm_aggregates.json"
REPORT_DIR = "report"


def _number(value):
    return f"{value:.4f}" if value is not None else "-"


def _rows(dataset, view, found, best):
    primary = view.table_metrics[0]
    return [
        {
            "dataset": dataset,
            "configuration": row.label,
            "norm": row.norm,
            "runs": row.runs,
            "diverged": row.diverged,
            "metric": primary,
            "mean": row.mean,
            "ci95_low": row.ci_low,
            "ci95_high": row.ci_high,
            "validation_metric": view.validation_metric,
            "validation_mean": row.validation,
            "best_on_validation": best.get(row.norm) is row,
        }
        for row in found
    ]


def _metrics(prefix, view, chosen):
    """The parent's metrics of each norm's chosen `Aggregate`."""
    primary = view.table_metrics[0]
    values = {}
    for norm, row in chosen.items():
        values[f"{prefix}{norm}/runs_diverged"] = row.diverged
        for suffix, value in (
            ("mean", row.mean),
            ("ci95_low", row.ci_low),
            ("ci95_high", row.ci_high),
        ):
            if value is not None:
                values[f"{prefix}{norm}/{primary}_{suffix}"] = value
    return values


def _description_table(dataset, view, chosen):
    primary = view.table_metrics[0]
    validation = view.validation_metric or "validation"
    lines = [
        f"**{dataset}**: each norm at its best configuration on `{validation}`"
        if view.validation_metric
        else f"**{dataset}**",
        "",
        f"| norm | configuration | `{primary}` mean | 95% CI | runs (diverged) | `{validation}` |",
        "|---|---|---|---|---|---|",
    ]
    for norm, row in chosen.items():
        interval = (
            f"{_number(row.ci_low)} – {_number(row.ci_high)}" if row.ci_low is not None else "-"
        )
        lines.append(
            f"| {norm} | {row.label} | {_number(row.mean)} | {interval} "
            f"| {row.runs} ({row.diverged}) | {_number(row.validation)} |"
        )
    return "\n".join(lines)


def summarize(task, experiment_id, parent_id, study):
    """Logs the report, the aggregates and the best configurations of
    `task`'s runs of `study` to the parent run `parent_id`; returns the
    report's artifact path (None when no run finished or diverged)."""
    client = mlflow.MlflowClient()
    name = client.get_experiment(experiment_id).name
    runs = writer.reported_runs(name, study)
    if "tags.task" in runs.columns:
        runs = runs[runs["tags.task"] == task.name]
    if runs.empty:
        return None
    with tempfile.TemporaryDirectory() as directory:
        path, _ = writer.write_report({task.name: task}, directory, experiment=name, study=study)
        html.write_html(path)
        client.log_artifacts(parent_id, directory, REPORT_DIR)
    runs = typed_params(task, runs)
    datasets = sorted(runs["params.dataset"].dropna().unique())
    rows, metrics, notes = [], {}, []
    for dataset in datasets:
        view = task.report_view(dataset)
        found = aggregates.aggregate(
            runs[runs["params.dataset"] == dataset], view, task.norm_params
        )
        best = aggregates.best_per_norm(found, view)
        # With one configuration per norm it is the one to show, validation or not.
        chosen = best or {row.norm: row for row in found if len({r.label for r in found}) == 1}
        rows += _rows(dataset, view, found, best)
        prefix = f"{dataset}/" if len(datasets) > 1 else ""
        metrics.update(_metrics(prefix, view, chosen))
        if chosen:
            notes.append(_description_table(dataset, view, chosen))
    mlflow.log_table(pandas.DataFrame(rows), AGGREGATES_TABLE, run_id=parent_id)
    now = int(1000 * time.time())
    client.log_batch(
        parent_id,
        metrics=[
            Metric(key, float(value), now, 0)
            for key, value in metrics.items()
            if math.isfinite(value)
        ],
    )
    note = client.get_run(parent_id).data.tags.get(MLFLOW_RUN_NOTE, "").split("\n\n---\n")[0]
    summary = "\n\n".join(notes + [f"Report: artifacts `{REPORT_DIR}/report.html`."])
    client.set_tag(parent_id, MLFLOW_RUN_NOTE, f"{note}\n\n---\n\n{summary}")
    return f"{REPORT_DIR}/report.html"
