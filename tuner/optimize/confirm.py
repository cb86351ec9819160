"""Confirmation: re-measure the pick and the baselines side by side, and call a winner only
when the evidence says so at a stated error rate.

The runs are interleaved, in an order that alternates from one round to the next (A B C, C B A,
...), so each round compares configurations measured under the same conditions and a drift in
the machine's load does not favour whoever runs first; ratios are paired by round.  For each
metric, the rounds' log-ratios give a paired t confidence interval of the geometric-mean ratio
(:mod:`tuner.optimize.stats`).  A winner is called when that interval excludes 1 and the ratio
moves at least :data:`~tuner.optimize.stats.MIN_EFFECT` from 1.  The interval's level is shared
out over every comparison the decision makes (``alpha``), so that among identical configurations
no winner is called in at least 95% of decisions.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from tuner.optimize.stats import FAMILY_ALPHA, MIN_EFFECT, Interval, ratio_interval

if TYPE_CHECKING:
    from tuner.bench.broker import Broker
    from tuner.bench.config import WorkerConfig
    from tuner.bench.workloads import Workload
    from tuner.optimize.measure import Plan

Runs = Sequence[Mapping[str, float | int | None]]
HIGHER_IS_BETTER = {"throughput": True, "p99": False, "efficiency": True}
Winner = Literal["tuned", "baseline", "tie", "same"]
MIN_ROUNDS = 2
DEFAULT_ROUNDS = 8  # power >= 80% for a 20% p99 gain when runs repeat within CV 10%


@dataclass(frozen=True)
class Ratio:
    """tuned / baseline for one metric, paired by round, with its confidence interval at
    level 1 - ``alpha`` (None with fewer than :data:`MIN_ROUNDS` rounds)."""

    metric: str
    values: tuple[float, ...]
    alpha: float = FAMILY_ALPHA

    @property
    def interval(self) -> Interval | None:
        return ratio_interval(self.values, self.alpha)

    @property
    def estimate(self) -> float:
        """Geometric mean of the paired ratios (the centre of the interval)."""
        return math.exp(statistics.fmean(math.log(v) for v in self.values))

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    @property
    def low(self) -> float:
        ci = self.interval
        return ci.low if ci is not None else min(self.values)

    @property
    def high(self) -> float:
        ci = self.interval
        return ci.high if ci is not None else max(self.values)

    @property
    def winner(self) -> Winner:
        ci = self.interval
        if ci is None or len(self.values) < MIN_ROUNDS:
            return "tie"  # one round says nothing about the noise
        if abs(math.log(ci.estimate)) < math.log1p(MIN_EFFECT):
            return "tie"  # too small to be worth a change, however sure
        better_up = HIGHER_IS_BETTER.get(self.metric, True)
        if ci.low > 1:
            return "tuned" if better_up else "baseline"
        if ci.high < 1:
            return "baseline" if better_up else "tuned"
        return "tie"

    def as_dict(self) -> dict[str, object]:
        ci = self.interval
        return {
            "estimate": self.estimate,
            "median": self.median,
            "ci": [ci.low, ci.high] if ci is not None else None,
            "confidence": 1.0 - self.alpha,
            "values": list(self.values),
            "winner": self.winner,
        }

    def describe(self) -> str:
        ci = self.interval
        if ci is None:
            return f"x{self.estimate:.2f} (1 round: no interval)"
        return f"x{ci.estimate:.2f} ({ci.level:.1%} CI {ci.low:.2f}-{ci.high:.2f})"


def _values(runs: Runs, metric: str) -> list[float]:
    out = []
    for run in runs:
        value = run.get(metric)
        if value is None:
            return []
        out.append(float(value))
    return out


def spread(values: Sequence[float]) -> float:
    """Relative spread of repeats of one configuration: (max - min) / median."""
    if len(values) < 2:
        return 0.0
    mid = statistics.median(values)
    return (max(values) - min(values)) / mid if mid else float("inf")


def ratio(tuned: Runs, baseline: Runs, metric: str, alpha: float = FAMILY_ALPHA) -> Ratio | None:
    """Paired ratios tuned/baseline for ``metric``, or None when either side lacks it."""
    a, b = _values(tuned, metric), _values(baseline, metric)
    n = min(len(a), len(b))
    if n == 0:
        return None
    pairs = [x / y for x, y in zip(a[:n], b[:n], strict=True) if y > 0 and x > 0]
    if len(pairs) < n:
        return None
    return Ratio(metric, tuple(pairs), alpha)


@dataclass(frozen=True)
class Verdict:
    """The pick against one baseline."""

    baseline: str
    ratios: Mapping[str, Ratio]
    objectives: tuple[str, ...]
    same_config: bool = False

    @property
    def winner(self) -> Winner:
        if self.same_config:
            return "same"
        calls = [self.ratios[m].winner for m in self.objectives if m in self.ratios]
        if not calls:
            return "tie"
        if "tuned" in calls and "baseline" not in calls:
            return "tuned"
        if "baseline" in calls and "tuned" not in calls:
            return "baseline"
        return "tie"

    def describe(self) -> str:
        if self.same_config:
            return f"the pick is {self.baseline} itself"
        parts = [f"{m} {r.describe()}" for m, r in self.ratios.items()]
        call = {
            "tuned": "better beyond the noise",
            "baseline": "worse beyond the noise",
            "tie": "no difference beyond the noise",
            "same": "same configuration",
        }[self.winner]
        return f"vs {self.baseline}: {', '.join(parts)}: {call}"

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {
            "baseline": self.baseline,
            "winner": self.winner,
            "verdict": self.describe(),
            "same_config": self.same_config,
        }
        for metric, r in self.ratios.items():
            ci = r.interval
            out[f"{metric}_ratio"] = r.estimate
            out[f"{metric}_ratio_ci"] = [ci.low, ci.high] if ci is not None else None
        out["ratios"] = {m: r.as_dict() for m, r in self.ratios.items()}
        return out


def compare(
    tuned: Runs,
    baseline: Runs,
    label: str,
    objectives: Sequence[str],
    *,
    same_config: bool = False,
    alpha: float = FAMILY_ALPHA,
) -> Verdict:
    """The pick's runs against a baseline's; each test at two-sided level ``alpha``."""
    ratios = {}
    for metric in ("throughput", "p99", "efficiency"):
        r = ratio(tuned, baseline, metric, alpha)
        if r is not None:
            ratios[metric] = r
    return Verdict(label, ratios, tuple(objectives), same_config)


def medians(runs: Runs) -> dict[str, float]:
    """Median of each numeric metric over the repeats of one configuration."""
    out: dict[str, float] = {}
    keys = {k for run in runs for k in run}
    for key in sorted(keys):
        values = _values(runs, key)
        if values:
            out[key] = statistics.median(values)
    return out


def measure_rounds(
    configs: Sequence[WorkerConfig],
    workload: Workload,
    plan: Plan,
    broker: Broker,
    rounds: int,
    *,
    on_run: Callable[[int, str, Mapping[str, Any]], None] | None = None,
    stop: Callable[[Mapping[str, list[dict[str, Any]]]], bool] | None = None,
) -> dict[str, list[dict[str, Any]]]:
    """Measure every config ``rounds`` times, interleaved, the order reversed every other round
    (A B C, C B A, A B C, ...) so that a trend in the machine's load favours nobody.

    A run that fails (BenchError) is retried once, so one flaky run does not void the rest.
    ``stop``, called after each complete round with the runs so far, ends the rounds early when
    it returns True.
    """
    from tuner.bench.errors import BenchError
    from tuner.optimize.measure import measure, merge

    out: dict[str, list[dict[str, Any]]] = {c.label: [] for c in configs}
    for r in range(rounds):
        for config in configs if r % 2 == 0 else list(reversed(configs)):
            try:
                runs = measure(config, workload, plan, broker)
            except BenchError:
                runs = measure(config, workload, plan, broker)
            metrics = merge(runs)
            out[config.label].append(metrics)
            if on_run is not None:
                on_run(r, config.label, metrics)
        if stop is not None and r + 1 < rounds and stop(out):
            break
    return out
