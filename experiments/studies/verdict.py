"""The statistics of a study: means with 95% confidence intervals, one test
per claim, Holm's adjustment over the claim family, and the verdict rule.

A claim says that configuration A beats configuration B. Its test depends on
the kind of outcome it declares:

- continuous (a final metric): the difference of the means, A - B, with a 95%
  interval and a two-sided p-value from Welch's t over the runs that did not
  diverge; when the arms share training (`paired`: the same seed trains both,
  they differ only in how they are evaluated) the paired t-test over seeds;
  when each arm is measured against a baseline of its own (A against A0, B
  against B0: "A loses less than B from one batch size to another"), the
  difference in differences (A - A0) - (B - B0), by Welch's t over the four
  groups with the Welch-Satterthwaite degrees of freedom;
- binary (a run reaches the claim's target on the metric, or not; a run that
  diverged has not): the difference of the proportions with Newcombe's
  interval (from Wilson's score intervals) and Fisher's exact test;
- censored (training steps until the curve reaches the target): a run that
  never reaches it is censored at its budget, longer than the budget, never
  dropped. Gehan's generalization of the Wilcoxon rank-sum test compares the
  arms: a pair of runs scores +1 or -1 when one certainly took longer, 0 when
  it cannot be told (both censored, or a tie); the p-value is the exact
  permutation distribution of the sum of the scores (a normal approximation
  with Mantel's variance past 50,000 arrangements). The effect is the mean
  pair score, in [-1, 1], without an interval.

Every difference is oriented so that the claimed side is > 0 (a sign flip
when lower is better; fewer steps are always better).

The p-values of all the claims judged together (every study on the page)
form one family; Holm's step-down method adjusts them, and the verdict is
taken from the adjusted values:

- untestable: the claim declares the task's floor (chance, the mean
  predictor) and neither arm's 95% interval lies beyond it; binary or
  censored: no run of either arm reached the target. It enters no family;
- supported / contradicted: the adjusted p of "no difference" is < 0.05, and
  the difference lies on / against the claimed side;
- equivalent: otherwise, when the claim declares a smallest effect of
  interest (`equivalence_margin`) and the adjusted p of the two one-sided
  tests (TOST) that the difference lies within it is < 0.05;
- inconclusive: otherwise, or a side has fewer than 2 runs.

Each claim also states its minimum detectable effect: the difference a
two-sided test at 0.05 finds with power 0.8 at the claim's number of runs
(continuous: from the noncentral t at the observed standard error and
degrees of freedom; binary: the normal approximation at a 50% rate; censored:
Noether's normal approximation for the rank-sum test, as a pair score).
"""

import dataclasses
import itertools
import math
import statistics

from scipy import optimize, stats

from .base import OUTCOMES

CONFIDENCE = 0.95
ALPHA = 1 - CONFIDENCE
POWER = 0.8
SUPPORTED, CONTRADICTED, INCONCLUSIVE = "supported", "contradicted", "inconclusive"
EQUIVALENT, UNTESTABLE = "equivalent", "untestable"
VERDICTS = (SUPPORTED, CONTRADICTED, EQUIVALENT, INCONCLUSIVE, UNTESTABLE)
CONTINUOUS, BINARY, CENSORED = OUTCOMES
EXACT_LIMIT = 50_000  # arrangements the censored test enumerates before it approximates
RULE = (
    "Each claim (A beats B) gets one test over the runs of its fixed seeds: Welch's t on "
    "the difference of the means (a paired t over seeds where the arms share training, "
    "and over four groups for a difference in differences, (A - A0) - (B - B0)), "
    "Fisher's exact test on proportions for a binary outcome (the run reaches a target or "
    "not; a diverged run has not), and for steps to a target Gehan's rank test, in which a "
    "run that never reaches the target counts as longer than its budget. Differences are "
    "oriented so that the claimed side is > 0. Holm's method adjusts the p-values over "
    "every claim on this page, and the verdict comes from the adjusted p: "
    "**supported** or **contradicted** when it is < 0.05 (by the side the difference "
    "lies on); else **equivalent** when the claim declares a smallest effect of interest "
    "and its two one-sided tests (TOST), Holm-adjusted too, are < 0.05; else "
    "**inconclusive** (also when a side has fewer than 2 runs). A claim is "
    "**untestable** when neither arm's 95% interval beats the task's floor (chance, the "
    "mean predictor) or, for reaching a target or the steps to it, no run reached it. A "
    "side at its best level is the level with the best mean final validation score among "
    "those where none of its runs diverged. MDE "
    "is the difference a two-sided test at 0.05 detects with power 0.8 at the claim's runs "
    "(before Holm's adjustment, so a lower bound)."
)


@dataclasses.dataclass(frozen=True)
class Estimate:
    """A mean over `n` values with its 95% interval (`low`, `high`; NaN when n < 2)."""

    mean: float
    low: float
    high: float
    n: int

    def __str__(self):
        if self.n == 0:
            return "-"
        if self.n < 2 or math.isnan(self.low):
            return f"{self.mean:.4g} (n={self.n})"
        return f"{self.mean:.4g} [{self.low:.4g}, {self.high:.4g}]"

    def flipped(self):
        return Estimate(-self.mean, -self.high, -self.low, self.n)


NO_ESTIMATE = Estimate(math.nan, math.nan, math.nan, 0)


@dataclasses.dataclass(frozen=True)
class Test:
    """One claim's raw test, oriented so that the claimed side is > 0.

    `difference` is the effect with its raw 95% interval (NaN bounds where the
    test gives none); `p` the two-sided p-value of no difference and
    `p_equivalence` the TOST p-value (NaN: not tested); `mde` the minimum
    detectable effect in the difference's units; `method` names the test.
    """

    method: str
    difference: Estimate
    p: float = math.nan
    p_equivalence: float = math.nan
    mde: float = math.nan
    untestable: bool = False

    @property
    def tested(self):
        return not self.untestable and not math.isnan(self.p)


def finite(values):
    return [float(v) for v in values if v is not None and math.isfinite(float(v))]


def mean_ci(values):
    """The mean of the finite `values` with its t-distribution 95% interval."""
    values = finite(values)
    n = len(values)
    if n == 0:
        return NO_ESTIMATE
    mean = statistics.fmean(values)
    if n < 2:
        return Estimate(mean, math.nan, math.nan, 1)
    half = stats.t.ppf(0.5 + CONFIDENCE / 2, n - 1) * statistics.stdev(values) / math.sqrt(n)
    return Estimate(mean, mean - half, mean + half, n)


def _t_test(difference, se, df, n):
    """(Estimate with the 95% interval, two-sided p) of a t statistic."""
    if se == 0:
        p = 1.0 if difference == 0 else 0.0
        return Estimate(difference, difference, difference, n), p
    half = stats.t.ppf(0.5 + CONFIDENCE / 2, df) * se
    p = 2 * stats.t.sf(abs(difference) / se, df)
    return Estimate(difference, difference - half, difference + half, n), p


def welch(a, b):
    """(difference `Estimate`, p, standard error, degrees of freedom) of
    mean(a) - mean(b) by Welch's t; None when a side has fewer than 2 values."""
    return contrast((a, b), (1, -1))


def contrast(groups, weights):
    """Welch's t for the weighted sum of the `groups`' means (independent
    samples, unequal variances), with the Welch-Satterthwaite degrees of
    freedom: (`Estimate`, p, standard error, df); None when a group has fewer
    than 2 values. (1, -1) over two groups is Welch's two-sample test;
    (1, -1, -1, 1) over A, A's baseline, B, B's baseline is the difference
    in differences (A - A0) - (B - B0)."""
    groups = [finite(group) for group in groups]
    if any(len(group) < 2 for group in groups):
        return None
    estimate = sum(w * statistics.fmean(g) for w, g in zip(weights, groups))
    variances = [w * w * statistics.variance(g) / len(g) for w, g in zip(weights, groups)]
    se = math.sqrt(sum(variances))
    df = (
        sum(variances) ** 2 / sum(v * v / (len(g) - 1) for v, g in zip(variances, groups))
        if se > 0
        else sum(len(g) for g in groups) - len(groups)
    )
    result, p = _t_test(estimate, se, df, min(len(g) for g in groups))
    return result, p, se, df


def paired(a, b):
    """Like `welch` for pairs: `a` and `b` map a pairing key (the seed) to a
    value; the pairs with both values finite count."""
    keys = [k for k in a if k in b and finite([a[k]]) and finite([b[k]])]
    if len(keys) < 2:
        return None
    differences = [float(a[k]) - float(b[k]) for k in keys]
    n = len(differences)
    se = statistics.stdev(differences) / math.sqrt(n)
    estimate, p = _t_test(statistics.fmean(differences), se, n - 1, n)
    return estimate, p, se, n - 1


def difference_ci(a, b):
    """Mean(a) - mean(b) with Welch's 95% interval; NaN bounds when a side has < 2."""
    result = welch(a, b)
    if result is not None:
        return result[0]
    a, b = finite(a), finite(b)
    if not a or not b:
        return NO_ESTIMATE
    return Estimate(
        statistics.fmean(a) - statistics.fmean(b), math.nan, math.nan, min(len(a), len(b))
    )


def tost(difference, se, df, margin):
    """The p-value of the two one-sided t-tests that `difference` lies within
    (-margin, margin): the larger of the p-values of H0 difference <= -margin
    and H0 difference >= margin."""
    if se == 0:
        return 0.0 if abs(difference) < margin else 1.0
    p_above = stats.t.sf((difference + margin) / se, df)  # H0: difference <= -margin
    p_below = stats.t.cdf((difference - margin) / se, df)  # H0: difference >= margin
    return max(p_above, p_below)


def t_power(noncentrality, df, alpha=ALPHA):
    """The power of the two-sided t-test at `alpha` when the statistic follows
    the noncentral t with `df` degrees of freedom and this noncentrality."""
    critical = stats.t.ppf(1 - alpha / 2, df)
    wrong_side = stats.nct.cdf(-critical, df, noncentrality)
    return stats.nct.sf(critical, df, noncentrality) + (
        0.0 if math.isnan(wrong_side) else wrong_side
    )


def t_mde(se, df, alpha=ALPHA, power=POWER):
    """The difference the two-sided t-test detects with `power`: the
    noncentrality reaching that power (noncentral t), times the standard error."""
    high = 4.0
    while t_power(high, df, alpha) < power:
        high *= 2
    noncentrality = optimize.brentq(lambda nc: t_power(nc, df, alpha) - power, 0.0, high)
    return noncentrality * se


def holm(pvalues):
    """Holm's step-down adjustment of `pvalues`, NaN (untested) left out of the
    family and kept NaN: the i-th smallest of m gets (m - i + 1) p, made
    non-decreasing in that order and capped at 1."""
    order = sorted(
        (i for i, p in enumerate(pvalues) if not math.isnan(p)), key=lambda i: pvalues[i]
    )
    adjusted = [math.nan] * len(pvalues)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(order) - rank) * pvalues[i]))
        adjusted[i] = running
    return adjusted


def fisher_exact(successes_a, n_a, successes_b, n_b):
    """The two-sided p-value of Fisher's exact test on the 2x2 table (successes
    and failures of A and of B): the probability, with the margins fixed
    (hypergeometric), of every table no more likely than the observed one."""
    successes = successes_a + successes_b
    distribution = stats.hypergeom(n_a + n_b, successes, n_a)
    low, high = max(0, successes - n_b), min(successes, n_a)
    observed = distribution.pmf(successes_a)
    return min(
        1.0,
        sum(
            distribution.pmf(k)
            for k in range(low, high + 1)
            if distribution.pmf(k) <= observed * (1 + 1e-7)
        ),
    )


def wilson(successes, n):
    """Wilson's 95% score interval of a proportion."""
    z = stats.norm.ppf(0.5 + CONFIDENCE / 2)
    rate = successes / n
    centre = (rate + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(rate * (1 - rate) / n + z * z / (4 * n * n))
    return centre - half, centre + half


def proportions(successes_a, n_a, successes_b, n_b):
    """(difference of the proportions `Estimate` with Newcombe's hybrid score
    interval, Fisher's p, MDE by the normal approximation at a 50% rate)."""
    if n_a == 0 or n_b == 0:
        return NO_ESTIMATE, math.nan, math.nan
    rate_a, rate_b = successes_a / n_a, successes_b / n_b
    (low_a, high_a), (low_b, high_b) = wilson(successes_a, n_a), wilson(successes_b, n_b)
    difference = rate_a - rate_b
    low = difference - math.sqrt((rate_a - low_a) ** 2 + (high_b - rate_b) ** 2)
    high = difference + math.sqrt((high_a - rate_a) ** 2 + (rate_b - low_b) ** 2)
    z = stats.norm.ppf(1 - ALPHA / 2) + stats.norm.ppf(POWER)
    mde = z * math.sqrt(0.25 * (1 / n_a + 1 / n_b))
    return (
        Estimate(difference, low, high, min(n_a, n_b)),
        fisher_exact(successes_a, n_a, successes_b, n_b),
        mde,
    )


def _longer(x, y):
    """+1 when run x certainly took longer than run y, -1 when certainly
    shorter, 0 when it cannot be told; a run is (steps, reached), and one that
    did not reach the target ran its `steps` (the budget) without reaching it."""
    (steps_x, reached_x), (steps_y, reached_y) = x, y
    if reached_y and (steps_x > steps_y if reached_x else steps_x >= steps_y):
        return 1
    if reached_x and (steps_y > steps_x if reached_y else steps_y >= steps_x):
        return -1
    return 0


def gehan(a, b):
    """(effect, p) of Gehan's test that A's runs take longer than B's: `a` and
    `b` are (steps, reached) per run. The effect is the mean over the pairs
    (one run of A, one of B) of `_longer`; the p-value is two-sided, from the
    exact permutation distribution of the score sum over every split of the
    pooled runs into groups of A's and B's sizes, or past `EXACT_LIMIT` splits
    from the normal approximation with Mantel's variance."""
    pooled = list(a) + list(b)
    n, n_a = len(pooled), len(a)
    scores = [sum(_longer(x, y) for y in pooled) for x in pooled]
    observed = sum(scores[:n_a])
    effect = observed / (n_a * len(b))
    if not any(scores):
        return effect, 1.0
    if math.comb(n, n_a) <= EXACT_LIMIT:
        sums = [sum(scores[i] for i in chosen) for chosen in itertools.combinations(range(n), n_a)]
        return effect, sum(abs(s) >= abs(observed) - 1e-9 for s in sums) / len(sums)
    variance = n_a * len(b) / (n * (n - 1)) * sum(s * s for s in scores)
    return effect, 2 * stats.norm.sf(abs(observed) / math.sqrt(variance))


def rank_mde(n_a, n_b, alpha=ALPHA, power=POWER):
    """The pair score (2 P(longer) - 1 with no ties) the rank-sum test detects
    with `power`, by Noether's normal approximation; may exceed 1 (beyond reach)."""
    n = n_a + n_b
    share = n_a / n
    z = stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power)
    return 2 * z / math.sqrt(12 * share * (1 - share) * n)


def beats_floor(values, floors, higher_is_better):
    """Whether the 95% interval of the mean of the runs' `values` lies beyond
    the floor, on the better side; `floors` is one number, or one per run."""
    values = list(values)
    if not isinstance(floors, (list, tuple)):
        floors = [floors] * len(values)
    margins = [v - f for v, f in zip(values, floors) if finite([v]) and finite([f])]
    estimate = mean_ci(margins if higher_is_better else [-m for m in margins])
    return estimate.n >= 2 and estimate.low > 0


def continuous(a, b, higher_is_better=True, pairs=None, margin=None):
    """The `Test` of "A beats B" on final values `a` and `b` (lists), or on
    `pairs` ((a by seed, b by seed), the paired test) when given."""
    result = paired(*pairs) if pairs is not None else welch(a, b)
    if result is None:
        difference = (
            difference_ci(list(pairs[0].values()), list(pairs[1].values()))
            if pairs is not None
            else difference_ci(a, b)
        )
        if not higher_is_better:
            difference = difference.flipped()
        return Test("paired t" if pairs is not None else "Welch's t", difference)
    difference, p, se, df = result
    if not higher_is_better:
        difference = difference.flipped()
    p_equivalence = math.nan if margin is None else tost(difference.mean, se, df, margin)
    return Test(
        "paired t" if pairs is not None else "Welch's t",
        difference,
        p,
        p_equivalence,
        t_mde(se, df),
    )


def difference_in_differences(a, a0, b, b0, higher_is_better=True, margin=None):
    """The `Test` of "A gains more over its baseline A0 than B over B0" on
    final values (lists): (A - A0) - (B - B0) by Welch's t over the four
    independent groups (`contrast`)."""
    groups, weights = (a, a0, b, b0), (1, -1, -1, 1)
    method = "Welch's t, difference in differences"
    result = contrast(groups, weights)
    if result is None:
        groups = [finite(group) for group in groups]
        if not all(groups):
            return Test(method, NO_ESTIMATE)
        mean = sum(w * statistics.fmean(g) for w, g in zip(weights, groups))
        difference = Estimate(mean, math.nan, math.nan, min(len(g) for g in groups))
        return Test(method, difference if higher_is_better else difference.flipped())
    difference, p, se, df = result
    if not higher_is_better:
        difference = difference.flipped()
    p_equivalence = math.nan if margin is None else tost(difference.mean, se, df, margin)
    return Test(method, difference, p, p_equivalence, t_mde(se, df))


def binary(a, b, higher_is_better=True, reaching=False):
    """The `Test` of "A beats B" on outcomes `a` and `b` (lists of booleans:
    True the more often being better, unless `higher_is_better` is False).
    `reaching`: the outcomes say whether a run reached a target, and the claim
    is untestable when no run of either side did."""
    difference, p, mde = proportions(sum(a), len(a), sum(b), len(b))
    if min(len(a), len(b)) < 2:
        p = mde = math.nan
    if not higher_is_better:
        difference = difference.flipped()
    untestable = reaching and min(len(a), len(b)) >= 2 and not any([*a, *b])
    return Test("Fisher's exact", difference, p, math.nan, mde, untestable)


def censored(a, b):
    """The `Test` of "A reaches the target in fewer steps than B", `a` and `b`
    (steps, reached) per run; untestable when no run reached it."""
    method = "Gehan's rank test"
    if not a or not b:
        return Test(method, NO_ESTIMATE)
    n = min(len(a), len(b))
    if n >= 2 and not any(reached for _, reached in [*a, *b]):
        return Test(method, Estimate(0.0, math.nan, math.nan, n), untestable=True)
    effect, p = gehan(a, b)
    # Longer is worse: the claimed side (A faster) is a negative score.
    if n < 2:
        return Test(method, Estimate(-effect, math.nan, math.nan, n))
    return Test(
        method, Estimate(-effect, math.nan, math.nan, n), p, math.nan, rank_mde(len(a), len(b))
    )


def decide(test, p_adjusted, p_equivalence_adjusted=math.nan):
    """The verdict of a claim from its `Test` and its Holm-adjusted p-values."""
    if test.untestable:
        return UNTESTABLE
    if test.difference.n < 2 or math.isnan(p_adjusted):
        return INCONCLUSIVE
    if p_adjusted < ALPHA:
        if test.difference.mean > 0:
            return SUPPORTED
        if test.difference.mean < 0:
            return CONTRADICTED
    if not math.isnan(p_equivalence_adjusted) and p_equivalence_adjusted < ALPHA:
        return EQUIVALENT
    return INCONCLUSIVE


@dataclasses.dataclass(frozen=True)
class Judged:
    """A claim's `test`, its Holm-adjusted p-values and its verdict."""

    test: Test
    p_adjusted: float
    p_equivalence_adjusted: float
    verdict: str


def judge_family(tests):
    """The `Judged` of each of `tests`, one family: Holm's method over every
    p-value tested (the difference tests and the TOST tests together), the
    untestable claims and the untested left out."""
    pvalues = []
    for test in tests:
        pvalues += [
            test.p if test.tested else math.nan,
            test.p_equivalence if test.tested else math.nan,
        ]
    adjusted = holm(pvalues)
    judged = []
    for i, test in enumerate(tests):
        p, p_equivalence = adjusted[2 * i], adjusted[2 * i + 1]
        judged.append(Judged(test, p, p_equivalence, decide(test, p, p_equivalence)))
    return judged


def verdict(a, b, higher_is_better=True):
    """(verdict, difference `Estimate`) of the claim "A beats B" judged alone
    (a family of one), from the metric values of A's and B's runs."""
    [judged] = judge_family([continuous(a, b, higher_is_better)])
    return judged.verdict, judged.test.difference
