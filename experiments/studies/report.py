"""The studies' page, "Which normalization when": one row per claim (the
paper's figure, ours, the verdict, a link to its study's section), then a
section per study with its tables and figures.

Every figure is a mean with its 95% confidence interval over the seeds that
did not diverge; diverged runs are counted (the suite's divergence policy).
The verdict rule is `experiments.studies.verdict`'s.
"""

import math
from pathlib import Path

import mlflow
import pandas

from experiments import paths
from experiments.report import plots, tables
from experiments.report.writer import markdown_table, reported_runs, slug
from experiments.studies import runner, verdict
from experiments.tasks import TASKS
from experiments.tracking import store

PAGE = "studies.md"


def anchor(study):
    return f"study-{study.name}"


def study_runs(study, scale):
    """The study's finished and diverged runs at `scale` (any seeds), each
    labelled with its variant and level (columns `variant`, `level`)."""
    task = TASKS[study.task]
    name = task.experiment_name
    if mlflow.get_experiment_by_name(name) is None:
        return pandas.DataFrame()
    runs = reported_runs(name, study.name)
    if runs.empty:
        return runs
    configs = runner.study_configs(study, scale, seeds=[0])
    names = sorted(configs[0])
    # Any seeds, and the data wherever it was read from.
    without = ("seed", "data_dir")
    keys = {runner.config_key(config, without=without) for config in configs}
    runs = runs[[runner.run_key(run, names, without=without) in keys
                 for _, run in runs.iterrows()]].copy()

    def label(run, choices):
        for choice in choices:
            if all(str(run.get(f"params.{name}")) == str(value)
                   for name, value in choice.params.items()):
                return choice.label
        return None

    runs["variant"] = [label(run, study.variants) for _, run in runs.iterrows()]
    runs["level"] = [label(run, study.scale(scale).levels) for _, run in runs.iterrows()]
    return runs.assign(diverged=tables.diverged(runs))


def _cell(runs, variant, level):
    return runs[(runs["variant"] == variant) & (runs["level"] == level)]


def _values(runs, metric):
    column = f"metrics.{metric}"
    kept = runs[~runs["diverged"]]
    return list(kept[column]) if column in kept else []


def _runs_text(runs):
    count, diverged = len(runs), int(runs["diverged"].sum())
    return f"{count} ({diverged}/{count} diverged)" if diverged else str(count)


def in_grid(study, scale, side):
    """Whether `scale` runs a claim's side, a (variant, level) pair."""
    variant, level = side
    return (any(v.label == variant for v in study.variants_at(scale))
            and study.level(scale, level) is not None)


def judge(study, scale, runs):
    """Per claim: (claim, A's estimate, B's estimate, verdict, difference)."""
    judged = []
    for claim in study.claims:
        if not (in_grid(study, scale, claim.a) and in_grid(study, scale, claim.b)):
            judged.append((claim, None, None, verdict.INCONCLUSIVE, None))
            continue
        a = _values(_cell(runs, *claim.a), claim.metric) if not runs.empty else []
        b = _values(_cell(runs, *claim.b), claim.metric) if not runs.empty else []
        outcome, difference = verdict.verdict(a, b, claim.higher_is_better)
        judged.append((claim, verdict.mean_ci(a), verdict.mean_ci(b), outcome, difference))
    return judged


def _ours(claim, a, b, difference):
    if a is None:
        return "not in this scale's grid"
    if a.n == 0 or b.n == 0:
        return "no runs yet"
    side = "higher" if claim.higher_is_better else "lower"
    return (f"{claim.metric}: {a} vs {b}; difference ({side} is better) "
            f"{difference.mean:+.4g}" + ("" if math.isnan(difference.low) else
                                          f" [{difference.low:+.4g}, {difference.high:+.4g}]"))


def _claim_name(claim):
    return f"{claim.a[0]} @ {claim.a[1]} vs {claim.b[0]} @ {claim.b[1]}"


def _histories(runs, metric):
    client = mlflow.MlflowClient()
    return {run_id: {m.step: m.value for m in client.get_metric_history(run_id, metric)}
            for run_id in runs["run_id"]}


def _steps(history, view, run):
    """Training steps until the curve first reaches the target (at epoch ends), or None."""
    epoch = tables.epochs_to(history, view.target, view.higher_is_better)
    if epoch is None:
        return None
    size, batch = run.get("params.train_size"), run.get("params.batch_size")
    if size in (None, "None") or batch in (None, "None"):
        return None
    return epoch * math.ceil(int(size) / int(batch))


def _results(study, scale, runs, out_dir):
    """(results table, figure links) of one study."""
    task = TASKS[study.task]
    levels = study.scale(scale).levels
    header = [study.factor, "norm", "runs", *study.metrics]
    rows, figures, factor_points = [], [], {}
    with_target = False
    for level in levels:
        level_runs = runs[runs["level"] == level.label]
        if level_runs.empty:
            continue
        dataset = level_runs["params.dataset"].iloc[0]
        view = task.report_view(dataset)
        kept = level_runs[~level_runs["diverged"]]
        histories = _histories(kept, view.curve_metric)
        curves = {}
        for variant in study.variants_at(scale):
            cell = _cell(level_runs, variant.label, level.label)
            if cell.empty:
                continue
            estimates = [verdict.mean_ci(_values(cell, metric)) for metric in study.metrics]
            row = [level.label, variant.label, _runs_text(cell), *estimates]
            if view.target is not None:
                with_target = True
                cell_kept = cell[~cell["diverged"]]
                steps = [_steps(histories[run["run_id"]], view, run)
                         for _, run in cell_kept.iterrows()]
                hits = [s for s in steps if s is not None]
                reached = (f"{verdict.mean_ci(hits)} ({len(hits)}/{len(steps)} runs)"
                           if hits else ("never" if steps else "-"))
                row.append(f"{view.curve_metric} {'≥' if view.higher_is_better else '≤'} "
                           f"{view.target}: {reached}")
            rows.append(row)
            curve = _ci_curve([histories[run_id] for run_id in
                               cell[~cell["diverged"]]["run_id"]])
            if curve:
                curves[variant.label] = curve
            factor_points.setdefault(variant.label, []).append((level.label, estimates[0]))
        for label, metric in study.references.items():
            value = verdict.mean_ci(_values(level_runs, metric))
            if value.n:
                rows.append([level.label, label, "-", value, *["-"] * (len(study.metrics) - 1)]
                            + (["-"] if with_target else []))
        if curves:
            name = f"study_{study.name}_{slug(level.label)}_{view.curve_metric}.png"
            figure = plots.overlaid_curves(
                curves, view.curve_metric,
                f"{study.name} {level.label}: {view.curve_metric} (mean, 95% CI)")
            figure.savefig(Path(out_dir) / name, dpi=100)
            plots.close(figure)
            figures.append(f"![{view.curve_metric}, {level.label}]({name})")
    if with_target:
        header.append("steps to target (mean, runs reaching it)")
    rows = [row + ["-"] * (len(header) - len(row)) for row in rows]
    if study.plot == "factor" and factor_points:
        figures.insert(0, _factor_figure(study, factor_points, out_dir))
    if study.plot == "samples":
        grid = _sample_grid(study, runs, out_dir)
        if grid:
            figures.insert(0, grid)
    return markdown_table(header, rows), figures


def _ci_curve(histories):
    """(epochs, means, half-widths of the 95% interval) over the epochs all share."""
    histories = [h for h in histories if h]
    if not histories:
        return None
    epochs = sorted(set.intersection(*(set(h) for h in histories)))
    estimates = [verdict.mean_ci([h[e] for h in histories]) for e in epochs]
    return (epochs, [e.mean for e in estimates],
            [0.0 if e.n < 2 else e.high - e.mean for e in estimates])


def _factor_figure(study, points, out_dir):
    """The first metric against the factor per norm (as error when it is an accuracy)."""
    metric = study.metrics[0]
    as_error = metric.endswith("accuracy")
    figure, axis = plots.pyplot.subplots(figsize=(6, 4))
    for label, values in points.items():
        xs = [float(level) if level.replace(".", "").isdigit() else i
              for i, (level, _) in enumerate(values)]
        means = [(1 - e.mean) if as_error else e.mean for _, e in values]
        errors = [0.0 if e.n < 2 else e.high - e.mean for _, e in values]
        axis.errorbar(xs, means, yerr=errors, marker="o", capsize=3, label=label)
    axis.set_xscale("log", base=2)
    axis.set_xlabel(study.factor)
    axis.set_ylabel(f"test error (1 - {metric})" if as_error else metric)
    axis.set_title(f"{study.name}: mean and 95% CI over seeds")
    axis.legend()
    figure.tight_layout()
    name = f"study_{study.name}_{'error' if as_error else metric}_vs_{slug(study.factor)}.png"
    figure.savefig(Path(out_dir) / name, dpi=100)
    plots.close(figure)
    return f"![{study.name}: {metric} against {study.factor}]({name})"


def _sample_grid(study, runs, out_dir):
    """The last sample grid of each variant's lowest-seed run, side by side."""
    import tempfile

    import numpy as np
    from PIL import Image

    client = mlflow.MlflowClient()
    grids = {}
    for variant in study.variants:
        cell = runs[(runs["variant"] == variant.label) & ~runs["diverged"]]
        if cell.empty:
            continue
        run_id = cell.sort_values("params.seed")["run_id"].iloc[0]
        images = [a.path for a in client.list_artifacts(run_id, "images")
                  if a.path.startswith("images/samples+step+") and a.path.endswith(".png")]
        if not images:
            continue
        last = max(images, key=lambda path: int(path.split("+")[2]))
        with tempfile.TemporaryDirectory() as directory:
            local = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=last,
                                                        dst_path=directory)
            grids[variant.label] = np.asarray(Image.open(local))
    if not grids:
        return None
    figure, axes = plots.pyplot.subplots(1, len(grids), figsize=(3 * len(grids), 3.3),
                                         squeeze=False)
    for axis, (label, grid) in zip(axes[0], grids.items()):
        axis.imshow(grid, cmap="gray", vmin=0, vmax=255)
        axis.set_title(f"D: {label}")
        axis.axis("off")
    figure.suptitle(f"{study.name}: samples after the last epoch (seed of the first run)")
    figure.tight_layout()
    name = f"study_{study.name}_samples.png"
    figure.savefig(Path(out_dir) / name, dpi=100)
    plots.close(figure)
    return f"![{study.name}: samples per norm]({name})"


def section(study, scale, runs, judged, out_dir, command):
    """The Markdown section of one study."""
    parts = [f'## <a id="{anchor(study)}"></a>{study.name}: {study.title}',
             f"Task `{study.task}`, scale `{scale}`; factor: {study.factor}. "
             f"Reproduce with `{command}`."]
    if runs.empty:
        parts.append("Not yet run at this scale.")
        return "\n\n".join(parts)
    seeds = sorted(runs["params.seed"].unique(), key=int)
    parts.append(f"{len(runs)} runs, seeds {', '.join(seeds)}.")
    parts.append(markdown_table(
        ["claim", "paper's figure", "source", "ours (mean [95% CI])", "verdict"],
        [[f"{claim.text} ({_claim_name(claim)})", claim.paper, claim.source,
          _ours(claim, a, b, difference), f"**{outcome}**"]
         for claim, a, b, outcome, difference in judged]))
    table, figures = _results(study, scale, runs, out_dir)
    parts += [table, *figures]
    if study.notes:
        parts.append(study.notes)
    return "\n\n".join(parts)


def _store_label():
    """The store as the page names it: its path in the project for the
    project's own SQLite store, which reads the same on every machine."""
    uri = mlflow.get_tracking_uri()
    database = store.sqlite_path(uri)
    if database is not None and database.resolve().is_relative_to(paths.project_dir()):
        return f"`{database.resolve().relative_to(paths.project_dir())}` (the project's)"
    return f"`{uri}`"


def write_page(studies, scale, out_dir, command):
    """Writes `out_dir/studies.md` ("Which normalization when") for `studies`
    (name -> Study) at `scale`, with their figures; a study without runs at
    that scale is listed as not yet run. Returns the page's path."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    summary, sections = [], []
    for study in studies.values():
        runs = study_runs(study, scale)
        judged = judge(study, scale, runs) if not runs.empty else []
        link = f"[{study.name}](#{anchor(study)})"
        if runs.empty:
            summary.append([f"every claim of {study.name}", "-", "not yet run", "-", link])
        for claim, a, b, outcome, difference in judged:
            summary.append([claim.text, claim.paper, _ours(claim, a, b, difference),
                            f"**{outcome}**", link])
        sections.append(section(study, scale, runs, judged, out_dir,
                                f"{command} {study.name} --scale {scale}"))
    page = "\n\n".join([
        f"# Which normalization when\n\nStudies at scale `{scale}`, read from the store "
        f"{_store_label()}.",
        "Each row is one claim from the literature (REFERENCES.md cites the tables), "
        "the paper's figure, ours, and the verdict. Ours is a mean with its 95% confidence "
        "interval (Student's t over the seeds); diverged runs are counted, not averaged.",
        f"**The verdict rule.** {verdict.RULE}",
        markdown_table(["claim", "paper's figure", "ours", "verdict", "study"], summary),
        *sections,
    ])
    path = out_dir / PAGE
    path.write_text(page + "\n")
    return path
