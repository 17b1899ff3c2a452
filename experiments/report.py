"""The comparison report, read back from MLflow: Markdown tables and PNG curves.

For each task, one section, and in it one table per dataset: a row per
configuration and norm (the final metrics of the task's view of that dataset
as mean +/- std over runs, epochs until the curve metric reaches the view's
target, seconds per epoch) and the view's reference rows (a baseline, a
floor), then the curves of every norm overlaid per configuration, then
whatever the task adds.
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


def configuration_params(runs, norm_params=()):
    """The params that vary between the runs, other than norm (and the
    `norm_params` that restate it) and seed."""
    names = [
        column[len("params."):] for column in runs.columns
        if column.startswith("params.")
        and column[len("params."):] not in {*_NOT_CONFIGURATION, *norm_params}
        and not column.startswith("params.optimizer_")  # logged by MLflow's Keras callback
    ]
    return [name for name in names if runs[f"params.{name}"].nunique(dropna=False) > 1]


def _history(client, run_id, metric):
    """{epoch: value} of a metric logged with step=epoch."""
    return {m.step: m.value for m in client.get_metric_history(run_id, metric)}


def _epochs_to(history, target, higher_is_better):
    for epoch in sorted(history):
        value = history[epoch]
        if (value >= target) if higher_is_better else (value <= target):
            return epoch
    return None


def _mean_curve(histories):
    """(epochs, means, stds) over the epochs every history has."""
    epochs = sorted(set.intersection(*(set(h) for h in histories)))
    values = [[h[epoch] for h in histories] for epoch in epochs]
    return (epochs, [statistics.mean(v) for v in values],
            [statistics.stdev(v) if len(v) > 1 else 0.0 for v in values])


def _mean_std(values):
    values = [v for v in values if v is not None and not math.isnan(v)]
    if not values:
        return "-"
    if len(set(values)) == 1:  # one run, or a reference every run logged alike
        return f"{values[0]:.4f}"
    return f"{statistics.mean(values):.4f} ± {statistics.stdev(values):.4f}"


def _markdown_table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def _norm_order(norm):
    """NORMS order; a `generator/discriminator` pair after its generator's norm."""
    return [NORMS.index(part) if part in NORMS else len(NORMS) for part in norm.split("/")]


def _slug(text):
    return re.sub(r"[^A-Za-z0-9.]+", "_", text).strip("_") or "all"


def task_section(task, runs, out_dir):
    """Returns (Markdown section, printable tables) for one task's runs."""
    datasets = sorted(runs["params.dataset"].dropna().unique())
    parts, tables = [], []
    for dataset in datasets:
        heading = f"### {dataset}" if len(datasets) > 1 else ""
        markdown, table = _dataset_part(task, runs[runs["params.dataset"] == dataset], dataset,
                                        out_dir)
        parts += [heading, markdown]
        tables.append("\n".join(filter(None, [heading.lstrip("# "), table])))
    studies = ", ".join(sorted(runs["tags.study"].dropna().unique()))
    section = "\n\n".join(filter(None, [
        f"## {task.name}: {task.description}",
        f"{len(runs)} finished runs (studies: {studies}). Metrics are mean ± std over "
        "runs; s/epoch leaves out the first epoch, which includes graph tracing.",
        *parts,
        task.report_extras(runs, out_dir),
    ]))
    return section, "\n\n".join(tables)


def _dataset_part(task, runs, dataset, out_dir):
    """(Markdown, printable table) of one task's runs on one dataset."""
    client = mlflow.MlflowClient()
    view = task.report_view(dataset)
    config_names = configuration_params(runs, task.norm_params)
    rows, curves_by_config = [], {}

    def group_key(row):
        return tuple(row[f"params.{name}"] for name in config_names)

    groups = {}
    for _, run in runs.iterrows():
        groups.setdefault(group_key(run), {}).setdefault(run["params.norm"], []).append(run)

    target_header = (f"epochs to {view.curve_metric} {'≥' if view.higher_is_better else '≤'} "
                     f"{view.target}") if view.target is not None else None
    for config in sorted(groups):
        curves = {}
        for norm in sorted(groups[config], key=_norm_order):
            norm_runs = groups[config][norm]
            histories = [_history(client, run["run_id"], view.curve_metric) for run in norm_runs]
            epoch_times = [t for run in norm_runs
                           for epoch, t in _history(client, run["run_id"], "epoch_time_s").items()
                           if epoch > 1]
            row = [*config, norm, len(norm_runs)]
            row += [_mean_std([run.get(f"metrics.{metric}") for run in norm_runs])
                    for metric in view.table_metrics]
            if target_header:
                reached = [_epochs_to(h, view.target, view.higher_is_better) for h in histories]
                hits = [epochs for epochs in reached if epochs is not None]
                cell = f"{statistics.mean(hits):.1f}" if hits else "never"
                if hits and len(hits) < len(reached):
                    cell += f" ({len(hits)}/{len(reached)} runs)"
                row.append(cell)
            row.append(f"{statistics.mean(epoch_times):.2f}" if epoch_times else "-")
            rows.append(row)
            if all(histories):
                curves[norm] = _mean_curve(histories)
        all_runs = [run for norm_runs in groups[config].values() for run in norm_runs]
        for label, logged in view.references.items():
            rows.append([*config, label, "-"]
                        + [_mean_std([run.get(f"metrics.{logged[metric]}") for run in all_runs])
                           if metric in logged else "-" for metric in view.table_metrics]
                        + ["-"] * (2 if target_header else 1))
        curves_by_config[config] = curves

    header = [*config_names, "norm", "runs", *view.table_metrics]
    header += [target_header] if target_header else []
    header.append("s/epoch")
    table = _markdown_table(header, rows)

    figures = []
    for config, curves in curves_by_config.items():
        if not curves:
            continue
        label = " ".join(f"{name}={value}" for name, value in zip(config_names, config))
        filename = f"{task.name}_{dataset}_{view.curve_metric}_{_slug(label)}.png"
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
