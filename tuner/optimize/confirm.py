"""Confirmation: re-measure the pick and the baselines side by side, and call a winner only
beyond the noise.

The runs are interleaved (A B C, A B C, ...), so each round compares configurations measured
under the same conditions; ratios are paired by round.  A winner is called only when every round
agrees on the direction *and* the median ratio moves further from 1 than the measurement noise,
taken as the larger relative spread ((max - min) / median) of either configuration's own repeats.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from tuner.bench.broker import Broker
    from tuner.bench.config import WorkerConfig
    from tuner.bench.workloads import Workload
    from tuner.optimize.measure import Plan

Runs = Sequence[Mapping[str, float | int | None]]
HIGHER_IS_BETTER = {"throughput": True, "p99": False, "efficiency": True}
Winner = Literal["tuned", "baseline", "tie", "same"]
MIN_ROUNDS = 2


@dataclass(frozen=True)
class Ratio:
    """tuned / baseline for one metric, paired by round."""

    metric: str
    values: tuple[float, ...]
    noise: float

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    @property
    def low(self) -> float:
        return min(self.values)

    @property
    def high(self) -> float:
        return max(self.values)

    @property
    def winner(self) -> Winner:
        if len(self.values) < MIN_ROUNDS:
            return "tie"  # one round says nothing about the noise
        better_up = HIGHER_IS_BETTER.get(self.metric, True)
        up = self.low > 1 and self.median - 1 > self.noise
        down = self.high < 1 and 1 - self.median > self.noise
        if up:
            return "tuned" if better_up else "baseline"
        if down:
            return "baseline" if better_up else "tuned"
        return "tie"

    def as_dict(self) -> dict[str, object]:
        return {
            "median": self.median,
            "low": self.low,
            "high": self.high,
            "values": list(self.values),
            "noise": self.noise,
            "winner": self.winner,
        }

    def describe(self) -> str:
        return f"x{self.median:.2f} ({self.low:.2f}-{self.high:.2f})"


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


def ratio(tuned: Runs, baseline: Runs, metric: str) -> Ratio | None:
    """Paired ratios tuned/baseline for ``metric``, or None when either side lacks it."""
    a, b = _values(tuned, metric), _values(baseline, metric)
    n = min(len(a), len(b))
    if n == 0:
        return None
    pairs = [x / y for x, y in zip(a[:n], b[:n], strict=True) if y > 0]
    if len(pairs) < n:
        return None
    return Ratio(metric, tuple(pairs), max(spread(a[:n]), spread(b[:n])))


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
            out[f"{metric}_ratio"] = r.median
            out[f"{metric}_ratio_spread"] = [r.low, r.high]
        out["ratios"] = {m: r.as_dict() for m, r in self.ratios.items()}
        return out


def compare(
    tuned: Runs,
    baseline: Runs,
    label: str,
    objectives: Sequence[str],
    *,
    same_config: bool = False,
) -> Verdict:
    ratios = {}
    for metric in ("throughput", "p99", "efficiency"):
        r = ratio(tuned, baseline, metric)
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
) -> dict[str, list[dict[str, Any]]]:
    """Measure every config ``rounds`` times, interleaved (A B C, A B C, ...).

    A run that fails (BenchError) is retried once, so one flaky run does not void the rest.
    """
    from tuner.bench.errors import BenchError
    from tuner.optimize.measure import measure, merge

    out: dict[str, list[dict[str, Any]]] = {c.label: [] for c in configs}
    for r in range(rounds):
        for config in configs:
            try:
                runs = measure(config, workload, plan, broker)
            except BenchError:
                runs = measure(config, workload, plan, broker)
            metrics = merge(runs)
            out[config.label].append(metrics)
            if on_run is not None:
                on_run(r, config.label, metrics)
    return out
