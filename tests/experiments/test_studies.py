"""Studies: each at smoke scale end to end into a temporary store, the verdict
rule on hand-made run tables, bad input, and resuming an interrupted study."""

import dataclasses
import importlib.metadata
import math

import keras
import mlflow
import numpy as np
import pandas
import pytest
from scipy import stats

from experiments import paths
from experiments.cli import main
from experiments.errors import TrackingError
from experiments.run_config import RunConfig
from experiments.studies import STUDIES, converge, report, runner, verdict
from experiments.studies.base import BEST, Claim, Level, Scale, Study, Variant
from experiments.tasks import TASKS


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
    np.testing.assert_allclose(
        [estimate.low, estimate.high], [np.mean(values) - half, np.mean(values) + half]
    )
    assert verdict.mean_ci([0.5]).n == 1 and math.isnan(verdict.mean_ci([0.5]).low)


@pytest.mark.parametrize(
    "a, b, higher, expected",
    [
        ([0.90, 0.91, 0.92], [0.80, 0.82, 0.81], True, verdict.SUPPORTED),
        ([0.80, 0.82, 0.81], [0.90, 0.91, 0.92], True, verdict.CONTRADICTED),
        ([0.80, 0.90, 0.85], [0.84, 0.86, 0.88], True, verdict.INCONCLUSIVE),
        # Lower is better (an error, an MSE): the claimed side flips.
        ([0.10, 0.11, 0.12], [0.20, 0.22, 0.21], False, verdict.SUPPORTED),
        ([0.20, 0.22, 0.21], [0.10, 0.11, 0.12], False, verdict.CONTRADICTED),
        # One run on a side: no interval, no verdict.
        ([0.99], [0.10, 0.11, 0.12], True, verdict.INCONCLUSIVE),
    ],
    ids=[
        "supported",
        "contradicted",
        "overlap",
        "lower-supported",
        "lower-contradicted",
        "one-run",
    ],
)
def test_verdict_rule(a, b, higher, expected):
    outcome, difference = verdict.verdict(a, b, higher)
    assert outcome == expected
    if len(a) > 1:
        low, high = welch_reference(a, b) if higher else welch_reference(b, a)
        np.testing.assert_allclose([difference.low, difference.high], [low, high])
        assert difference.low < difference.mean < difference.high


def test_welch_and_paired_p_values_are_scipys():
    a, b = [0.80, 0.82, 0.85, 0.79, 0.81], [0.78, 0.80, 0.79, 0.83, 0.77]
    _, p, se, df = verdict.welch(a, b)
    reference = stats.ttest_ind(a, b, equal_var=False)
    np.testing.assert_allclose([p, df], [reference.pvalue, reference.df])
    np.testing.assert_allclose(se, math.sqrt(np.var(a, ddof=1) / 5 + np.var(b, ddof=1) / 5))
    estimate, p, _, df = verdict.paired(dict(enumerate(a)), {**dict(enumerate(b)), 9: 0.1})
    assert df == 4 and estimate.n == 5  # seed 9 has no partner
    np.testing.assert_allclose(p, stats.ttest_rel(a, b).pvalue)
    test = verdict.continuous(None, None, pairs=(dict(enumerate(a)), dict(enumerate(b))))
    assert test.method == "paired t"
    np.testing.assert_allclose(test.p, stats.ttest_rel(a, b).pvalue)


def test_holm_on_a_known_vector():
    # Sorted: 0.005 x 4 = 0.02, 0.01 x 3 = 0.03, 0.03 x 2 = 0.06, 0.04 x 1 = 0.04 -> 0.06
    # (never below the one before it); back in the given order.
    np.testing.assert_allclose(verdict.holm([0.01, 0.04, 0.03, 0.005]), [0.03, 0.06, 0.06, 0.02])
    # Untested (NaN) p-values are not in the family; capped at 1.
    adjusted = verdict.holm([0.5, math.nan, 0.4])
    np.testing.assert_allclose(adjusted[0::2], [0.8, 0.8])
    assert math.isnan(adjusted[1])
    assert verdict.holm([0.7, 0.9]) == [1.0, 1.0]


def test_tost_is_two_one_sided_welch_tests():
    a, b, margin = [0.80, 0.82, 0.85, 0.79, 0.81], [0.78, 0.80, 0.79, 0.83, 0.77], 0.05
    estimate, _, se, df = verdict.welch(a, b)
    above = stats.ttest_ind(np.add(a, margin), b, equal_var=False, alternative="greater")
    below = stats.ttest_ind(np.subtract(a, margin), b, equal_var=False, alternative="less")
    np.testing.assert_allclose(
        verdict.tost(estimate.mean, se, df, margin), max(above.pvalue, below.pvalue)
    )
    # Lower is better: the test is symmetric in the sign of the difference.
    test = verdict.continuous(a, b, higher_is_better=False, margin=margin)
    np.testing.assert_allclose(test.p_equivalence, max(above.pvalue, below.pvalue))


def test_equivalent_needs_a_margin_and_a_narrow_interval():
    a, b = [0.800, 0.802, 0.801, 0.799, 0.800], [0.801, 0.800, 0.799, 0.802, 0.800]
    [with_margin, without] = verdict.judge_family(
        [verdict.continuous(a, b, margin=0.01), verdict.continuous(a, b)]
    )
    assert with_margin.verdict == verdict.EQUIVALENT
    assert without.verdict == verdict.INCONCLUSIVE
    # A margin below the interval's reach: no finding either way.
    [narrow] = verdict.judge_family([verdict.continuous(a, b, margin=1e-4)])
    assert narrow.verdict == verdict.INCONCLUSIVE


def test_the_verdict_comes_from_the_holm_adjusted_p():
    a, b = [0.85, 0.88, 0.86, 0.89, 0.87], [0.84, 0.86, 0.85, 0.84, 0.86]
    alone = verdict.continuous(a, b)
    assert 0.01 < alone.p < 0.05  # significant alone
    assert verdict.judge_family([alone])[0].verdict == verdict.SUPPORTED
    # In a family of three, with two nulls: 3 p > 0.05.
    nulls = [verdict.continuous([0.1, 0.2, 0.3], [0.1, 0.2, 0.3])] * 2
    judged = verdict.judge_family([alone, *nulls])
    np.testing.assert_allclose(judged[0].p_adjusted, 3 * alone.p)
    assert judged[0].verdict == verdict.INCONCLUSIVE
    assert judged[0].test.difference.low > 0  # though its raw interval is above 0


def test_a_contrast_of_two_groups_is_welch_and_of_four_the_formula():
    rng = np.random.default_rng(1)
    a, a0, b, b0 = (
        list(rng.normal(m, s, n))
        for m, s, n in [(0.8, 0.02, 5), (0.85, 0.01, 4), (0.6, 0.05, 5), (0.84, 0.02, 6)]
    )
    estimate, p, _, _ = verdict.contrast((a, b), (1, -1))
    np.testing.assert_allclose((estimate.low, estimate.high), welch_reference(a, b))
    np.testing.assert_allclose(p, stats.ttest_ind(a, b, equal_var=False).pvalue)
    # (A - A0) - (B - B0): the Welch-Satterthwaite t over four independent groups.
    groups = [np.asarray(g) for g in (a, a0, b, b0)]
    variances = [g.var(ddof=1) / len(g) for g in groups]
    se = math.sqrt(sum(variances))
    df = sum(variances) ** 2 / sum(v**2 / (len(g) - 1) for v, g in zip(variances, groups))
    mean = groups[0].mean() - groups[1].mean() - groups[2].mean() + groups[3].mean()
    test = verdict.difference_in_differences(a, a0, b, b0)
    np.testing.assert_allclose(test.difference.mean, mean)
    np.testing.assert_allclose(test.p, 2 * stats.t.sf(abs(mean) / se, df))
    half = stats.t.ppf(0.975, df) * se
    np.testing.assert_allclose(
        (test.difference.low, test.difference.high), (mean - half, mean + half)
    )
    np.testing.assert_allclose(test.mde, verdict.t_mde(se, df))
    # A shift shared by an arm and its baseline changes nothing; lower is better flips it.
    shifted = verdict.difference_in_differences([x + 0.1 for x in a], [x + 0.1 for x in a0], b, b0)
    np.testing.assert_allclose(shifted.difference.mean, mean)
    np.testing.assert_allclose(shifted.p, test.p)
    flipped = verdict.difference_in_differences(a, a0, b, b0, higher_is_better=False)
    np.testing.assert_allclose(flipped.difference.mean, -mean)
    one_run = verdict.difference_in_differences(a[:1], a0, b, b0)  # no interval from one run
    assert math.isnan(one_run.p) and math.isnan(one_run.difference.low)
    assert verdict.difference_in_differences([], a0, b, b0).difference.n == 0


def test_mde_of_the_t_test_is_where_the_noncentral_t_reaches_power_0_8():
    se, df = 0.02, 8
    mde = verdict.t_mde(se, df)
    critical = stats.t.ppf(0.975, df)
    power = stats.nct.sf(critical, df, mde / se) + stats.nct.cdf(-critical, df, mde / se)
    np.testing.assert_allclose(power, 0.8, atol=1e-6)
    # Five seeds a side: about 2 standard deviations (Cohen's d), se = sd sqrt(2/5).
    np.testing.assert_allclose(verdict.t_mde(math.sqrt(2 / 5), 8), 2.02, atol=0.01)
    # Many degrees of freedom: the normal approximation, z_0.975 + z_0.8.
    np.testing.assert_allclose(
        verdict.t_mde(1.0, 10**6), stats.norm.ppf(0.975) + stats.norm.ppf(0.8), atol=1e-3
    )


@pytest.mark.parametrize(
    "table",
    [[[5, 0], [0, 5]], [[4, 2], [1, 6]], [[3, 2], [3, 2]], [[0, 5], [2, 3]], [[7, 3], [2, 8]]],
)
def test_fisher_exact_is_scipys(table):
    (sa, fa), (sb, fb) = table
    np.testing.assert_allclose(
        verdict.fisher_exact(sa, sa + fa, sb, sb + fb), stats.fisher_exact(table).pvalue
    )


def test_binary_outcome_proportions_with_newcombe_interval():
    test = verdict.binary([True] * 5, [False] * 5)
    assert test.method == "Fisher's exact" and test.difference.mean == 1.0
    np.testing.assert_allclose(test.p, 2 / 252)  # the two most extreme of C(10, 5) tables
    # Newcombe: 1 - sqrt((1 - low_a)^2 + (high_b - 0)^2), Wilson's bounds of 5/5 and 0/5.
    z = stats.norm.ppf(0.975)
    wilson_high_0_of_5 = z * z / 5 / (1 + z * z / 5)
    np.testing.assert_allclose(
        test.difference.low, 1 - math.hypot(wilson_high_0_of_5, wilson_high_0_of_5)
    )
    # Diverging less is better: the claimed side flips.
    assert verdict.binary([False] * 5, [True] * 5, higher_is_better=False).difference.mean == 1
    # Reaching a target: untestable when no run of either side did.
    assert verdict.binary([False] * 3, [False] * 3, reaching=True).untestable
    assert not verdict.binary([False] * 3, [False] * 3).untestable  # none diverged: a tie
    assert not verdict.binary([True], [False], reaching=True).untestable  # too few to say


def test_censored_pairs_are_undetermined_unless_one_run_certainly_took_longer():
    longer = verdict._longer
    assert longer((200, True), (100, True)) == 1 and longer((100, True), (200, True)) == -1
    assert longer((300, False), (300, True)) == 1  # censored at 300: longer than reaching at 300
    assert longer((100, False), (200, True)) == 0  # budget 100 ran out before 200: unknown
    assert longer((300, False), (300, False)) == 0 and longer((50, True), (50, True)) == 0


def test_gehan_by_hand_and_against_mann_whitney():
    # A reaches the target at 10, 20, 30 steps; B at 40 and twice never within
    # the budget of 50. Every pair has A shorter: score sum -9, effect -1; of
    # the C(6, 3) = 20 splits of the pooled scores (-5, -3, -1, +1, +4, +4)
    # only A's and B's own reach |sum| 9: p = 2/20.
    a, b = [(10, True), (20, True), (30, True)], [(40, True), (50, False), (50, False)]
    effect, p = verdict.gehan(a, b)
    assert effect == -1 and p == pytest.approx(0.1)
    # Dropping the censored runs would leave B one run and no test.
    test = verdict.censored(a, b)
    assert test.difference.mean == 1 and test.p == pytest.approx(0.1)  # fewer steps: claimed
    # Without censoring it is the exact Mann-Whitney test.
    x, y = [3, 7, 8, 12, 15], [5, 9, 10, 14, 16, 20]
    effect, p = verdict.gehan([(v, True) for v in x], [(v, True) for v in y])
    reference = stats.mannwhitneyu(x, y, method="exact")
    np.testing.assert_allclose(p, reference.pvalue)
    np.testing.assert_allclose(effect, 2 * reference.statistic / 30 - 1)
    # No run reached the target: untestable.
    assert verdict.censored([(50, False)] * 3, [(50, False)] * 3).untestable


def test_gehan_normal_approximation_past_the_exact_limit(monkeypatch):
    monkeypatch.setattr(verdict, "EXACT_LIMIT", 1)
    x, y = [3, 7, 8, 12, 15], [5, 9, 10, 14, 16, 20]
    _, p = verdict.gehan([(v, True) for v in x], [(v, True) for v in y])
    # Without ties Mantel's variance is the rank-sum test's.
    np.testing.assert_allclose(
        p, stats.mannwhitneyu(x, y, method="asymptotic", use_continuity=False).pvalue
    )


def test_mde_of_proportions_and_ranks_by_their_normal_approximations():
    z = stats.norm.ppf(0.975) + stats.norm.ppf(0.8)
    # A difference of rates at a 50% rate, 5 runs a side: z sqrt(0.25 (1/5 + 1/5)).
    np.testing.assert_allclose(verdict.binary([True] * 5, [False] * 5).mde, z * math.sqrt(0.1))
    # Noether: P(longer) - 1/2 = z / sqrt(12 c (1 - c) N); the pair score is twice it.
    np.testing.assert_allclose(verdict.rank_mde(5, 5), 2 * z / math.sqrt(30))
    assert verdict.rank_mde(5, 5) > 1 > verdict.rank_mde(20, 20)


def test_beats_floor_needs_the_whole_interval_on_the_better_side():
    assert verdict.beats_floor([0.30, 0.32, 0.31], 0.1, True)
    assert not verdict.beats_floor([0.09, 0.12, 0.11], 0.1, True)
    # A floor per run (the mean predictor of each run's data), lower is better.
    assert verdict.beats_floor([0.10, 0.11], [0.17, 0.18], False)
    assert not verdict.beats_floor([0.170, 0.171, 0.169], [0.170, 0.170, 0.170], False)


# A study of two norms at two levels, judged on hand-made run tables.
TOY = Study(
    name="toy",
    title="toy",
    task="cnn",
    factor="batch size",
    variants=(Variant("batch", {"norm": "batch"}), Variant("group", {"norm": "group"})),
    scales={
        "small": Scale(
            {}, (Level("2", {"batch_size": 2}), Level("32", {"batch_size": 32})), seeds=3
        )
    },
    claims=(
        Claim(
            "group beats batch at 2",
            ("group", "2"),
            ("batch", "2"),
            "test_accuracy",
            True,
            "24.1 vs 34.7",
            "GN",
        ),
        Claim(
            "batch beats group at 32",
            ("batch", "32"),
            ("group", "32"),
            "test_accuracy",
            True,
            "23.6 vs 24.1",
            "GN",
        ),
        Claim(
            "batch at 32 beats batch at 2",
            ("batch", "32"),
            ("batch", "2"),
            "test_accuracy",
            True,
            "23.6 vs 34.7",
            "GN",
        ),
    ),
    metrics=("test_accuracy",),
    question="Which norm at small batch sizes?",
)


def test_a_study_trains_the_seeds_it_is_given():
    configs = runner.study_configs(TOY, "small", [4, 0])
    assert [c["seed"] for c in configs] == [4] * 4 + [0] * 4  # whole seeds in turn
    assert runner.sweep_grid(TOY, "small", [4, 0])["seed"] == [4, 0]


def test_a_run_logged_before_an_option_existed_reads_as_its_default():
    [config] = [c for c in runner.study_configs(TOY, "small", [0]) if c["norm"] == "batch"][:1]
    logged = {f"params.{name}": text for name, text in config.params().items()}
    old = pandas.Series(logged).drop("params.architecture")  # logged before --architecture
    newer = pandas.Series({**logged, "params.architecture": "mlp"})
    runs = pandas.DataFrame([old, newer])  # pandas reads old's architecture as NaN
    assert runner.completed([config], runs) == [config]
    assert runner.completed([config], runs.iloc[1:]) == []


def test_the_statistics_batch_keeps_steps_and_learning_rate_equal_across_levels():
    study = STUDIES["batch-size"]
    configs = runner.study_configs(study, "small", [0])
    steps = {
        (c["batch_size"], c["epochs"], c["train_size"], c["lr"], c["lr_schedule"]) for c in configs
    }
    assert len(steps) == 1  # one SGD batch, one step count, one learning rate
    cells = {(c["norm"], c["stats_batch"]) for c in configs}
    assert cells == {("batch", size) for size in (2, 4, 8, 16, None)} | {
        (norm, None) for norm in ("group", "layer", "instance", "weight")
    }
    assert len(configs) == len(cells)  # a norm the factor leaves unchanged runs once


# A study that puts another's claims again at another grid of rates: (its
# name, the other's, its rates at small and smoke scale, the note its claims
# carry). Their runs take their parents' code paths, which the smoke studies
# below run end to end; these are checked as declarations.


def test_a_study_names_the_backends_its_runs_logged():
    runs = pandas.DataFrame(
        {
            "params.keras_backend": ["jax", "tensorflow", float("nan"), "jax"],
            "params.keras_backend_version": ["0.10.2", "2.21.0", float("nan"), "0.10.2"],
        }
    )
    assert report._trained_on(runs) == "; trained on jax 0.10.2, tensorflow 2.21.0"
    # Runs from before backends were logged: nothing to say.
    assert report._trained_on(runs.iloc[2:3]) == ""
    assert report._trained_on(pandas.DataFrame({"params.seed": [0]})) == ""


def test_a_study_refuses_a_store_holding_its_runs_from_another_backend():
    runs = pandas.DataFrame({"params.keras_backend": ["tensorflow", float("nan")]})
    runner.same_backend("rnn", runs, "tensorflow")
    runner.same_backend("rnn", pandas.DataFrame(), "jax")  # nothing run yet
    with pytest.raises(
        TrackingError,
        match="study rnn: its runs in this store were trained on tensorflow, and this "
        "command runs jax",
    ):
        runner.same_backend("rnn", runs, "jax")
    # Runs from before backends were logged ran on TensorFlow.
    with pytest.raises(TrackingError, match="trained on tensorflow, and this command runs torch"):
        runner.same_backend("rnn", pandas.DataFrame({"params.seed": ["0"]}), "torch")


def test_converge_steps_puts_converge_cnn_steps_claims_at_ten_seeds():
    original, steps = STUDIES["converge"], STUDIES["converge-steps"]
    on_cnn = [c for c in original.claims if c.sides[0][1] == converge.CNN]
    assert [c.outcome for c in on_cnn] == ["censored"] * 3
    assert [c.text for c in steps.claims] == [
        c.noted("10 seeds, rates 0.1 and 0.3").text for c in on_cnn
    ]
    small = steps.scale("small")
    assert (small.seeds, small.lrs, [level.label for level in small.levels]) == (
        10,
        (0.1, 0.3),
        [converge.CNN],
    )
    # The CNN's budget and data as in `converge` (and `converge-wide`).
    [cnn] = [level for level in original.scale("small").levels if level.label == converge.CNN]
    assert small.levels == (cnn,) and small.settings == original.scale("small").settings


def test_converge_mlp_steps_puts_converge_mlp_claims_at_ten_seeds_and_higher_rates():
    original, steps = STUDIES["converge"], STUDIES["converge-mlp-steps"]
    on_mlp = [c for c in original.claims if c.sides[0][1] == converge.MLP]
    assert [c.outcome for c in on_mlp][:3] == ["censored"] * 3
    assert [c.text for c in steps.claims] == [
        c.noted("10 seeds, rates 0.1 to 3").text for c in on_mlp
    ]
    small = steps.scale("small")
    assert (small.seeds, small.lrs, [level.label for level in small.levels]) == (
        10,
        (0.1, 0.3, 1.0, 3.0),
        [converge.MLP],
    )
    # The sigmoid network's budget and data as in `converge` (and `converge-wide`).
    [mlp] = [level for level in original.scale("small").levels if level.label == converge.MLP]
    assert small.levels == (mlp,) and small.settings == original.scale("small").settings


REGRIDDED = [
    ("overfit-wide", "overfit", (3e-3, 1e-2, 3e-2), (3e-3,), "rates up to 3e-2"),
    ("overfit-higher", "overfit", (1e-2, 3e-2, 1e-1), (1e-2,), "rates 1e-2 to 1e-1"),
    ("converge-wide", "converge", (0.1, 0.3, 1.0), (0.1,), "rates up to 1"),
    ("translate-wide", "translate", (1e-3, 3e-3, 1e-2), (1e-3, 3e-3), "rates up to 1e-2"),
    ("rnn-speed-wide", "rnn-speed", (1e-2, 3e-2), (1e-2,), "rates 1e-2 and 3e-2"),
    ("rnn-speed-higher", "rnn-speed", (3e-2, 1e-1), (3e-2,), "rates 3e-2 and 1e-1"),
    ("rnn-images-steps-wide", "rnn-images-steps", (1e-2, 3e-2), (1e-2,), "rates 1e-2 and 3e-2"),
    (
        "rnn-images-steps-higher",
        "rnn-images-steps",
        (1e-2, 3e-2, 1e-1),
        (1e-2,),
        "rates 1e-2 to 1e-1",
    ),
]


@pytest.mark.parametrize("name, parent, rates, smoke_rates, note", REGRIDDED)
def test_a_study_at_other_rates_changes_the_grid_and_nothing_else(
    name, parent, rates, smoke_rates, note
):
    original, wide = STUDIES[parent], STUDIES[name]
    assert len(wide.claims) == len(original.claims)
    for claim, theirs in zip(wide.claims, original.claims):
        # The same claim, told apart by its grid on a page holding both.
        assert claim.text.endswith(f"{note})") and claim.text != theirs.text
        assert dataclasses.replace(claim, text=theirs.text) == theirs
    assert (wide.scale("small").lrs, wide.scale("smoke").lrs) == (rates, smoke_rates)
    for scale in original.scales:
        kept = dataclasses.replace(wide.scale(scale), lrs=original.scale(scale).lrs)
        assert kept == original.scale(scale)  # settings, levels, seeds and variants
    for field in ("task", "factor", "variants", "metrics", "question", "tune_metric"):
        assert getattr(wide, field) == getattr(original, field)
    assert wide.notes != original.notes


def test_bn_lr_sweeps_every_norm_over_every_rate():
    study = STUDIES["bn-lr"]
    configs = runner.study_configs(study, "small", [0])
    cells = {(c["norm"], c["activation"], c["shortcuts"], c["depth"], c["lr"]) for c in configs}
    rates = [0.01, 0.05, 0.3, 1.0]
    expected = {
        (norm, "relu", True, 1, rate)
        for norm in ("none", "batch", "weight_meanbn")
        for rate in rates
    } | {(norm, "sigmoid", False, 3, rate) for norm in ("none", "batch") for rate in rates}
    assert {cell[:4] + (round(cell[4], 6),) for cell in cells} == expected
    assert len(configs) == len(expected)


def test_the_group_norm_protocol_scales_the_learning_rate_with_the_batch():
    configs = runner.study_configs(STUDIES["batch-size-gn"], "small", [0])
    assert {(c["batch_size"], c["lr"], c["epochs"]) for c in configs} == {
        (2, 0.025 / 16, 4),
        (32, 0.025, 4),
    }
    full = runner.study_configs(STUDIES["batch-size-gn"], "full", [0])
    assert {(c["batch_size"], c["lr"]) for c in full} == {
        (size, 0.025 * size / 32) for size in (2, 4, 8, 16, 32)
    }


def run_table(cells):
    """Rows `(variant, level, accuracy, diverged)` as a study's labelled run
    table, seeds 0, 1, ... within each cell, 2 epochs of 4 steps each."""
    seeds = {}
    rows = []
    for i, (v, lv, acc, div) in enumerate(cells):
        seed = seeds[v, lv] = seeds.get((v, lv), -1) + 1
        rows.append(
            {
                "run_id": str(i),
                "variant": v,
                "level": lv,
                "metrics.test_accuracy": acc,
                "diverged": div,
                "params.seed": seed,
                "params.epochs": 2,
                "params.train_size": 8,
                "params.batch_size": 2,
            }
        )
    return pandas.DataFrame(rows)


def judged(study, runs, history=None):
    return {j.claim.text: j for j in report.judge_all(report.judge(study, "small", runs, history))}


def test_claims_are_judged_on_run_tables_with_diverged_runs_counted_not_averaged():
    runs = run_table(
        [("group", "2", acc, False) for acc in (0.80, 0.81, 0.82)]
        + [("batch", "2", acc, False) for acc in (0.60, 0.62, 0.61)]
        # A diverged run's last value is not averaged: batch at 2 stays at ~0.61.
        + [("batch", "2", 0.99, True)]
        + [("batch", "32", acc, False) for acc in (0.70, 0.71, 0.72)]
        + [("group", "32", acc, False) for acc in (0.80, 0.82, 0.81)]
    )
    result = judged(TOY, runs)
    group_2 = result["group beats batch at 2"]
    assert group_2.verdict == verdict.SUPPORTED
    assert group_2.result.test.difference.n == 3
    np.testing.assert_allclose(group_2.result.test.difference.mean, 0.81 - 0.61)
    assert group_2.b.startswith("0.61 [")
    assert result["batch beats group at 32"].verdict == verdict.CONTRADICTED
    assert result["batch at 32 beats batch at 2"].verdict == verdict.SUPPORTED
    # One family: Holm's adjustment over the three claims.
    raw = [result[c.text].result.test.p for c in TOY.claims]
    np.testing.assert_allclose(
        [result[c.text].result.p_adjusted for c in TOY.claims], verdict.holm(raw)
    )
    # Every run of a side diverged: nothing to compare.
    all_diverged = runs.assign(diverged=runs["variant"] == "batch")
    assert {j.verdict for j in judged(TOY, all_diverged).values()} == {verdict.INCONCLUSIVE}


def test_a_difference_in_differences_claim_on_run_tables():
    loses_less = Claim(
        "group loses less than batch from 32 to 2",
        ("group", "2"),
        ("batch", "2"),
        "test_accuracy",
        True,
        "GN flat, BN -11 points",
        "GN",
        floor=0.1,
        baselines=(("group", "32"), ("batch", "32")),
    )
    study = dataclasses.replace(TOY, claims=(loses_less,))
    cells = {
        ("group", "2"): (0.80, 0.81, 0.79),
        ("group", "32"): (0.81, 0.82, 0.80),
        ("batch", "2"): (0.60, 0.62, 0.61),
        ("batch", "32"): (0.83, 0.84, 0.82),
    }
    runs = run_table([(v, lv, acc, False) for (v, lv), accs in cells.items() for acc in accs])
    result = judged(study, runs)[loses_less.text]
    assert result.verdict == verdict.SUPPORTED
    np.testing.assert_allclose(result.result.test.difference.mean, (0.80 - 0.81) - (0.61 - 0.83))
    assert result.a.startswith("-0.01 [") and result.b.startswith("-0.22 [")
    assert report._claim_name(loses_less) == "group @ 32→2 vs batch @ 32→2"
    # A side outside the grid leaves it unjudged; every arm at chance: untestable.
    missing = runs[~((runs["variant"] == "batch") & (runs["level"] == "32"))]
    assert judged(study, missing)[loses_less.text].verdict == verdict.INCONCLUSIVE
    at_chance = runs.assign(**{"metrics.test_accuracy": [0.1, 0.09, 0.11] * 4})
    assert judged(study, at_chance)[loses_less.text].verdict == verdict.UNTESTABLE


def test_a_level_chosen_on_validation_per_norm():
    best_vs_best = Claim(
        "group at its best beats batch at its best",
        ("group", BEST),
        ("batch", BEST),
        "test_accuracy",
        True,
        "-",
        "-",
    )
    sooner = Claim(
        "group at 32 reaches batch's best validation accuracy sooner than batch at its best",
        ("group", "32"),
        ("batch", BEST),
        "val_accuracy",
        True,
        "-",
        "-",
        outcome="censored",
        target=("batch", BEST),
    )
    study = dataclasses.replace(TOY, claims=(best_vs_best, sooner), tune_metric="val_accuracy")
    rows = [
        # group: best on validation at 2, although its test accuracy is higher at 32.
        ("group", "2", 0.80, 0.90, False),
        ("group", "2", 0.82, 0.92, False),
        ("group", "32", 0.85, 0.80, False),
        ("group", "32", 0.86, 0.81, False),
        # batch: better at 32 on validation, but one run there diverged: 2 is its best.
        ("batch", "2", 0.60, 0.70, False),
        ("batch", "2", 0.62, 0.72, False),
        ("batch", "32", 0.90, 0.95, False),
        ("batch", "32", 0.10, 0.10, True),
    ]
    runs = run_table([(v, lv, acc, div) for v, lv, acc, _, div in rows])
    runs["metrics.val_accuracy"] = [val for *_, val, _ in rows]
    assert report.tuned_levels(study, runs) == {"group": "2", "batch": "2"}
    curves = {str(i): {1: 0.5, 2: 0.71 if i in (2, 3) else 0.6} for i in range(8)}
    result = judged(study, runs, lambda run_id, metric: curves[run_id])
    best = result[best_vs_best.text]
    np.testing.assert_allclose(best.result.test.difference.mean, 0.81 - 0.61)
    assert best.a.startswith("2: 0.81 [") and best.b.startswith("2: 0.61 [")
    # The target is batch's mean final validation accuracy at its best level: 0.71.
    steps = result[sooner.text]
    assert steps.claim.target == pytest.approx(0.71)
    assert steps.a == "median 8 steps, 2/2 reached"
    assert steps.b.startswith("2: median > 8 steps (budget), 0/2 reached")
    assert report.in_grid(study, "small", ("group", BEST))
    assert not report.in_grid(
        dataclasses.replace(study, tune_metric=None), "small", ("group", BEST)
    )


def test_each_cell_is_read_at_the_rate_chosen_on_validation():
    grid = dataclasses.replace(
        TOY,
        scales={"small": dataclasses.replace(TOY.scales["small"], lrs=(0.01, 0.1))},
        tune_metric="val_loss",
        tune_higher_is_better=False,
    )
    configs = runner.study_configs(grid, "small", [0])
    assert sorted({(c["norm"], c["batch_size"], c["lr"]) for c in configs}) == sorted(
        (norm, size, lr) for norm in ("batch", "group") for size in (2, 32) for lr in (0.01, 0.1)
    )
    assert runner.sweep_grid(grid, "small", [0])["lr"] == [0.01, 0.1]
    rows = [
        # group at 2: 0.1 has the lower validation loss, though 0.01 tests better.
        ("group", "2", 0.01, 0.90, 0.50, False),
        ("group", "2", 0.01, 0.92, 0.52, False),
        ("group", "2", 0.1, 0.80, 0.30, False),
        ("group", "2", 0.1, 0.81, 0.31, False),
        # batch at 2: 0.1 is lower still, but one of its runs diverged.
        ("batch", "2", 0.01, 0.70, 0.60, False),
        ("batch", "2", 0.01, 0.72, 0.62, False),
        ("batch", "2", 0.1, 0.95, 0.10, False),
        ("batch", "2", 0.1, 0.10, float("nan"), True),
        # batch at 32: every rate has a diverged run, so no rate is chosen.
        ("batch", "32", 0.01, 0.10, float("nan"), True),
        ("batch", "32", 0.1, 0.10, float("nan"), True),
    ]
    runs = run_table([(v, lv, acc, div) for v, lv, _, acc, _, div in rows])
    runs["params.lr"] = [lr for _, _, lr, *_ in rows]
    runs["metrics.val_loss"] = [loss for *_, loss, _ in rows]
    chosen, rates = report.at_tuned_rates(grid, "small", runs)
    assert rates == {("group", "2"): 0.1, ("batch", "2"): 0.01, ("batch", "32"): None}
    assert list(chosen["run_id"]) == ["2", "3", "4", "5"]
    result = judged(grid, chosen)
    np.testing.assert_allclose(
        result["group beats batch at 2"].result.test.difference.mean, 0.805 - 0.71
    )
    text = report._rates_text(grid, "small", runs, chosen, rates)
    assert "grid 0.01, 0.1" in text and "lowest mean final `val_loss`" in text
    assert "| 2 | 0.01 | 0.1 |" in text and "| 32 | - | - |" in text
    assert text.endswith(
        "2 of 3 cells chose a rate at the grid's edge, the smallest (0.01): batch at 2; "
        "the largest (0.1): group at 2: the grid does not bracket their best rate, which "
        "may lie beyond it (a wider grid is a new study)."
    )
    inside = {("group", "2"): 0.03, ("batch", "2"): None}
    assert report._grid_edges_text((0.01, 0.03, 0.1), inside).endswith(
        "Every cell's rate lies inside the grid."
    )
    assert report._grid_edges_text((0.1,), rates) == ""  # one rate: no grid to bracket
    # Without a grid, every run is read.
    every, none = report.at_tuned_rates(TOY, "small", runs)
    assert every is runs and none == {}
    with pytest.raises(ValueError, match="needs a tune_metric"):
        dataclasses.replace(grid, tune_metric=None)
    with pytest.raises(ValueError, match="sets lr in its settings or levels too"):
        dataclasses.replace(
            grid,
            scales={"small": dataclasses.replace(grid.scales["small"], settings={"lr": 0.1})},
        )


def test_a_claim_whose_arms_never_beat_the_floor_is_untestable():
    floored = dataclasses.replace(
        TOY,
        claims=(
            dataclasses.replace(TOY.claims[0], floor=0.1),
            dataclasses.replace(TOY.claims[1], floor=0.1),
        ),
    )
    runs = run_table(
        # Both at chance (10 classes): no arm beats the floor, whatever the difference.
        [("group", "2", acc, False) for acc in (0.100, 0.105, 0.110)]
        + [("batch", "2", acc, False) for acc in (0.090, 0.092, 0.091)]
        + [("batch", "32", acc, False) for acc in (0.70, 0.71, 0.72)]
        + [("group", "32", acc, False) for acc in (0.10, 0.11, 0.09)]
    )
    result = judged(floored, runs)
    assert result["group beats batch at 2"].verdict == verdict.UNTESTABLE
    assert math.isnan(result["group beats batch at 2"].result.p_adjusted)  # not in the family
    assert result["batch beats group at 32"].verdict == verdict.SUPPORTED  # one arm beats it


def test_paired_binary_and_censored_claims_on_run_tables():
    claims = (
        Claim(
            "paired", ("group", "2"), ("batch", "2"), "test_accuracy", True, "-", "-", paired=True
        ),
        # Two scores of the same runs, compared run by run.
        Claim(
            "rescored",
            ("group", "2"),
            ("group", "2"),
            "test_accuracy_rescored",
            True,
            "-",
            "-",
            paired=True,
            b_metric="test_accuracy",
        ),
        Claim(
            "reaches 0.75",
            ("group", "2"),
            ("batch", "2"),
            "test_accuracy",
            True,
            "-",
            "-",
            outcome="binary",
            target=0.75,
        ),
        Claim(
            "diverges less",
            ("group", "2"),
            ("batch", "2"),
            "diverged",
            False,
            "-",
            "-",
            outcome="binary",
        ),
        Claim(
            "fewer steps to 0.5",
            ("group", "2"),
            ("batch", "2"),
            "val_accuracy",
            True,
            "-",
            "-",
            outcome="censored",
            target=0.5,
        ),
        # An error under a target: reaching it is still the better outcome.
        Claim(
            "error under 0.25",
            ("group", "2"),
            ("batch", "2"),
            "test_error",
            False,
            "-",
            "-",
            outcome="binary",
            target=0.25,
        ),
        Claim(
            "error under 0.01",
            ("group", "2"),
            ("batch", "2"),
            "test_error",
            False,
            "-",
            "-",
            outcome="binary",
            target=0.01,
        ),
    )
    study = dataclasses.replace(TOY, claims=claims)
    runs = run_table(
        [("group", "2", acc, False) for acc in (0.80, 0.71, 0.90, 0.78)]
        + [
            ("batch", "2", acc, div)
            for acc, div in ((0.70, False), (0.62, False), (0.79, False), (0.99, True))
        ]
    )
    runs["metrics.test_error"] = 1 - runs["metrics.test_accuracy"]
    runs["metrics.test_accuracy_rescored"] = runs["metrics.test_accuracy"] + [
        0.01,
        0.03,
        0.02,
        0.02,
        *[math.nan] * 4,
    ]
    # Validation accuracy per epoch: group reaches 0.5 at epoch 1 (4 steps)
    # but run 1 never does; batch at epoch 2 (8 steps) but runs 5 and 7 never.
    curves = {
        "0": {1: 0.6, 2: 0.7},
        "1": {1: 0.3, 2: 0.4},
        "2": {1: 0.55, 2: 0.8},
        "3": {1: 0.5, 2: 0.6},
        "4": {1: 0.4, 2: 0.6},
        "5": {1: 0.3, 2: 0.45},
        "6": {1: 0.2, 2: 0.5},
        "7": {1: 0.7, 2: 0.9},
    }
    result = judged(study, runs, lambda run_id, metric: curves[run_id])
    pairs = result["paired"].result.test
    # Seed 3's partner diverged: three pairs.
    assert pairs.method == "paired t" and pairs.difference.n == 3
    np.testing.assert_allclose(
        pairs.p, stats.ttest_rel([0.80, 0.71, 0.90], [0.70, 0.62, 0.79]).pvalue
    )
    rescored = result["rescored"]
    assert rescored.result.test.method == "paired t" and rescored.result.test.difference.n == 4
    np.testing.assert_allclose(rescored.result.test.difference.mean, 0.02)
    np.testing.assert_allclose(
        rescored.result.test.p,
        stats.ttest_rel([0.81, 0.74, 0.92, 0.80], [0.80, 0.71, 0.90, 0.78]).pvalue,
    )
    assert report._claim_name(claims[1]) == "group @ 2: test_accuracy_rescored vs test_accuracy"
    reach = result["reaches 0.75"]
    assert (reach.a, reach.b) == ("3/4", "1/4")  # the diverged 0.99 does not count
    np.testing.assert_allclose(reach.result.test.p, stats.fisher_exact([[3, 1], [1, 3]]).pvalue)
    assert result["diverges less"].result.test.difference.mean == 0.25
    under = result["error under 0.25"]
    assert (under.a, under.b) == ("3/4", "1/4")
    np.testing.assert_allclose(under.result.test.difference.mean, 0.5)  # A more often: claimed
    assert result["error under 0.01"].verdict == verdict.UNTESTABLE
    steps = result["fewer steps to 0.5"]
    # group (4, 8 censored, 4, 4) vs batch (8, 8 censored, 8, 8 censored: diverged).
    assert steps.a == "median 4 steps, 3/4 reached"
    assert steps.b == "median > 8 steps (budget), 2/4 reached"
    effect, p = verdict.gehan(
        [(4, True), (8, False), (4, True), (4, True)],
        [(8, True), (8, False), (8, True), (8, False)],
    )
    assert steps.result.test.difference.mean == -effect > 0 and steps.result.test.p == p


def test_the_page_reads_only_the_seeds_the_scale_declares(monkeypatch):
    configs = [
        RunConfig.from_params(TASKS["cnn"], {"norm": norm, "batch_size": str(size), "seed": "0"})
        for norm in ("batch", "group")
        for size in (2, 32)
    ]
    runs = pandas.DataFrame(
        [
            {
                "run_id": f"{norm}{size}-{seed}",
                "params.norm": norm,
                "params.batch_size": str(size),
                "params.seed": str(seed),
                "metrics.test_accuracy": 0.5,
            }
            for norm in ("batch", "group")
            for size in (2, 32)
            for seed in range(5)
        ]
    )
    monkeypatch.setattr(report.mlflow, "get_experiment_by_name", lambda name: object())
    monkeypatch.setattr(report, "reported_runs", lambda name, study: runs)
    monkeypatch.setattr(report.runner, "study_configs", lambda study, scale, seeds: configs)
    read = report.study_runs(TOY, "small")  # TOY declares 3 seeds
    assert sorted(read["params.seed"].unique()) == [0, 1, 2] and len(read) == 12
    assert [c["batch_size"] for c in read["config"]] == list(read["params.batch_size"])
    assert set(zip(read["variant"], read["level"])) == {
        (v, lv) for v in ("batch", "group") for lv in ("2", "32")
    }


def test_an_interrupted_study_is_not_judged_until_every_run_is_in(monkeypatch, tmp_path):
    configs = runner.study_configs(TOY, "small", [0, 1, 2])  # 4 cells x 3 seeds
    rows = [
        {
            "run_id": str(i),
            **{f"params.{name}": str(value) for name, value in config.items()},
            "metrics.test_accuracy": 0.5,
            "diverged": False,
        }
        for i, config in enumerate(configs[:5])
    ]
    partial = pandas.DataFrame(rows)
    partial["variant"] = partial["params.norm"]
    partial["level"] = partial["params.batch_size"]
    partial["config"] = configs[:5]
    assert report.missing_runs(TOY, "small", partial) == 7
    monkeypatch.setattr(report, "study_runs", lambda study, scale: partial)
    page = report.write_page({"toy": TOY}, "small", tmp_path, "study").read_text()
    assert "Incomplete at this scale: 5 of 12 runs" in page
    assert "| every claim of toy | incomplete: 5 of 12 runs | - |" in page
    assert not any(f"| {claim.text} |" in page for claim in TOY.claims)
    whole = pandas.concat([partial] * 3)  # duplicates of the same five complete nothing
    assert report.missing_runs(TOY, "small", whole) == 7


def test_a_claim_declares_its_test_consistently():
    with pytest.raises(ValueError, match="outcome must be one of"):
        Claim("x", ("a", "1"), ("b", "1"), "m", True, "-", "-", outcome="bimodal")
    with pytest.raises(ValueError, match="needs a target"):
        Claim("x", ("a", "1"), ("b", "1"), "m", True, "-", "-", outcome="censored")
    with pytest.raises(ValueError, match="equivalence_margin must be > 0"):
        Claim("x", ("a", "1"), ("b", "1"), "m", True, "-", "-", equivalence_margin=0)
    with pytest.raises(ValueError, match="b_metric scores the same runs twice"):
        Claim("x", ("a", "1"), ("a", "1"), "m", True, "-", "-", b_metric="n")
    with pytest.raises(ValueError, match="baselines must be two sides"):
        Claim("x", ("a", "1"), ("b", "1"), "m", True, "-", "-", baselines=(("a", "2"),))
    with pytest.raises(ValueError, match="only a continuous outcome is paired"):
        Claim(
            "x",
            ("a", "1"),
            ("b", "1"),
            "m",
            True,
            "-",
            "-",
            outcome="binary",
            target=1,
            paired=True,
        )


@pytest.mark.parametrize(
    "argv, message",
    [
        (
            ["study", "bogus"],
            f"argument name: invalid choice 'bogus' (choose from {', '.join(STUDIES)}, all)",
        ),
        (
            ["study", "rnn", "--scale", "huge"],
            "argument --scale: invalid choice 'huge' (choose from smoke, small, full)",
        ),
        (
            ["study", "rnn", "--seeds", "0"],
            "argument --seeds: must be a count N >= 1 (seeds 0..N-1) "
            "or a comma-separated list of seeds such as 0,4,7, got '0'",
        ),
        (
            ["study", "rnn", "--scale", "small", "--seeds", "8"],
            "argument --seeds: study rnn declares seeds 0..4 at scale small, got 0..7; seeds are "
            "fixed before any run, so other seeds are a new scale or study, with its own tag",
        ),
        (
            ["study", "rnn", "--scale", "small", "--seeds", "0,4,7"],
            "argument --seeds: study rnn declares seeds 0..4 at scale small, got 0,4,7",
        ),
        (
            ["study", "all", "--scale", "smoke", "--seeds", "2"],
            "argument --seeds: study bn-lr declares seeds 0 at scale smoke, got 0..1",
        ),
        (
            ["study", "rnn", "--workers", "0"],
            "argument --workers: must be a positive integer, got '0'",
        ),
    ],
)
def test_unknown_study_or_scale_is_refused_with_the_choices(argv, message, store, capsys, runs_of):
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
    """The claim's row in the page's table of every claim."""
    every_claim = page.split("## Every claim")[1]
    [row] = [line for line in every_claim.splitlines() if line.startswith(f"| {claim.text} |")]
    return row


@pytest.mark.parametrize(
    "name, seeds, figure",
    [
        ("bn-lr", 1, "study_bn-lr_1x_val_accuracy.png"),
        ("batch-size-gn", 1, "study_batch-size-gn_error_vs_batch_size.png"),
        ("rnn", 1, "study_rnn_adding_T_100_val_mse.png"),
        ("rnn-images", 1, "study_rnn-images_permuted_images_val_accuracy.png"),
        ("rnn-images-steps", 1, "study_rnn-images-steps_permuted_images_val_accuracy.png"),
        ("rnn-speed", 1, "study_rnn-speed_adding_T_100_val_mse.png"),
        ("gan-d", 2, "study_gan-d_samples.png"),
        ("gan-g", 1, "study_gan-g_samples.png"),
        ("translate", 1, "study_translate_batch_1_val_l1.png"),
        ("converge", 1, "study_converge_mlp_3x100_sigmoid_val_accuracy.png"),
        ("converge-steps", 1, "study_converge-steps_cnn_residual_relu_val_accuracy.png"),
        ("overfit", 1, "study_overfit_no_dropout_val_accuracy.png"),
        ("depth", 1, "study_depth_gradients.png"),
        ("depth-residual", 1, "study_depth-residual_gradients.png"),
        ("online", 1, "study_online_batch_1_prequential_accuracy.png"),
        ("online-renorm", 1, "study_online-renorm_batch_1_prequential_accuracy.png"),
        ("rl", 1, "study_rl_CartPole_v1_eval_return.png"),
        ("style", 1, "study_style_batch_8_val_style_loss.png"),
        ("style-shift", 1, "study_style-shift_batch_8_val_style_loss.png"),
        ("style-long", 1, "study_style-long_batch_8_val_style_loss.png"),
        ("text", 1, "study_text_sentiment_8_64_tokens_val_accuracy.png"),
    ],
)
def test_study_at_smoke_scale_end_to_end(
    name, seeds, figure, smoke, store, runs_of, tmp_path, capsys
):
    study = STUDIES[name]
    assert (
        main(
            [
                "study",
                name,
                "--scale",
                "smoke",
                "--seeds",
                str(seeds),
                "--out",
                str(tmp_path),
                "--workers",
                "1",
            ]
        )
        == 0
    )
    spec = study.scale("smoke")
    trained = runs_of(study.task, study=name, run_kind="train")
    assert len(trained) == seeds * len(spec.lrs or [None]) * sum(
        len(study.variants_at("smoke", level)) for level in spec.levels
    )
    assert {run.info.status for run in trained} <= {"FINISHED", "FAILED"}
    [parent] = runs_of(study.task, study=name, run_kind="sweep")
    # The page and the study's figures are read in MLflow too, on its parent run.
    logged = {a.path for a in mlflow.MlflowClient().list_artifacts(parent.info.run_id, "study")}
    assert {"study/studies.md", "study/studies.html", f"study/{figure}"} <= logged
    assert not any(path.startswith("study/study_") and name not in path for path in logged)
    # The page copies the figures out of the store without a progress bar per file.
    assert "Downloading artifacts" not in capsys.readouterr().err
    page = (tmp_path / "studies.md").read_text()
    assert "# Which normalization when" in page and verdict.RULE in page
    assert f'<a id="study-{name}"></a>' in page
    # Each study says which backend its runs trained on.
    backend = keras.config.backend()
    assert f"; trained on {backend} {importlib.metadata.version(backend)}." in page
    for other in set(STUDIES) - {name}:  # the page lists every study
        assert f"| every claim of {other} | - | not yet run |" in page
    # It opens with the answers by the question users bring, each claim's verdict.
    answers, _ = page.split("## Every claim")
    assert "## The answers, by question" in answers and f"### {study.question}" in answers
    for claim in study.claims:
        assert f"| {claim.text} | **" in answers
    verdicts = []
    for claim in study.claims:
        row = page_row(page, claim)
        assert claim.paper in row and f"(#study-{name})" in row
        verdicts.append(next(v for v in verdict.VERDICTS if f"**{v}**" in row))
    ran = [c for c in study.claims if all(report.in_grid(study, "smoke", s) for s in c.sides)]
    assert ran, "the smoke grid judges at least one claim"
    for claim in ran:
        scores = claim.metric + (f" vs {claim.b_metric}" if claim.b_metric else "")
        assert f"{scores}: " in page_row(page, claim)  # ours: the two means
    if seeds == 1:  # no interval with one seed
        assert all(v == verdict.INCONCLUSIVE for v in verdicts)
    else:
        assert "[" in page_row(page, ran[0])  # ours has its 95% interval
    assert (tmp_path / figure).exists()
    if name == "translate":  # batch norm scored both ways, instance norm once
        scored = {
            run.data.params["norm"]: "test_l1_test_batch" in run.data.metrics for run in trained
        }
        assert scored == {"batch": True, "instance": False}


def test_an_interrupted_study_completes_only_what_is_missing(
    smoke, store, runs_of, tmp_path, capsys
):
    argv = [
        "study",
        "batch-size",
        "--scale",
        "smoke",
        "--seeds",
        "1",
        "--out",
        str(tmp_path),
        "--workers",
        "1",
    ]
    assert main(argv) == 0
    first = runs_of("cnn", study="batch-size", run_kind="train")
    # batch norm at statistics batches 2 and 32, group norm at 32 only
    assert len(first) == 3
    assert (tmp_path / "study_batch-size_error_vs_statistics_batch.png").exists()
    # As an interrupted study leaves them: one run KILLED, one never started.
    client = mlflow.MlflowClient()
    client.set_terminated(first[1].info.run_id, "KILLED")
    client.delete_run(first[2].info.run_id)
    capsys.readouterr()
    assert main(argv) == 0
    assert "3 configurations, 1 already done, 2 to train" in capsys.readouterr().out
    again = runs_of("cnn", study="batch-size", run_kind="train")
    assert len(again) == 4  # the deleted run is gone from the search
    done = [run for run in again if run.info.status == "FINISHED"]
    keys = {(run.data.params["norm"], run.data.params["stats_batch"]) for run in done}
    assert keys == {("batch", "2"), ("batch", "None"), ("group", "None")} and len(done) == 3
    # Nothing missing: nothing trained.
    assert main(argv) == 0
    assert "3 configurations, 3 already done, 0 to train" in capsys.readouterr().out
    assert len(runs_of("cnn", study="batch-size", run_kind="train")) == 4
