"""The comparison report, read back from MLflow: Markdown tables and PNG curves.

For each task, one section, and in it one table per dataset: a row per
configuration and norm (the final metrics of the task's view of that dataset
as mean ± std over runs that did not diverge, how many diverged, epochs until
the curve metric reaches the view's target, seconds per epoch) and the view's
reference rows (a baseline, a floor), then the curves of every norm overlaid
per configuration, then whatever the task adds. The arithmetic is in
`experiments.report.tables`.
"""

import re
from pathlib import Path

import mlflow
import pandas

from ..errors import ReportError
from ..run_config import typed_params
from . import plots, tables

TRAINING_RUNS = "tags.run_kind = 'train'"


def reported_runs(experiment_name, study=None):
    """The runs the report counts: finished training runs and diverged ones
    (FAILED, tagged `diverged`), not sweep parents, as one DataFrame."""
    query = TRAINING_RUNS + (f" and tags.study = '{study}'" if study else "")
    found = [
        mlflow.search_runs(
            experiment_names=[experiment_name],
            max_results=50_000,
            filter_string=f"{query} and {condition}",
        )
        for condition in (
            "attributes.status = 'FINISHED'",
            "attributes.status = 'FAILED' and tags.diverged = 'true'",
        )
    ]
    found = [runs for runs in found if not runs.empty]
    return pandas.concat(found, ignore_index=True) if found else pandas.DataFrame()


def markdown_table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def slug(text):
    return re.sub(r"[^A-Za-z0-9.]+", "_", text).strip("_") or "all"


def task_section(task, runs, out_dir):
    """Returns (Markdown section, printable tables) for one task's runs (as
    `mlflow.search_runs` returns them: their params are read back typed here)."""
    runs = typed_params(task, runs)
    datasets = sorted(runs["params.dataset"].dropna().unique())
    parts, printed = [], []
    for dataset in datasets:
        heading = f"### {dataset}" if len(datasets) > 1 else ""
        markdown, table = _dataset_part(
            task, runs[runs["params.dataset"] == dataset], dataset, out_dir
        )
        parts += [heading, markdown]
        printed.append("\n".join(filter(None, [heading.lstrip("# "), table])))
    studies = ", ".join(sorted(runs["tags.study"].dropna().unique()))
    section = "\n\n".join(
        filter(
            None,
            [
                f"## {task.name}: {task.description}",
                f"{len(runs)} runs (studies: {studies}). Metrics are mean ± std over the runs "
                "that did not diverge (a non-finite loss ends a run; `runs` counts those that "
                "did); s/epoch leaves out the first epoch, which includes graph tracing.",
                *parts,
                task.report_extras(runs, out_dir),
            ],
        )
    )
    return section, "\n\n".join(printed)


def _histories(run_ids, metrics):
    client = mlflow.MlflowClient()
    return {
        run_id: {
            metric: {m.step: m.value for m in client.get_metric_history(run_id, metric)}
            for metric in metrics
        }
        for run_id in run_ids
    }


def _dataset_part(task, runs, dataset, out_dir):
    """(Markdown, printable table) of one task's runs on one dataset."""
    view = task.report_view(dataset)
    histories = _histories(runs["run_id"], (view.curve_metric, tables.EPOCH_TIME))
    config_names, rows, references = tables.summarize(runs, histories, view, task.norm_params)

    target_header = (
        (f"epochs to {view.curve_metric} {'≥' if view.higher_is_better else '≤'} {view.target}")
        if view.target is not None
        else None
    )
    cells = []
    for config in sorted({row.config for row in rows}):
        for row in (row for row in rows if row.config == config):
            cells.append(
                [
                    *config,
                    row.norm,
                    tables.format_runs(row),
                    *(tables.format_mean_std(row.metrics[m]) for m in view.table_metrics),
                    *([tables.format_epochs_to(row.epochs_to_target)] if target_header else []),
                    f"{row.seconds_per_epoch:.2f}" if row.seconds_per_epoch else "-",
                ]
            )
        for _, label, values in (ref for ref in references if ref[0] == config):
            cells.append(
                [
                    *config,
                    label,
                    "-",
                    *(tables.format_mean_std(values[m]) for m in view.table_metrics),
                    *(["-"] * (2 if target_header else 1)),
                ]
            )
    header = [*config_names, "norm", "runs", *view.table_metrics]
    header += [target_header] if target_header else []
    header.append("s/epoch")
    table = markdown_table(header, cells)

    figures = []
    for config in sorted({row.config for row in rows}):
        curves = {row.norm: row.curve for row in rows if row.config == config and row.curve}
        if not curves:
            continue
        label = " ".join(f"{name}={value}" for name, value in zip(config_names, config))
        filename = f"{task.name}_{dataset}_{view.curve_metric}_{slug(label)}.png"
        title = f"{task.name} {dataset}: {view.curve_metric} {label}".strip()
        figure = plots.overlaid_curves(curves, view.curve_metric, title)
        figure.savefig(Path(out_dir) / filename, dpi=100)
        plots.close(figure)
        figures.append(f"![{view.curve_metric}, {label or 'every norm'}]({filename})")
    return "\n\n".join([table, *figures]), table


def write_report(tasks, out_dir, experiment=None, study=None):
    """Writes `out_dir/report.md` and its figures; returns (path, printable tables).

    `tasks` maps names to tasks; each task's runs are read from its own
    experiment, or all from `experiment` when given.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    sections, printed = [], []
    for task in tasks.values():
        name = experiment or task.experiment_name
        if mlflow.get_experiment_by_name(name) is None:
            continue
        runs = reported_runs(name, study)
        if "tags.task" in runs.columns:
            runs = runs[runs["tags.task"] == task.name]
        if runs.empty:
            continue
        section, table = task_section(task, runs, out_dir)
        sections.append(section)
        printed.append(f"{task.name} (experiment {name})\n{table}")
    if not sections:
        where = experiment or ", ".join(task.experiment_name for task in tasks.values())
        raise ReportError(
            f"No finished runs in experiment(s) {where}"
            + (f" with study {study!r}" if study else "")
            + f" in the store {mlflow.get_tracking_uri()}. "
            "Run `python -m experiments quick` or `python -m experiments run ...` first."
        )
    path = out_dir / "report.md"
    header = f"# keras-norms experiment report\n\nStore: `{mlflow.get_tracking_uri()}`"
    if study:
        header += f", study `{study}`"
    path.write_text("\n\n".join([header, *sections]) + "\n")
    return path, "\n\n".join(printed)
