"""The statistics behind confirmation: a paired t interval on log-ratios, in pure Python.

Each confirmation round measures every configuration once, side by side, so round ``i`` gives a
paired ratio ``a_i / b_i`` in which whatever the round shares (the machine's load at the time,
the same arrivals and task costs) cancels.  The test works on ``d_i = ln(a_i / b_i)``: ratios
are multiplicative, their logarithms are close to normal, and between two identical
configurations ``d_i`` is symmetric about 0 whatever the noise's shape.  The interval
``exp(mean(d) +/- t(1 - alpha/2, n-1) * sd(d) / sqrt(n))`` is a confidence interval of the
geometric-mean ratio; a winner is called only when it excludes 1.

``alpha`` is shared out (Bonferroni) over every comparison a decision makes, see
:func:`comparison_alpha`, so that the chance of calling *any* winner among identical
configurations stays at most 5% (designed at :data:`FAMILY_ALPHA`; measured by simulation in
``benchmarks/bench_decision.py`` and ``tests/optimize/test_decision_sim.py``).
"""

from __future__ import annotations

import functools
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from tuner.bench.quantiles import betainc

# The level the rule is designed at, a little under the 5% it promises: the t interval is exact
# for normal log-ratios, and the margin absorbs what real (heavier-tailed) noise does to it.
FAMILY_ALPHA = 0.04
MIN_EFFECT = 0.05  # a ratio must also move at least this far from 1 to be worth a change


def comparison_alpha(candidates: int, objectives: int, family: float = FAMILY_ALPHA) -> float:
    """Two-sided level of each test when ``candidates`` are compared pairwise on ``objectives``:
    ``family`` over the number of (pair, objective) tests (Bonferroni)."""
    pairs = max(1, candidates * (candidates - 1) // 2)
    return family / (pairs * max(1, objectives))


def t_cdf(t: float, df: float) -> float:
    """P(T <= t) for Student's t with ``df`` degrees of freedom."""
    tail = 0.5 * betainc(df / 2.0, 0.5, df / (df + t * t))
    return 1.0 - tail if t >= 0 else tail


@functools.lru_cache(maxsize=256)
def t_quantile(p: float, df: float) -> float:
    """The ``p`` quantile (0 < p < 1) of Student's t with ``df`` degrees of freedom."""
    if not 0.0 < p < 1.0:
        raise ValueError(f"p must be in (0, 1), got {p}")
    if p < 0.5:
        return -t_quantile(1.0 - p, df)
    lo, hi = 0.0, 1.0
    while t_cdf(hi, df) < p:
        hi *= 2.0
    for _ in range(200):
        mid = (lo + hi) / 2.0
        if t_cdf(mid, df) < p:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-12 * max(1.0, hi):
            break
    return (lo + hi) / 2.0


@dataclass(frozen=True)
class Interval:
    """A confidence interval of a geometric-mean ratio, at ``level`` (e.g. 0.983)."""

    estimate: float
    low: float
    high: float
    level: float
    n: int

    @property
    def excludes_one(self) -> bool:
        return self.low > 1.0 or self.high < 1.0


def ratio_interval(ratios: Sequence[float], alpha: float) -> Interval | None:
    """Paired t interval of the geometric mean of ``ratios`` (all > 0) at level 1 - ``alpha``;
    None with fewer than 2 ratios (one round says nothing about the noise)."""
    n = len(ratios)
    if n < 2 or any(not (r > 0 and math.isfinite(r)) for r in ratios):
        return None
    logs = [math.log(r) for r in ratios]
    mean = statistics.fmean(logs)
    sd = statistics.stdev(logs)
    half = t_quantile(1.0 - alpha / 2.0, n - 1) * sd / math.sqrt(n)
    return Interval(math.exp(mean), math.exp(mean - half), math.exp(mean + half), 1.0 - alpha, n)
