"""Quantiles of latencies: the Harrell-Davis estimator, in pure Python.

A nearest-rank p99 of a few hundred latencies is one order statistic, the 2nd or 3rd largest: it
jumps whenever one task more or less lands in the tail.  The Harrell-Davis estimate is a weighted
mean of *all* order statistics, with Beta((n+1)q, (n+1)(1-q)) weights, so the p99 of 300
latencies leans on the top ten or so instead of one; its variance is lower and it moves smoothly.
With a single value it is that value.
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the incomplete beta function (modified Lentz)."""
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 300):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-14:
            break
    return h


def betainc(a: float, b: float, x: float) -> float:
    """Regularised incomplete beta I_x(a, b)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    ln = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x)
    front = math.exp(ln + b * math.log1p(-x))
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _betacf(a, b, x) / a
    return 1.0 - front * _betacf(b, a, 1.0 - x) / b


def harrell_davis(sorted_values: Sequence[float], q: float) -> float:
    """Harrell-Davis estimate of the ``q`` quantile (0 < q < 1) of sorted values; NaN if empty."""
    n = len(sorted_values)
    if n == 0:
        return math.nan
    if n == 1:
        return float(sorted_values[0])
    a, b = (n + 1) * q, (n + 1) * (1 - q)
    total = 0.0
    prev = 0.0
    for i, value in enumerate(sorted_values, 1):
        cdf = 1.0 if i == n else betainc(a, b, i / n)
        total += (cdf - prev) * value
        prev = cdf
    return total
