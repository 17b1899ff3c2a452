"""Studies: each at smoke scale end to end into a temporary store, the verdict
rule on hand-made run tables, bad input, and resuming an interrupted study."""

import math

import mlflow
import numpy as np
import pandas
import pytest
from scipy import stats

from experiments import paths
from experiments.cli import main
from experiments.studies import STUDIES, report, runner, verdict
from experiments.studies.base import Claim, Level, Scale, Study, Variant


def welch_reference(a, b):
    """Welch's 95% interval of mean(a) - mean(b), from the formula."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    df = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    half = stats.t.ppf(0.975, df) * math.sqrt(va + vb)
    difference = a.mean() - b.mean()
    return difference - half, difference + half


def test_mean_ci_is_the_t_interval_over_finite_values():
    values = [0.8, 0.82, 0.85, 0.79]
    estimate = verdict.mean_ci([*values, float("nan"), None])
    half = stats.t.ppf(0.975, 3) * np.std(values, ddof=1) / 2
    assert estimate.n == 4
    np.testing.assert_allclose([estimate.low, estimate.high],
                               [np.mean(values) - half, np.mean(values) + half])
    assert verdict.mean_ci([0.5]).n == 1 and math.isnan(verdict.mean_ci([0.5]).low)


@pytest.mark.parametrize("a, b, higher, expected", [
    ([0.90, 0.91, 0.92], [0.80, 0.82, 0.81], True, verdict.SUPPORTED),
    ([0.80, 0.82, 0.81], [0.90, 0.91, 0.92], True, verdict.CONTRADICTED),
    ([0.80, 0.90, 0.85], [0.84, 0.86, 0.88], True, verdict.INCONCLUSIVE),
    # Lower is better (an error, an MSE): the claimed side flips.
    ([0.10, 0.11, 0.12], [0.20, 0.22, 0.21], False, verdict.SUPPORTED),
    ([0.20, 0.22, 0.21], [0.10, 0.11, 0.12], False, verdict.CONTRADICTED),
    # One run on a side: no interval, no verdict.
    ([0.99], [0.10, 0.11, 0.12], True, verdict.INCONCLUSIVE),
], ids=["supported", "contradicted", "overlap", "lower-supported", "lower-contradicted",
        "one-run"])
def test_verdict_rule(a, b, higher, expected):
    outcome, difference = verdict.verdict(a, b, higher)
    assert outcome == expected
    if len(a) > 1:
        low, high = welch_reference(a, b) if higher else welch_reference(b, a)
        np.testing.assert_allclose([difference.low, difference.high], [low, high])
        assert difference.low < difference.mean < difference.high


# A study of two norms at two levels, judged on hand-made run tables.
TOY = Study(
    name="toy", title="toy", task="cnn", factor="batch size",
    variants=(Variant("batch", {"norm": "batch"}), Variant("group", {"norm": "group"})),
    scales={"small": Scale({}, (Level("2", {"batch_size": 2}), Level("32", {"batch_size": 32})),
                           seeds=3)},
    claims=(Claim("group beats batch at 2", ("group", "2"), ("batch", "2"), "test_accuracy",
                  True, "24.1 vs 34.7", "GN"),
            Claim("batch beats group at 32", ("batch", "32"), ("group", "32"),
                  "test_accuracy", True, "23.6 vs 24.1", "GN"),
            Claim("batch at 32 beats batch at 2", ("batch", "32"), ("batch", "2"),
                  "test_accuracy", True, "23.6 vs 34.7", "GN")),
    metrics=("test_accuracy",))


def test_a_study_trains_the_seeds_it_is_given():
    configs = runner.study_configs(TOY, "small", [4, 0])
    assert [c["seed"] for c in configs] == [4] * 4 + [0] * 4  # whole seeds in turn
    assert runner.sweep_grid(TOY, "small", [4, 0])["seed"] == [4, 0]


def run_table(cells):
    """Rows `(variant, level, accuracy, diverged)` as a study's labelled run table."""
    return pandas.DataFrame(
        [{"run_id": str(i), "variant": v, "level": lv, "metrics.test_accuracy": acc,
          "diverged": div} for i, (v, lv, acc, div) in enumerate(cells)])


def test_claims_are_judged_on_run_tables_with_diverged_runs_counted_not_averaged():
    runs = run_table(
        [("group", "2", acc, False) for acc in (0.80, 0.81, 0.82)]
        + [("batch", "2", acc, False) for acc in (0.60, 0.62, 0.61)]
        # A diverged run's last value is not averaged: batch at 2 stays at ~0.61.
        + [("batch", "2", 0.99, True)]
        + [("batch", "32", acc, False) for acc in (0.70, 0.71, 0.72)]
        + [("group", "32", acc, False) for acc in (0.80, 0.82, 0.81)])
    judged = {claim.text: (outcome, a, b) for claim, a, b, outcome, _ in
              report.judge(TOY, "small", runs)}
    assert judged["group beats batch at 2"][0] == verdict.SUPPORTED
    assert judged["group beats batch at 2"][2].n == 3
    np.testing.assert_allclose(judged["group beats batch at 2"][2].mean, 0.61)
    assert judged["batch beats group at 32"][0] == verdict.CONTRADICTED
    assert judged["batch at 32 beats batch at 2"][0] == verdict.SUPPORTED
    # Every run of a side diverged: nothing to compare.
    all_diverged = runs.assign(diverged=runs["variant"] == "batch")
    outcomes = [outcome for _, _, _, outcome, _ in report.judge(TOY, "small", all_diverged)]
    assert outcomes == [verdict.INCONCLUSIVE] * 3


@pytest.mark.parametrize("argv, message", [
    (["study", "bogus"], "argument name: invalid choice 'bogus' (choose from bn-lr, batch-size, "
                         "rnn, gan-d, translate, all)"),
    (["study", "rnn", "--scale", "huge"],
     "argument --scale: invalid choice 'huge' (choose from smoke, small, full)"),
    (["study", "rnn", "--seeds", "0"], "argument --seeds: must be a count N >= 1 (seeds 0..N-1) "
                                       "or a comma-separated list of seeds such as 0,4,7, got '0'"),
    (["study", "rnn", "--workers", "0"], "argument --workers: must be a positive integer, got '0'"),
])
def test_unknown_study_or_scale_is_refused_with_the_choices(argv, message, store, capsys,
                                                            runs_of):
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err
    assert runs_of("rnn") == []


@pytest.fixture
def smoke(tiny_data, tiny_feature_cache, monkeypatch):
    """Studies read the tiny Fashion-MNIST and score GANs in the tiny feature space."""
    monkeypatch.setattr(paths, "cache_dir", lambda: tiny_feature_cache)


def page_row(page, claim):
    [row] = [line for line in page.splitlines() if line.startswith(f"| {claim.text} |")]
    return row


@pytest.mark.parametrize("name, seeds, figure", [
    ("bn-lr", 1, "study_bn-lr_1x_val_accuracy.png"),
    ("rnn", 1, "study_rnn_adding_T_100_val_mse.png"),
    ("gan-d", 2, "study_gan-d_samples.png"),
    ("translate", 1, "study_translate_batch_1_val_l1.png"),
])
def test_study_at_smoke_scale_end_to_end(name, seeds, figure, smoke, store, runs_of, tmp_path,
                                         capsys):
    study = STUDIES[name]
    assert main(["study", name, "--scale", "smoke", "--seeds", str(seeds),
                 "--out", str(tmp_path), "--workers", "1"]) == 0
    spec = study.scale("smoke")
    trained = runs_of(study.task, study=name, run_kind="train")
    assert len(trained) == seeds * len(spec.levels) * len(study.variants_at("smoke"))
    assert {run.info.status for run in trained} <= {"FINISHED", "FAILED"}
    assert len(runs_of(study.task, study=name, run_kind="sweep")) == 1
    page = (tmp_path / "studies.md").read_text()
    assert "# Which normalization when" in page and verdict.RULE in page
    assert f'<a id="study-{name}"></a>' in page
    for other in set(STUDIES) - {name}:  # the page lists every study
        assert f"| every claim of {other} | - | not yet run |" in page
    verdicts = []
    for claim in study.claims:
        row = page_row(page, claim)
        assert claim.paper in row and f"(#study-{name})" in row
        verdicts.append(next(v for v in (verdict.SUPPORTED, verdict.CONTRADICTED,
                                          verdict.INCONCLUSIVE) if f"**{v}**" in row))
    ran = [c for c in study.claims
           if report.in_grid(study, "smoke", c.a) and report.in_grid(study, "smoke", c.b)]
    assert ran, "the smoke grid judges at least one claim"
    for claim in ran:
        assert f"{claim.metric}: " in page_row(page, claim)  # ours: the two means
    if seeds == 1:  # no interval with one seed
        assert all(v == verdict.INCONCLUSIVE for v in verdicts)
    else:
        assert "[" in page_row(page, ran[0])  # ours has its 95% interval
    assert (tmp_path / figure).exists()
    if name == "translate":
        stats_ = {run.data.params["eval_stats"] for run in trained}
        assert stats_ == {"moving", "batch"}


def test_an_interrupted_study_completes_only_what_is_missing(smoke, store, runs_of, tmp_path,
                                                             capsys):
    argv = ["study", "batch-size", "--scale", "smoke", "--seeds", "1", "--out", str(tmp_path),
            "--workers", "1"]
    assert main(argv) == 0
    first = runs_of("cnn", study="batch-size", run_kind="train")
    assert len(first) == 4  # batch and group at batch sizes 2 and 32
    assert (tmp_path / "study_batch-size_error_vs_batch_size.png").exists()
    # As an interrupted study leaves them: one run KILLED, one never started.
    client = mlflow.MlflowClient()
    client.set_terminated(first[1].info.run_id, "KILLED")
    client.delete_run(first[2].info.run_id)
    capsys.readouterr()
    assert main(argv) == 0
    assert "4 configurations, 2 already done, 2 to train" in capsys.readouterr().out
    again = runs_of("cnn", study="batch-size", run_kind="train")
    assert len(again) == 5  # the deleted run is gone from the search
    done = [run for run in again if run.info.status == "FINISHED"]
    keys = {(run.data.params["norm"], run.data.params["batch_size"]) for run in done}
    assert len(done) == 4 and len(keys) == 4
    # Nothing missing: nothing trained.
    assert main(argv) == 0
    assert "4 configurations, 4 already done, 0 to train" in capsys.readouterr().out
    assert len(runs_of("cnn", study="batch-size", run_kind="train")) == 5
