"""The comparison report, read back from MLflow: Markdown tables and PNG curves.

For each task, one section: a table with a row per configuration and norm
(the task's final metrics as mean +/- std over runs, epochs until the curve
metric reaches the task's target, seconds per epoch), the validation curves of
every norm overlaid per configuration, then whatever the task adds.
"""

import math
import re
import statistics
from pathlib import Path

import mlflow

from experiments import plots
from experiments.errors import ReportError
from experiments.norms import NORMS
from experiments.tracking import VERSION_PARAMS

# Params that never define a configuration: what is compared, repeated or recorded.
_NOT_CONFIGURATION = {"norm", "seed", "task", "data_dir", *VERSION_PARAMS}


def finished_runs(experiment_name, study=None):
    """The finished training runs (not sweep parents) of an experiment, as a DataFrame."""
    query = "attributes.status = 'FINISHED' and tags.run_kind = 'train'"
    if study:
        query += f" and tags.study = '{study}'"
    return mlflow.search_runs(
        experiment_names=[experiment_name], filter_string=query, max_results=50_000
    )


def configuration_params(runs):
    """The params that vary between the runs, other than norm and seed."""
    names = [
        column[len("params."):] for column in runs.columns
        if column.startswith("params.")
        and column[len("params."):] not in _NOT_CONFIGURATION
        and not column.startswith("params.optimizer_")  # logged by MLflow's Keras callback
    ]
    return [name for name in names if runs[f"params.{name}"].nunique(dropna=False) > 1]


def _history(client, run_id, metric):
    return [m.value for m in sorted(client.get_metric_history(run_id, metric), key=lambda m: m.step)]


def _epochs_to(values, target, higher_is_better):
    for epoch, value in enumerate(values, start=1):
        if (value >= target) if higher_is_better else (value <= target):
            return epoch
    return None


def _mean_std(values):
    values = [v for v in values if v is not None and not math.isnan(v)]
    if not values:
        return "-"
    if len(values) == 1:
        return f"{values[0]:.4f}"
    return f"{statistics.mean(values):.4f} ± {statistics.stdev(values):.4f}"


def _markdown_table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def _norm_order(norm):
    return NORMS.index(norm) if norm in NORMS else len(NORMS)


def _slug(text):
    return re.sub(r"[^A-Za-z0-9.]+", "_", text).strip("_") or "all"


def task_section(task, runs, out_dir):
    """Returns (Markdown section, printable table) for one task's runs."""
    client = mlflow.MlflowClient()
    config_names = configuration_params(runs)
    rows, curves_by_config = [], {}

    def group_key(row):
        return tuple(row[f"params.{name}"] for name in config_names)

    groups = {}
    for _, run in runs.iterrows():
        groups.setdefault(group_key(run), {}).setdefault(run["params.norm"], []).append(run)

    target_header = (f"epochs to {task.curve_metric} {'≥' if task.higher_is_better else '≤'} "
                     f"{task.target}") if task.target is not None else None
    for config in sorted(groups):
        curves = {}
        for norm in sorted(groups[config], key=_norm_order):
            norm_runs = groups[config][norm]
            histories = [_history(client, run["run_id"], task.curve_metric) for run in norm_runs]
            epoch_times = [t for run in norm_runs
                           for t in _history(client, run["run_id"], "epoch_time_s")[1:]]
            row = [*config, norm, len(norm_runs)]
            row += [_mean_std([run.get(f"metrics.{metric}") for run in norm_runs])
                    for metric in task.table_metrics]
            if target_header:
                reached = [_epochs_to(h, task.target, task.higher_is_better) for h in histories]
                hits = [epochs for epochs in reached if epochs is not None]
                cell = f"{statistics.mean(hits):.1f}" if hits else "never"
                if hits and len(hits) < len(reached):
                    cell += f" ({len(hits)}/{len(reached)} runs)"
                row.append(cell)
            row.append(f"{statistics.mean(epoch_times):.2f}" if epoch_times else "-")
            rows.append(row)
            length = min(len(h) for h in histories)
            if length:
                per_epoch = [[h[e] for h in histories] for e in range(length)]
                curves[norm] = (
                    list(range(1, length + 1)),
                    [statistics.mean(values) for values in per_epoch],
                    [statistics.stdev(values) if len(values) > 1 else 0.0 for values in per_epoch],
                )
        curves_by_config[config] = curves

    header = [*config_names, "norm", "runs", *task.table_metrics]
    header += [target_header] if target_header else []
    header.append("s/epoch")
    table = _markdown_table(header, rows)

    figures = []
    for config, curves in curves_by_config.items():
        if not curves:
            continue
        label = " ".join(f"{name}={value}" for name, value in zip(config_names, config))
        filename = f"{task.name}_{task.curve_metric}_{_slug(label)}.png"
        figure = plots.overlaid_curves(curves, task.curve_metric,
                                       f"{task.name}: {task.curve_metric} {label}".strip())
        figure.savefig(Path(out_dir) / filename, dpi=100)
        plots.close(figure)
        figures.append(f"![{task.curve_metric}, {label or 'every norm'}]({filename})")

    studies = ", ".join(sorted(runs["tags.study"].dropna().unique()))
    section = "\n\n".join(filter(None, [
        f"## {task.name}: {task.description}",
        f"{len(runs)} finished runs (studies: {studies}). Metrics are mean ± std over "
        "runs; s/epoch leaves out the first epoch, which includes graph tracing.",
        table,
        *figures,
        task.report_extras(runs, out_dir),
    ]))
    return section, table


def write_report(tasks, out_dir, experiment=None, study=None):
    """Writes `out_dir/report.md` and its figures; returns (path, printable tables).

    `tasks` maps names to tasks; each task's runs are read from its own
    experiment, or all from `experiment` when given.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    sections, tables = [], []
    for task in tasks.values():
        name = experiment or task.experiment_name
        if mlflow.get_experiment_by_name(name) is None:
            continue
        runs = finished_runs(name, study)
        if "tags.task" in runs.columns:
            runs = runs[runs["tags.task"] == task.name]
        if runs.empty:
            continue
        section, table = task_section(task, runs, out_dir)
        sections.append(section)
        tables.append(f"{task.name} (experiment {name})\n{table}")
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
    return path, "\n\n".join(tables)
