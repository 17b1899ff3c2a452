"""The statistics of a study: means with 95% confidence intervals, and the
verdict rule every claim is judged by.

A claim says that configuration A beats configuration B on a metric. Over the
seeds of each, the difference of the means (A - B, sign-flipped when lower is
better, so that the claimed side is always > 0) gets a 95% confidence interval
from Welch's t (the seeds' spreads may differ). The verdict:

- supported: the whole interval lies above 0 (on the claimed side);
- contradicted: the whole interval lies below 0;
- inconclusive: the interval holds 0, or a side has fewer than 2 runs.

Diverged runs are counted, not averaged (the suite's divergence policy): the
statistics are over the runs that did not diverge.
"""

import dataclasses
import math
import statistics

from scipy import stats

CONFIDENCE = 0.95
SUPPORTED, CONTRADICTED, INCONCLUSIVE = "supported", "contradicted", "inconclusive"
RULE = ("A claim says A beats B on a metric. The difference of the means (oriented so that "
        "the claimed side is > 0) gets a 95% confidence interval from Welch's t over the "
        "seeds that did not diverge: **supported** when the whole interval lies on the "
        "claimed side of 0, **contradicted** when it lies on the other side, "
        "**inconclusive** when it holds 0 or a side has fewer than 2 runs.")


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
        if self.n < 2:
            return f"{self.mean:.4g} (n=1)"
        return f"{self.mean:.4g} [{self.low:.4g}, {self.high:.4g}]"


def finite(values):
    return [float(v) for v in values if v is not None and math.isfinite(float(v))]


def mean_ci(values):
    """The mean of the finite `values` with its t-distribution 95% interval."""
    values = finite(values)
    n = len(values)
    if n == 0:
        return Estimate(math.nan, math.nan, math.nan, 0)
    mean = statistics.fmean(values)
    if n < 2:
        return Estimate(mean, math.nan, math.nan, 1)
    half = stats.t.ppf(0.5 + CONFIDENCE / 2, n - 1) * statistics.stdev(values) / math.sqrt(n)
    return Estimate(mean, mean - half, mean + half, n)


def difference_ci(a, b):
    """Mean(a) - mean(b) with Welch's 95% interval; NaN bounds when a side has < 2."""
    a, b = finite(a), finite(b)
    if not a or not b:
        return Estimate(math.nan, math.nan, math.nan, 0)
    difference = statistics.fmean(a) - statistics.fmean(b)
    n = min(len(a), len(b))
    if n < 2:
        return Estimate(difference, math.nan, math.nan, n)
    va, vb = statistics.variance(a) / len(a), statistics.variance(b) / len(b)
    se = math.sqrt(va + vb)
    if se == 0:
        return Estimate(difference, difference, difference, n)
    df = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    half = stats.t.ppf(0.5 + CONFIDENCE / 2, df) * se
    return Estimate(difference, difference - half, difference + half, n)


def verdict(a, b, higher_is_better=True):
    """(verdict, difference `Estimate` oriented so that the claimed side is > 0)
    for the claim "A beats B", from the metric values of A's and B's runs."""
    difference = difference_ci(a, b)
    if not higher_is_better:
        difference = Estimate(-difference.mean, -difference.high, -difference.low, difference.n)
    if difference.n < 2:
        return INCONCLUSIVE, difference
    if difference.low > 0:
        return SUPPORTED, difference
    if difference.high < 0:
        return CONTRADICTED, difference
    return INCONCLUSIVE, difference
