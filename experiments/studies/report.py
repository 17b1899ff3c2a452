"""The studies' page, "Which normalization when": one row per claim (the
paper's figure, ours, the verdict, a link to its study's section), then a
section per study with its tables and figures.

Every figure is a mean with its 95% confidence interval over the seeds that
did not diverge; diverged runs are counted (the suite's divergence policy).
The tests, Holm's adjustment over every claim on the page and the verdict
rule are `experiments.studies.verdict`'s.
"""

import dataclasses
import math
import shutil
import statistics
import tempfile
from pathlib import Path

import mlflow
import pandas

from .. import paths
from ..report import html, plots, tables
from ..report.writer import markdown_table, reported_runs, slug
from ..run_config import RunConfig, typed_params
from ..tasks import TASKS
from ..tracking import store
from ..tracking.runs import BACKEND_PARAMS
from . import runner, verdict
from .base import BEST, QUESTIONS

PAGE = "studies.md"
PARENT_DIR = "study"  # the page's artifacts in a study's parent run
REFERENCES = "../references.md"  # the papers' tables, from the page in docs/studies/


def anchor(study):
    return f"study-{study.name}"


def study_runs(study, scale):
    """The study's finished and diverged runs at `scale`, of the seeds the
    scale declares (0..seeds-1: a run of any other seed is not the study's),
    their params typed (`run_config.typed_params`), each with its `RunConfig`
    (column `config`) and labelled with its variant and level (columns
    `variant`, `level`)."""
    task = TASKS[study.task]
    name = task.experiment_name
    if mlflow.get_experiment_by_name(name) is None:
        return pandas.DataFrame()
    runs = reported_runs(name, study.name)
    if runs.empty:
        return runs
    # The declared seeds, and the data wherever it was read from.
    without = ("seed", "data_dir")
    declared = {config.identity(without) for config in runner.study_configs(study, scale, [0])}
    seeds = range(study.scale(scale).seeds)
    read = [RunConfig.from_run_row(task, run) for _, run in runs.iterrows()]
    kept = [c.identity(without) in declared and c.get("seed") in seeds for c in read]
    runs = typed_params(task, runs[kept]).assign(
        config=[config for config, keep in zip(read, kept) if keep]
    )

    def label(run, choices):
        for choice in choices:
            if all(run.get(f"params.{name}") == value for name, value in choice.params.items()):
                return choice.label
        return None

    runs["variant"] = [label(run, study.variants) for _, run in runs.iterrows()]
    runs["level"] = [label(run, study.scale(scale).levels) for _, run in runs.iterrows()]
    return runs.assign(diverged=tables.diverged(runs))


def missing_runs(study, scale, runs):
    """How many configurations `scale` declares (every seed of every cell)
    have no run among `runs` (`study_runs`): more than 0 in an interrupted
    study, whose claims are not judged until it completes."""
    configs = runner.study_configs(study, scale, list(range(study.scale(scale).seeds)))
    held = {config.identity(("data_dir",)) for config in runs["config"]}
    return sum(config.identity(("data_dir",)) not in held for config in configs)


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
    if level == BEST:
        return study.tune_metric is not None and any(
            v.label == variant for v in study.variants_at(scale)
        )
    level = study.level(scale, level)
    return level is not None and any(v.label == variant for v in study.variants_at(scale, level))


def _chosen_on_validation(study, groups):
    """The key of the group of runs (`groups`: key -> runs) with the best mean
    final `study.tune_metric`, among the groups where no run diverged; None
    when every group has a diverged run."""
    means = {
        key: verdict.mean_ci(_values(group, study.tune_metric)).mean
        for key, group in groups.items()
        if not group["diverged"].any()
    }
    means = {key: mean for key, mean in means.items() if finite_value(mean)}
    if not means:
        return None
    best = max if study.tune_higher_is_better else min
    return best(means, key=means.get)


def tuned_levels(study, runs):
    """{variant: its level chosen on validation, or None} (`Study.tune_metric`)."""
    if study.tune_metric is None or not study.tunes_levels or runs.empty:
        return {}
    return {
        variant: _chosen_on_validation(study, dict(tuple(of_variant.groupby("level"))))
        for variant, of_variant in runs.groupby("variant")
    }


def at_tuned_rates(study, scale, runs):
    """(`runs` at the rate chosen on validation for each cell, the choices
    {(variant, level): rate, or None}) where `scale` declares a grid
    of rates (`Scale.lrs`); else (`runs`, {})."""
    if study.scale(scale).lrs is None or runs.empty:
        return runs, {}
    rates = {
        cell: _chosen_on_validation(study, dict(tuple(of_cell.groupby("params.lr"))))
        for cell, of_cell in runs.groupby(["variant", "level"])
    }
    chosen = [
        rates[(run["variant"], run["level"])] == run["params.lr"] for _, run in runs.iterrows()
    ]
    return runs[chosen], rates


def _resolved(side, tuned):
    """`side` with a `BEST` level replaced by the one `tuned` chose (None if none)."""
    variant, level = side
    return (variant, tuned.get(variant)) if level == BEST else side


def mlflow_history(run_id, metric):
    """{step: value} of `metric` in run `run_id`."""
    client = mlflow.MlflowClient()
    return {m.step: m.value for m in client.get_metric_history(run_id, metric)}


def run_steps(task, run, metric, target, higher_is_better, history):
    """(steps, reached) of one run: the training steps until `metric` first
    reaches `target` at an epoch end, or the run's budget (its epochs' steps)
    and False when it never does; a diverged run never does. None when the
    run's steps per epoch are not known."""
    per_epoch = task.epoch_steps(
        {name.removeprefix("params."): value for name, value in run.items()}
    )
    if per_epoch is None:
        return None
    if not run.get("diverged", False):
        epoch = tables.epochs_to(history(run["run_id"], metric), target, higher_is_better)
        if epoch is not None:
            return epoch * per_epoch, True
    return run["params.epochs"] * per_epoch, False


@dataclasses.dataclass(frozen=True)
class Row:
    """One claim as a study judges it: each side's summary (text) and the raw `Test`."""

    claim: object
    a: str
    b: str
    test: verdict.Test | None  # None: not in this scale's grid


def _test(task, claim, a_runs, b_runs, history, baseline_runs=None):
    """(A's summary, B's summary, raw `verdict.Test`) of `claim` over its arms'
    runs (and its baselines', `baseline_runs`, where it declares them)."""
    if claim.outcome == verdict.BINARY:
        a, b = (_successes(claim, runs) for runs in (a_runs, b_runs))
        texts = [f"{sum(s)}/{len(s)}" if s else "-" for s in (a, b)]
        if claim.metric == "diverged":  # higher_is_better False: diverging less is claimed
            return (*texts, verdict.binary(a, b, claim.higher_is_better))
        # Reaching the target (in the metric's direction) is always the better outcome.
        return (*texts, verdict.binary(a, b, reaching=True))
    if claim.outcome == verdict.CENSORED:
        a, b = (
            [
                s
                for s in (
                    run_steps(
                        task, run, claim.metric, claim.target, claim.higher_is_better, history
                    )
                    for _, run in runs.iterrows()
                )
                if s is not None
            ]
            for runs in (a_runs, b_runs)
        )
        return (_steps_text(a), _steps_text(b), verdict.censored(a, b))
    if claim.baselines is not None:
        return _difference_in_differences(claim, a_runs, b_runs, baseline_runs)
    metrics = (claim.metric, claim.b_metric or claim.metric)
    a, b = _values(a_runs, metrics[0]), _values(b_runs, metrics[1])
    pairs = None
    if claim.paired:
        pairs = tuple(
            {
                run["params.seed"]: run.get(f"metrics.{metric}")
                for _, run in runs[~runs["diverged"]].iterrows()
            }
            for runs, metric in zip((a_runs, b_runs), metrics)
        )
    test = verdict.continuous(a, b, claim.higher_is_better, pairs, claim.equivalence_margin)
    test = _floored(claim, test, (a_runs, b_runs))
    return str(verdict.mean_ci(a)), str(verdict.mean_ci(b)), test


def _difference_in_differences(claim, a_runs, b_runs, baseline_runs):
    """`_test` of a claim on each arm's change from its baseline."""
    arms = (a_runs, baseline_runs[0], b_runs, baseline_runs[1])
    a, a0, b, b0 = (_values(runs, claim.metric) for runs in arms)
    test = verdict.difference_in_differences(
        a, a0, b, b0, claim.higher_is_better, claim.equivalence_margin
    )
    texts = [str(verdict.difference_ci(x, x0)) for x, x0 in ((a, a0), (b, b0))]
    return (*texts, _floored(claim, test, arms))


def _floored(claim, test, arms):
    """`test`, untestable when the claim declares a floor and no arm of
    `arms` (runs) beats it."""
    if claim.floor is None or test.difference.n < 2:
        return test
    for runs in arms:
        floor = claim.floor if not isinstance(claim.floor, str) else _values(runs, claim.floor)
        if verdict.beats_floor(_values(runs, claim.metric), floor, claim.higher_is_better):
            return test
    return dataclasses.replace(test, untestable=True)


def _successes(claim, runs):
    """Per run of `runs`, whether it reached the claim's target (a diverged run
    has not), or whether it diverged for the metric "diverged"."""
    if claim.metric == "diverged":
        return [bool(d) for d in runs["diverged"]]
    column = f"metrics.{claim.metric}"
    return [
        not run["diverged"]
        and column in run
        and finite_value(run[column])
        and (run[column] >= claim.target if claim.higher_is_better else run[column] <= claim.target)
        for _, run in runs.iterrows()
    ]


def finite_value(value):
    return value is not None and math.isfinite(float(value))


def _steps_text(steps):
    """The median steps to the target of (steps, reached) runs, a run that never
    reached it counted as longer than its budget, and how many reached it."""
    if not steps:
        return "-"
    reached = sum(r for _, r in steps)
    ordered = sorted(steps, key=lambda s: (not s[1], s[0]))
    middle = ordered[(len(ordered) - 1) // 2 : len(ordered) // 2 + 1]
    if all(r for _, r in middle):
        median = f"median {statistics.median(s for s, _ in middle):.4g} steps"
    else:
        median = f"median > {min(s for s, r in middle if not r):.4g} steps (budget)"
    return f"{median}, {reached}/{len(steps)} reached"


def _target(claim, runs, tuned):
    """A target given as a side: the mean final `claim.metric` of its runs (NaN: no runs)."""
    return verdict.mean_ci(_values(_cell(runs, *_resolved(claim.target, tuned)), claim.metric)).mean


def judge(study, scale, runs, history=mlflow_history):
    """A `Row` per claim of `study` over its labelled `runs` at `scale`;
    `history(run_id, metric)` gives a run's curve for steps to a target."""
    rows, task = [], TASKS[study.task]
    tuned = tuned_levels(study, runs)  # once: every claim reads the same choice
    for claim in study.claims:
        if not all(in_grid(study, scale, side) for side in claim.sides):
            rows.append(Row(claim, "-", "-", None))
            continue
        if runs.empty:
            rows.append(Row(claim, "-", "-", verdict.Test("-", verdict.NO_ESTIMATE)))
            continue
        sides = [_resolved(side, tuned) for side in claim.sides]
        if isinstance(claim.target, tuple):
            claim = dataclasses.replace(claim, target=_target(claim, runs, tuned))
        a, b, *baselines = (_cell(runs, *side) for side in sides)
        row = Row(claim, *_test(task, claim, a, b, history, baselines or None))
        # Where a side's level was chosen on validation, the page says which.
        texts = [
            f"{side[1]}: {text}" if declared[1] == BEST and text != "-" else text
            for declared, side, text in zip(claim.sides, sides, (row.a, row.b))
        ]
        rows.append(dataclasses.replace(row, a=texts[0], b=texts[1]))
    return rows


@dataclasses.dataclass(frozen=True)
class Judged:
    """A `Row` with its Holm-adjusted p-values and verdict (`verdict.Judged`)."""

    claim: object
    a: str
    b: str
    result: verdict.Judged | None

    @property
    def verdict(self):
        return verdict.INCONCLUSIVE if self.result is None else self.result.verdict


def judge_all(rows):
    """The `Judged` of every `Row` of `rows` as one family (Holm's method over
    all of them), those not in the grid inconclusive."""
    tested = [row for row in rows if row.test is not None]
    results = dict(zip(map(id, tested), verdict.judge_family([row.test for row in tested])))
    return [Judged(row.claim, row.a, row.b, results.get(id(row))) for row in rows]


def _p(value):
    return "-" if math.isnan(value) else f"{value:.2g}" if value >= 0.001 else f"{value:.1e}"


def _interval(estimate):
    if estimate.n == 0 or math.isnan(estimate.mean):
        return "-"
    text = f"{estimate.mean + 0.0:+.4g}"  # + 0.0: no "-0"
    if math.isnan(estimate.low):
        return text
    return f"{text} [{estimate.low:+.4g}, {estimate.high:+.4g}]"


# A side with no runs to read: none logged yet, or every rate chosen among
# diverged (the rate table shows "-" for such a cell).
NO_RUNS = "no runs to compare (none yet, or every rate diverged)"


def _ours(judged):
    """Ours: the two sides and the oriented difference with its raw interval."""
    claim, result = judged.claim, judged.result
    if result is None:
        return "not in this scale's grid"
    if judged.a == "-" or judged.b == "-":
        return NO_RUNS
    test = result.test
    if claim.outcome == verdict.CENSORED:
        what = (
            f"{claim.metric}: steps until {'≥' if claim.higher_is_better else '≤'} "
            f"{claim.target:.4g}, {judged.a} vs {judged.b}; pair score (fewer steps is "
            "better)"
        )
    elif claim.outcome == verdict.BINARY:
        event = (
            "diverged"
            if claim.metric == "diverged"
            else f"{claim.metric} {'≥' if claim.higher_is_better else '≤'} {claim.target}"
        )
        what = f"{claim.metric}: {event} in {judged.a} vs {judged.b} runs; difference of rates"
    elif claim.baselines is not None:
        side = "higher" if claim.higher_is_better else "lower"
        what = (
            f"{claim.metric}: change from the baseline {judged.a} vs {judged.b}; "
            f"difference in differences ({side} is better)"
        )
    else:
        side = "higher" if claim.higher_is_better else "lower"
        metric = claim.metric if claim.b_metric is None else f"{claim.metric} vs {claim.b_metric}"
        what = f"{metric}: {judged.a} vs {judged.b}; difference ({side} is better)"
    return f"{what} {_interval(test.difference)}"


def _effect(judged):
    """The oriented difference with its raw interval, and what it measures."""
    claim, result = judged.claim, judged.result
    if result is None:
        return "not in this scale's grid"
    if judged.a == "-" or judged.b == "-":
        return NO_RUNS
    if claim.outcome == verdict.CENSORED:
        what = "pair score on steps to the target"
    elif claim.outcome == verdict.BINARY:
        what = "difference of rates"
    elif claim.baselines is not None:
        what = f"{claim.metric}, difference in differences"
    elif claim.b_metric is not None:
        what = f"{claim.metric} vs {claim.b_metric}, paired"
    else:
        what = claim.metric
    return f"{_interval(result.test.difference)} ({what})"


def _answers(studies, judged, status, scale):
    """The page's opening: per question users bring, each claim's verdict and
    effect, linked to its study (`status`: why a study has none yet)."""
    parts = [
        f"## The answers, by question\n\nMeasured at scale `{scale}`; the effect is the "
        "difference on the claimed side (above 0: as claimed) with its raw 95% interval; "
        "each study's section has the protocol, the runs and the figures."
    ]
    for question in QUESTIONS:
        rows = []
        for study in (s for s in studies.values() if s.question == question):
            link = f"[{study.name}](#{anchor(study)})"
            mine = judged[study.name]
            if not mine:
                rows.append([f"every claim of {study.name}", status[study.name], "-", link])
            rows += [[j.claim.text, f"**{j.verdict}**", _effect(j), link] for j in mine]
        if rows:
            parts.append(
                f"### {question}\n\n"
                + markdown_table(["claim", "verdict", "effect", "study"], rows)
            )
    return "\n\n".join(parts)


def _stats_cells(judged):
    """raw p, Holm p (with the TOST ones where a margin is declared), MDE, test."""
    result = judged.result
    if result is None or result.test.untestable:
        note = (
            ""
            if result is None
            else " (does not beat the floor)"
            if (judged.claim.outcome == verdict.CONTINUOUS)
            else " (no run reached the target)"
        )
        return ["-", "-", "-", (result.test.method if result else "-") + note]
    test = result.test
    raw, adjusted = _p(test.p), _p(result.p_adjusted)
    if not math.isnan(test.p_equivalence):
        margin = judged.claim.equivalence_margin
        raw += f"; TOST ±{margin:g}: {_p(test.p_equivalence)}"
        adjusted += f"; TOST: {_p(result.p_equivalence_adjusted)}"
    mde = (
        "-"
        if math.isnan(test.mde)
        else f"{test.mde:.3g}"
        + (" (beyond reach)" if judged.claim.outcome != verdict.CONTINUOUS and test.mde > 1 else "")
    )
    return [raw, adjusted, mde, test.method]


def _claim_name(claim):
    if claim.b_metric is not None:
        return f"{claim.a[0]} @ {claim.a[1]}: {claim.metric} vs {claim.b_metric}"
    if claim.baselines is not None:
        (a0, b0) = claim.baselines
        return f"{claim.a[0]} @ {a0[1]}→{claim.a[1]} vs {claim.b[0]} @ {b0[1]}→{claim.b[1]}"
    return f"{claim.a[0]} @ {claim.a[1]} vs {claim.b[0]} @ {claim.b[1]}"


def _histories(runs, metric):
    return {run_id: mlflow_history(run_id, metric) for run_id in runs["run_id"]}


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
        for variant in study.variants_at(scale, level):
            cell = _cell(level_runs, variant.label, level.label)
            if cell.empty:
                continue
            estimates = [verdict.mean_ci(_values(cell, metric)) for metric in study.metrics]
            row = [level.label, variant.label, _runs_text(cell), *estimates]
            if view.target is not None:
                with_target = True
                steps = [
                    run_steps(
                        task,
                        run,
                        view.curve_metric,
                        view.target,
                        view.higher_is_better,
                        lambda run_id, _, histories=histories: histories.get(run_id, {}),
                    )
                    for _, run in cell.iterrows()
                ]
                row.append(
                    f"{view.curve_metric} {'≥' if view.higher_is_better else '≤'} "
                    f"{view.target}: {_steps_text([s for s in steps if s is not None])}"
                )
            rows.append(row)
            curve = _ci_curve([histories[run_id] for run_id in cell[~cell["diverged"]]["run_id"]])
            if curve:
                curves[variant.label] = curve
            factor_points.setdefault(variant.label, []).append((level.label, estimates[0]))
        for label, metric in study.references.items():
            value = verdict.mean_ci(_values(level_runs, metric))
            if value.n:
                rows.append(
                    [level.label, label, "-", value, *["-"] * (len(study.metrics) - 1)]
                    + (["-"] if with_target else [])
                )
        if curves:
            name = f"study_{study.name}_{slug(level.label)}_{view.curve_metric}.png"
            figure = plots.overlaid_curves(
                curves,
                view.curve_metric,
                f"{study.name} {level.label}: {view.curve_metric} (mean, 95% CI)",
            )
            figure.savefig(Path(out_dir) / name, dpi=100)
            plots.close(figure)
            figures.append(f"![{view.curve_metric}, {level.label}]({name})")
    if with_target:
        header.append(
            "steps to target (median, a run that never reaches it counted "
            "as longer than its budget)"
        )
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
    return (
        epochs,
        [e.mean for e in estimates],
        [0.0 if e.n < 2 else e.high - e.mean for e in estimates],
    )


def _factor_figure(study, points, out_dir):
    """The first metric against the factor per norm (as error when it is an
    accuracy); a norm run at one level of several, which the factor leaves
    unchanged, is a dashed line with its 95% band across them all."""
    metric = study.metrics[0]
    as_error = metric.endswith("accuracy")
    figure, axis = plots.pyplot.subplots(figsize=(6, 4))
    every_level = [level for values in points.values() for level, _ in values]
    span = [float(level) for level in every_level if level.replace(".", "").isdigit()]
    for label, values in points.items():
        xs = [
            float(level) if level.replace(".", "").isdigit() else i
            for i, (level, _) in enumerate(values)
        ]
        means = [(1 - e.mean) if as_error else e.mean for _, e in values]
        errors = [0.0 if e.n < 2 else e.high - e.mean for _, e in values]
        if len(values) == 1 and len(set(span)) > 1:
            ends = [min(span), max(span)]
            [line] = axis.plot(ends, [means[0]] * 2, linestyle="--", label=label)
            band = (means[0] - errors[0], means[0] + errors[0])
            axis.fill_between(ends, *band, color=line.get_color(), alpha=0.15)
            continue
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


def _gradient_figure(study, scale, runs, out_dir):
    """Each hidden layer's gradient norm at initialization against its depth
    (`tasks.gradients`), the mean over a cell's runs (those that diverged
    later too: the norms are measured before the first step), a panel per
    level."""
    levels = [level for level in study.scale(scale).levels if (runs["level"] == level.label).any()]
    figure, axes = plots.pyplot.subplots(
        1, len(levels), figsize=(4 * len(levels), 3.5), squeeze=False, sharey=True
    )
    for axis, level in zip(axes[0], levels):
        for variant in study.variants_at(scale, level):
            cell = _cell(runs, variant.label, level.label)
            depth = int(level.params["depth"])
            columns = [f"metrics.init_grad_norm_layer_{i}" for i in range(1, depth + 1)]
            if cell.empty or not set(columns) <= set(cell):
                continue
            means = [cell[column].mean() for column in columns]
            axis.plot(range(1, depth + 1), means, marker=".", label=variant.label)
        axis.set_yscale("log")
        axis.set_xlabel("hidden layer (1: nearest the input)")
        axis.set_title(level.label)
        axis.legend(fontsize="small")
    axes[0][0].set_ylabel("gradient norm at initialization")
    figure.tight_layout()
    name = f"study_{study.name}_gradients.png"
    figure.savefig(Path(out_dir) / name, dpi=100)
    plots.close(figure)
    return f"![{study.name}: gradient norm per layer at initialization]({name})"


def _sample_grid(study, runs, out_dir):
    """The last sample grid of each variant's lowest-seed run, side by side,
    a row per level."""
    import tempfile

    import numpy as np
    from PIL import Image

    client = mlflow.MlflowClient()
    grids = {}
    levels = [level for level in dict.fromkeys(runs["level"]) if level is not None]
    for level in levels:
        for variant in study.variants:
            cell = _cell(runs, variant.label, level)
            cell = cell[~cell["diverged"]]
            if cell.empty:
                continue
            run_id = cell.sort_values("params.seed")["run_id"].iloc[0]
            images = [
                a.path
                for a in client.list_artifacts(run_id, "images")
                if a.path.startswith("images/samples+step+") and a.path.endswith(".png")
            ]
            if not images:
                continue
            last = max(images, key=lambda path: int(path.split("+")[2]))
            with tempfile.TemporaryDirectory() as directory:
                local = mlflow.artifacts.download_artifacts(
                    run_id=run_id, artifact_path=last, dst_path=directory
                )
                grids[level, variant.label] = np.asarray(Image.open(local))
    if not grids:
        return None
    rows = [level for level in levels if any(key[0] == level for key in grids)]
    columns = [v.label for v in study.variants if any(key[1] == v.label for key in grids)]
    figure, axes = plots.pyplot.subplots(
        len(rows), len(columns), figsize=(3 * len(columns), 3.3 * len(rows)), squeeze=False
    )
    for row, level in enumerate(rows):
        for column, label in enumerate(columns):
            axis = axes[row][column]
            axis.axis("off")
            if (level, label) in grids:
                axis.imshow(grids[level, label], cmap="gray", vmin=0, vmax=255)
                axis.set_title(f"D: {label}" + (f", {level}" if len(rows) > 1 else ""))
    figure.suptitle(f"{study.name}: samples after the last epoch (seed of the first run)")
    figure.tight_layout()
    name = f"study_{study.name}_samples.png"
    figure.savefig(Path(out_dir) / name, dpi=100)
    plots.close(figure)
    return f"![{study.name}: samples per norm]({name})"


def _rates_text(study, scale, every, runs, rates):
    """The grid of rates, and the table of the rate chosen for each cell."""
    spec = study.scale(scale)
    grid = ", ".join(f"{lr:g}" for lr in spec.lrs)
    variants = study.variants_at(scale)
    rows = [
        [
            level.label,
            *(
                f"{float(rate):g}" if (rate := rates.get((v.label, level.label))) else "-"
                for v in variants
            ),
        ]
        for level in spec.levels
    ]
    direction = "highest" if study.tune_higher_is_better else "lowest"
    return (
        f"Learning rate per cell chosen on validation: every variant at every level was "
        f"trained at each rate of the grid {grid}, every seed ({len(every)} runs), and is "
        f"read at the rate with the {direction} mean final `{study.tune_metric}` among "
        f"those where none of its runs diverged (- where every rate diverged); the claims "
        f"and tables below read those {len(runs)} runs.\n\n"
        + markdown_table([study.factor, *(v.label for v in variants)], rows)
        + _grid_edges_text(spec.lrs, rates)
    )


def _grid_edges_text(grid, rates):
    """The cells (`rates`: (variant, level) -> the rate chosen) read at the
    smallest or largest rate of `grid`: their best rate may lie beyond it."""
    if len(grid) < 2:
        return ""
    edges = {min(grid): "smallest", max(grid): "largest"}
    cells = {}
    for (variant, level), rate in rates.items():
        if rate and float(rate) in edges:
            cells.setdefault(float(rate), []).append(f"{variant} at {level}")
    if not cells:
        return "\n\nEvery cell's rate lies inside the grid."
    parts = [f"the {edges[rate]} ({rate:g}): {', '.join(cells[rate])}" for rate in sorted(cells)]
    return (
        f"\n\n{sum(map(len, cells.values()))} of {len(rates)} cells chose a rate at the "
        f"grid's edge, {'; '.join(parts)}: the grid does not bracket their best rate, "
        "which may lie beyond it (a wider grid is a new study)."
    )


def _trained_on(runs):
    """The Keras backends `runs` logged, with their versions, as a clause of
    the page's runs line ("; trained on jax 0.10.2"); empty where the runs
    predate the logging of backends."""
    columns = [f"params.{name}" for name in BACKEND_PARAMS]
    if not set(columns) <= set(runs.columns):
        return ""
    logged = sorted(
        {
            f"{backend} {version}"
            for backend, version in runs[columns].itertuples(index=False)
            if isinstance(backend, str)
        }
    )
    return f"; trained on {', '.join(logged)}" if logged else ""


def section(study, scale, runs, judged, out_dir, command, every=None, rates=None, missing=0):
    """The Markdown section of one study, `judged` its claims' `Judged`;
    `runs` are the study's runs at the rates chosen per cell (`every`: all of
    them, `rates`: the choices, where the scale declares a grid of rates;
    `missing`: the declared runs not in `every`)."""
    parts = [
        f'## <a id="{anchor(study)}"></a>{study.name}: {study.title}',
        f"Task `{study.task}`, scale `{scale}`; factor: {study.factor}. "
        f"Reproduce with `{command}`.",
    ]
    if runs.empty:
        parts.append("Not yet run at this scale.")
        return "\n\n".join(parts)
    if missing:
        parts.append(
            f"Incomplete at this scale: {len(every)} of {len(every) + missing} runs (an "
            "interrupted study). Run the command above again: it trains only what is "
            "missing, and the claims are judged once every run is in."
        )
        return "\n\n".join(parts)
    seeds = sorted(runs["params.seed"].unique())
    parts.append(
        f"{len(runs)} runs, seeds {', '.join(map(str, seeds))} (the scale declares "
        f"{study.scale(scale).seeds}){_trained_on(runs if every is None else every)}."
    )
    if rates:
        parts.append(_rates_text(study, scale, every, runs, rates))
    parts.append(
        markdown_table(
            [
                "claim",
                "paper's figure",
                f"source ([references]({REFERENCES}))",
                "ours: A vs B (mean [95% CI]); difference, claimed side > 0 [raw 95% CI]",
                "raw p",
                "Holm p",
                "MDE",
                "test",
                "verdict",
            ],
            [
                [
                    f"{j.claim.text} ({_claim_name(j.claim)})",
                    j.claim.paper,
                    j.claim.source,
                    _ours(j),
                    *_stats_cells(j),
                    f"**{j.verdict}**",
                ]
                for j in judged
            ],
        )
    )
    tuned = tuned_levels(study, runs)
    if tuned:
        chosen = ", ".join(
            f"{v.label} at {tuned[v.label] or 'none (every level diverged)'}"
            for v in study.variants
            if v.label in tuned
        )
        parts.append(
            f"Levels chosen on validation (`{BEST}`: the best mean final "
            f"`{study.tune_metric}` among the levels where none of the norm's runs "
            f"diverged): {chosen}."
        )
    table, figures = _results(study, scale, runs, out_dir)
    if study.plot == "gradients":  # at initialization: every run, whatever its rate
        figures.insert(0, _gradient_figure(study, scale, runs if every is None else every, out_dir))
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
    that scale is listed as not yet run. Every claim on the page is one family
    for Holm's adjustment. Returns the page's path."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    ran = {}
    for study in studies.values():
        every = study_runs(study, scale)
        missing = missing_runs(study, scale, every) if not every.empty else 0
        runs, rates = at_tuned_rates(study, scale, every)
        judged = judge(study, scale, runs) if not (runs.empty or missing) else []
        ran[study.name] = (runs, judged, every, rates, missing)
    judged = iter(judge_all([row for _, rows, *_ in ran.values() for row in rows]))
    summary, sections, by_study, status = [], [], {}, {}
    for study in studies.values():
        runs, rows, every, rates, missing = ran[study.name]
        mine = by_study[study.name] = [next(judged) for _ in rows]
        link = f"[{study.name}](#{anchor(study)})"
        if runs.empty or missing:
            status[study.name] = (
                f"incomplete: {len(every)} of {len(every) + missing} runs"
                if missing
                else "not yet run"
            )
            summary.append(
                [f"every claim of {study.name}", "-", status[study.name], "-", "-", "-", "-", link]
            )
        for j in mine:
            summary.append(
                [
                    j.claim.text,
                    j.claim.paper,
                    _ours(j),
                    *_stats_cells(j)[:3],
                    f"**{j.verdict}**",
                    link,
                ]
            )
        sections.append(
            section(
                study,
                scale,
                runs,
                mine,
                out_dir,
                f"{command} {study.name} --scale {scale}",
                every,
                rates,
                missing,
            )
        )
    family = sum(
        1
        for _, rows, *_ in ran.values()
        for row in rows
        if row.test is not None and row.test.tested
    )
    page = "\n\n".join(
        [
            f"# Which normalization when\n\nStudies at scale `{scale}`, read from the store "
            f"{_store_label()}.",
            _answers(studies, by_study, status, scale),
            "## Every claim",
            f"Each row is one claim from the literature (the [references]({REFERENCES}) give "
            "each paper's table or figure), the paper's figure, ours, and the verdict. Ours is a "
            "mean with its 95% confidence interval (Student's t over the seeds the scale "
            "declares); diverged runs are counted, not averaged. The raw interval and raw p are "
            f"the claim's own test; Holm p is adjusted over the family of the {family} claims "
            "tested on this page (with the equivalence tests of those that declare a margin).",
            f"**The verdict rule.** {verdict.RULE}",
            markdown_table(
                [
                    "claim",
                    "paper's figure",
                    "ours: difference, claimed side > 0 [raw 95% CI]",
                    "raw p",
                    "Holm p",
                    "MDE",
                    "verdict",
                    "study",
                ],
                summary,
            ),
            *sections,
        ]
    )
    path = out_dir / PAGE
    path.write_text(page + "\n")
    return path


def log_page(page, study, parent_id):
    """Logs the page (Markdown, and HTML, which MLflow's artifact view renders)
    with `study`'s figures to the study's parent run `parent_id`, under
    `study/`, so its verdicts are read in MLflow too. A failure is reported in
    one line: the runs and the page on disk stand."""
    page = Path(page)
    try:
        with tempfile.TemporaryDirectory() as directory:
            shutil.copy(page, directory)
            for figure in page.parent.glob(f"study_{study.name}_*.png"):
                shutil.copy(figure, directory)
            html.write_html(Path(directory) / page.name)
            mlflow.MlflowClient().log_artifacts(parent_id, directory, PARENT_DIR)
    except Exception as error:  # MLflow and the file system raise many kinds
        print(
            f"The page was not logged to the parent run {parent_id} of study "
            f"{study.name}: {type(error).__name__}: {str(error)[:300]}",
            flush=True,
        )
