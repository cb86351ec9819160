"""Feasibility: the constraints every measured configuration is held to, in one place.

The search (as Optuna constraints, feasible when <= 0) and confirmation (on the re-measured
rounds) use the same rules:

* no task lost (sent but never finished) and no task failed;
* p99 <= ``--p99-slo`` when one is given;
* for latency goals (``p99`` an objective, or an SLO): no overload.  An open-loop run whose
  served rate falls clearly below the offered rate measures a growing backlog, not a latency.

Overload is the bench's own flag (``overloaded`` in the metrics) when the bench reports one;
otherwise it is computed here from the run's counts: offered = tasks scheduled in the measured
window / window, served = tasks finished in the window / window (``throughput``, or
``open_throughput`` when a saturating run came first).  Overloaded means served is below offered by
more than :data:`OVERLOAD_SHORTFALL` *and* by at least :data:`OVERLOAD_MIN_TASKS` tasks over the
window, so the few tasks in flight at either edge of a short window do not count as a backlog.

Over confirmation rounds: lost and failed tasks are added up (any is a violation); the SLO is
held against the median p99 of the rounds; overload against the median served/offered ratio.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tuner.optimize.objectives import Goal

OVERLOAD_SHORTFALL = 0.10  # served more than 10% below offered ...
OVERLOAD_MIN_TASKS = 5  # ... and at least this many tasks short over the window
OVERLOAD_FLAG = "overloaded"  # the bench's flag, when its metrics carry one
Metrics = Mapping[str, Any]


def latency_goal(goal: Goal) -> bool:
    """Whether the goal measures latency (open-loop runs), so overload matters."""
    return "p99" in goal.objectives or goal.p99_slo is not None


def _number(metrics: Metrics, key: str) -> float | None:
    value = metrics.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


@dataclass(frozen=True)
class Rates:
    """The open-loop run's offered and served rates (tasks/s) over its measured window."""

    offered: float
    served: float
    window: float

    @property
    def shortfall(self) -> float:
        """How far served falls below offered, as a fraction of offered (0 when it keeps up)."""
        return max(0.0, 1.0 - self.served / self.offered) if self.offered > 0 else 0.0

    @property
    def overloaded(self) -> bool:
        short_tasks = (self.offered - self.served) * self.window
        return self.shortfall > OVERLOAD_SHORTFALL and short_tasks >= OVERLOAD_MIN_TASKS

    def describe(self) -> str:
        return (
            f"served {self.served:.1f} of {self.offered:.1f}/s offered; "
            "latency measures a growing backlog"
        )


def rates(metrics: Metrics) -> Rates | None:
    """Offered and served rates of the open-loop run in ``metrics`` (None if unknown)."""
    offered = _number(metrics, "offered_rate")
    served = _number(metrics, "served_rate")
    window = _number(metrics, "window") or 0.0
    if offered is None:
        measured = _number(metrics, "tasks_measured")
        if measured is None or window <= 0:
            return None
        offered = measured / window
    if served is None:
        served = _number(metrics, "open_throughput")
        if served is None:
            served = _number(metrics, "throughput")
    if served is None or offered <= 0:
        return None
    return Rates(offered, served, window)


def overloaded(metrics: Metrics) -> bool:
    """Whether an open-loop run fell behind its offered load (the bench's flag, if it has one)."""
    flag = metrics.get(OVERLOAD_FLAG)
    if isinstance(flag, bool):
        return flag
    found = rates(metrics)
    return found is not None and found.overloaded


def constraint_values(metrics: Metrics, goal: Goal) -> dict[str, float]:
    """Optuna constraint values for one trial: feasible when every value is <= 0."""
    out = {
        "tasks_lost": float(metrics.get("tasks_lost") or 0),
        "tasks_failed": float(metrics.get("tasks_failed") or 0),
    }
    if goal.p99_slo is not None:
        p99 = _number(metrics, "p99")
        out["p99_over_slo"] = p99 - goal.p99_slo if p99 is not None else 1e9
    if latency_goal(goal):
        found = rates(metrics)
        if isinstance(metrics.get(OVERLOAD_FLAG), bool):
            out["overloaded"] = 1.0 if metrics[OVERLOAD_FLAG] else 0.0
        elif found is not None:
            # Positive (infeasible) exactly when overloaded; otherwise how far from it, <= 0.
            excess = found.shortfall - OVERLOAD_SHORTFALL
            out["overloaded"] = excess if found.overloaded else min(excess, 0.0)
        else:
            out["overloaded"] = 0.0  # unknown: every trial still has the same constraints
    out.update(goal.memory_constraints(metrics))  # --max-rss
    return out


def violations(metrics: Metrics, goal: Goal) -> list[str]:
    """What one run broke, as short phrases (empty when feasible)."""
    return violations_over([metrics], goal)


def violations_over(runs: Sequence[Metrics], goal: Goal) -> list[str]:
    """What a configuration broke over its re-measured rounds (empty when feasible)."""
    out: list[str] = []
    if not runs:
        return ["not measured"]
    lost = sum(int(r.get("tasks_lost") or 0) for r in runs)
    failed = sum(int(r.get("tasks_failed") or 0) for r in runs)
    if lost:
        out.append(f"lost {lost} task(s)")
    if failed:
        out.append(f"{failed} task(s) failed")
    if goal.p99_slo is not None:
        p99s = [_number(r, "p99") for r in runs]
        if any(p is None for p in p99s):
            out.append(f"no p99 measured (SLO {goal.p99_slo:g} s)")
        else:
            mid = statistics.median(p for p in p99s if p is not None)
            if mid > goal.p99_slo:
                out.append(f"p99 {mid:.3g} s over the {goal.p99_slo:g} s SLO")
    if latency_goal(goal):
        flags = [r.get(OVERLOAD_FLAG) for r in runs]
        found = [rates(r) for r in runs]
        known = [f for f in found if f is not None]
        typical = None
        if known and len(known) == len(runs):
            typical = Rates(
                statistics.median(f.offered for f in known),
                statistics.median(f.served for f in known),
                statistics.median(f.window for f in known),
            )
        if all(isinstance(f, bool) for f in flags):  # the bench's flag: most rounds decide
            over = sum(1 for f in flags if f) * 2 > len(flags)
        else:
            over = typical is not None and typical.overloaded
        if over:
            text = typical.describe() if typical is not None else "served less than offered"
            out.append(f"overloaded: {text}")
    out += goal.memory_violations(runs)  # --max-rss
    return out


def describe(broken: Sequence[str]) -> str:
    return "; ".join(broken)
