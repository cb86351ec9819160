"""Multi-fidelity screening: a racing pruner that gives the full measurement only to contenders.

Every trial reports its running objective about once a second (step ``i`` after ``i + 1`` s of
measurement; a running value is over the whole window so far, not one interval).  Two rules:

* **Behind the leader**, at rungs (1/3 and 2/3 of the trial's seconds): the leader is the best
  feasible *completed* trial (a baseline, usually); the trial is stopped when its running value
  is worse than the leader's value at the same step by more than a noise margin::

      log(leader / value) > tolerance + z * sigma * sqrt(2 / k)     (maximised; inverted if not)

  ``k`` = seconds measured, ``sigma`` = the interval-to-interval noise (log scale, per second)
  measured in this study: every completed trial's running values against its own last one (a
  running mean of ``n`` intervals deviates from the mean at ``k`` by ``sigma^2 (1/k - 1/n)``), at
  least :data:`FLOORS` (5% a second for a maximised objective such as throughput, 15% for a
  minimised one such as p99).  ``tolerance`` (5%) keeps a trial that is truly that close to the
  leader; ``z`` sets how rare a false stop is (``benchmarks/bench_fidelity.py`` measures it).
  Running trials are not leaders: the best of several noisy running values is biased upward.
* **Overloaded**, at any report after :data:`OVERLOAD_AFTER` seconds of an open-loop (latency)
  run: the served rate is below :data:`OVERLOAD_PRUNE_RATIO` of the offered rate at two reports
  in a row, with a backlog of at least :data:`OVERLOAD_BACKLOG` tasks that grew between them.  A
  growing backlog can never meet a latency goal (the final run would be infeasible anyway).

Baselines are never stopped; multi-objective studies are never pruned (Optuna cannot).  What a
stopped trial had measured stays in its user attributes (``fidelity``: seconds, rung, reason,
its running value and the leader's), so the report can say how far behind it was.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

import optuna
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial, TrialState

ATTR = "fidelity"  # per-trial user attribute: what was measured, and why it stopped
OPEN_ATTR = "fidelity_open"  # the last open-loop readings: [elapsed, offered, served]
RUNGS = (1 / 3, 2 / 3)
TOLERANCE = 0.05  # log-ratio gap that is never a reason to stop (about 5%)
Z = 2.5
FLOORS = {"maximize": 0.05, "minimize": 0.15}  # per-second noise at least this (log scale)
MIN_REFERENCES = 2  # completed trials with running values before the racing rule applies
OVERLOAD_AFTER = 2.0  # seconds of open-loop measurement before the overload rule applies
OVERLOAD_PRUNE_RATIO = 0.75  # served below this fraction of offered...
OVERLOAD_BACKLOG = 5.0  # ...with at least this many tasks behind, growing

Reason = Literal["behind", "overloaded"]
REASON_TEXT = {"behind": "behind the leader", "overloaded": "overloaded"}


@dataclass(frozen=True)
class Decision:
    """Why a trial was stopped."""

    reason: Reason
    step: int
    seconds: float  # of the current phase's measurement when stopped
    text: str
    rung: int | None = None  # 1-based rung (behind the leader)
    value: float | None = None  # the trial's running objective
    leader: int | None = None  # the leader's trial number
    leader_value: float | None = None  # the leader's value at the same step
    worse_by: float | None = None  # fraction worse than the leader (0.3: 30% worse)
    margin: float | None = None  # the log-ratio margin it had to exceed
    sigma: float | None = None  # per-second noise used (log scale)
    offered: float | None = None  # overloaded: tasks/s offered and served
    served: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


def rung_steps(trial_seconds: float, rungs: Sequence[float] = RUNGS) -> tuple[int, ...]:
    """Report steps at which the racing rule looks: step ``i`` is reported after ``i + 1`` s."""
    steps = {max(0, round(f * trial_seconds) - 1) for f in rungs}
    return tuple(sorted(steps))


def interval_noise(trials: Sequence[FrozenTrial]) -> tuple[float | None, int]:
    """Per-second noise (log scale) from completed trials' running values; (sigma, series used).

    A running mean of ``n`` intervals, read after ``k``, deviates from its final value with
    variance ``sigma^2 (1/k - 1/n)``: each deviation, so scaled, estimates ``sigma^2``.
    """
    total, count, series = 0.0, 0, 0
    for trial in trials:
        values = [v for _, v in sorted(trial.intermediate_values.items())]
        if len(values) < 2 or any(not (v > 0 and math.isfinite(v)) for v in values):
            continue
        n = len(values)
        last = math.log(values[-1])
        series += 1
        for i, value in enumerate(values[:-1]):
            k = i + 1
            total += (math.log(value) - last) ** 2 / (1 / k - 1 / n)
            count += 1
    if count == 0:
        return None, series
    return math.sqrt(total / count), series


def overload_decision(readings: object, step: int) -> Decision | None:
    """The overload rule on the last open-loop readings ([elapsed, offered, served], oldest
    first): two reports in a row clearly under the offered rate, the backlog growing."""
    if not isinstance(readings, list) or len(readings) < 2:
        return None
    try:
        (e0, o0, s0), (e1, o1, s1) = (tuple(map(float, r)) for r in readings[-2:])
    except (TypeError, ValueError):
        return None
    if e0 < OVERLOAD_AFTER or not (o0 > 0 and o1 > 0):
        return None
    behind0, behind1 = (o0 - s0) * e0, (o1 - s1) * e1
    if not (s0 < OVERLOAD_PRUNE_RATIO * o0 and s1 < OVERLOAD_PRUNE_RATIO * o1):
        return None
    if behind1 < OVERLOAD_BACKLOG or behind1 <= behind0:
        return None
    text = (
        f"overloaded after {e1:.1f} s: served {s1:.1f} of {o1:.3g} tasks/s offered, "
        f"{behind1:.0f} tasks behind and growing"
    )
    return Decision("overloaded", step, e1, text, offered=o1, served=s1)


class RacingPruner(optuna.pruners.BasePruner):
    """See the module docstring.  ``decisions`` keeps why each trial of this process stopped."""

    def __init__(
        self,
        trial_seconds: float,
        *,
        rungs: Sequence[float] = RUNGS,
        z: float = Z,
        tolerance: float = TOLERANCE,
        floors: Mapping[str, float] | None = None,
        min_references: int = MIN_REFERENCES,
    ) -> None:
        self.trial_seconds = trial_seconds
        self.steps = rung_steps(trial_seconds, rungs)
        self.z = z
        self.tolerance = tolerance
        self.floors = dict(floors or FLOORS)
        self.min_references = min_references
        self.decisions: dict[int, Decision] = {}
        self._looked: set[tuple[int, int]] = set()  # (trial, step) the racing rule has judged

    def describe(self) -> str:
        seconds = ", ".join(f"{s + 1} s" for s in self.steps)
        return (
            f"racing: at rungs after {seconds} of {self.trial_seconds:g} s, stop a trial whose "
            f"running value is behind the best completed trial's at the same point by more than "
            f"{self.tolerance:.0%} + {self.z:g} x noise x sqrt(2/seconds) (noise: this study's "
            f"per-second interval noise, at least {self.floors['maximize']:.0%} for throughput-"
            f"like, {self.floors['minimize']:.0%} for latency-like objectives); and stop a "
            f"latency run at once when it serves under {OVERLOAD_PRUNE_RATIO:.0%} of the offered "
            f"rate with a growing backlog (after {OVERLOAD_AFTER:g} s). Never a baseline."
        )

    def prune(self, study: optuna.Study, trial: FrozenTrial) -> bool:
        decision = self.decide(study, trial)
        if decision is not None:
            self.decisions[trial.number] = decision
        return decision is not None

    def decide(self, study: optuna.Study, trial: FrozenTrial) -> Decision | None:
        if len(study.directions) > 1 or trial.user_attrs.get("baseline"):
            return None
        step = trial.last_step
        over = overload_decision(trial.user_attrs.get(OPEN_ATTR), step if step is not None else -1)
        if over is not None:
            return over
        if step is None or step not in self.steps or (trial.number, step) in self._looked:
            return None
        self._looked.add((trial.number, step))
        return self._race(study, trial, step)

    def _race(self, study: optuna.Study, trial: FrozenTrial, step: int) -> Decision | None:
        value = trial.intermediate_values.get(step)
        if value is None or not (value > 0 and math.isfinite(value)):
            return None
        maximize = study.direction == StudyDirection.MAXIMIZE
        done = [
            t
            for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
            if t.number != trial.number
        ]
        sigma, series = interval_noise(done)
        if series < self.min_references:
            return None
        floor = self.floors["maximize" if maximize else "minimize"]
        sigma = max(floor, sigma or 0.0)
        leader = _leader(done, step, maximize)
        if leader is None:
            return None
        lead = leader.intermediate_values[step]
        gap = math.log(lead / value) if maximize else math.log(value / lead)
        k = step + 1
        margin = self.tolerance + self.z * sigma * math.sqrt(2 / k)
        if gap <= margin:
            return None
        worse = 1 - value / lead if maximize else value / lead - 1
        rung = self.steps.index(step) + 1
        text = (
            f"behind the leader at rung {rung} ({k} s): {value:.4g} against trial "
            f"{leader.number}'s {lead:.4g}, {worse:.0%} worse (margin {math.expm1(margin):.0%})"
        )
        return Decision(
            "behind",
            step,
            float(k),
            text,
            rung=rung,
            value=value,
            leader=leader.number,
            leader_value=lead,
            worse_by=worse,
            margin=margin,
            sigma=sigma,
        )


def _leader(trials: Sequence[FrozenTrial], step: int, maximize: bool) -> FrozenTrial | None:
    """The best feasible completed trial (by its final value) that reported ``step``."""
    ok = [
        t
        for t in trials
        if t.value is not None
        and math.isfinite(t.value)
        and step in t.intermediate_values
        and (t.intermediate_values[step] or 0) > 0
        and all(v <= 0 for v in t.constraints.values())
    ]
    if not ok:
        return None
    return max(ok, key=lambda t: (t.value or 0.0) if maximize else -(t.value or 0.0))


def summary(study: optuna.Study, rule: str) -> dict[str, Any]:
    """The study's screening: how many trials ran in full, how many were stopped and why, and the
    measured seconds against every trial at full length (``report.json``'s ``fidelity``)."""
    trials = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED))
    measured = full = 0.0
    reasons: dict[str, int] = {}
    screened = 0
    for t in trials:
        attr = t.user_attrs.get(ATTR)
        info = attr if isinstance(attr, dict) else {}
        length = _number(info.get("full_seconds"))
        seconds = _number(info.get("seconds"))
        if t.state == TrialState.PRUNED:
            screened += 1
            reason = str(info.get("reason") or "unknown")
            reasons[reason] = reasons.get(reason, 0) + 1
        else:
            seconds = seconds if seconds is not None else length
        if length is None or seconds is None:
            continue
        measured += min(seconds, length)
        full += length
    return {
        "rule": rule,
        "trials": len(trials),
        "screened_out": screened,
        "full": len(trials) - screened,
        "by_reason": reasons,
        "seconds_measured": round(measured, 1),
        "seconds_full_length": round(full, 1),
        "seconds_saved": round(full - measured, 1),
    }


def summary_line(data: Mapping[str, Any]) -> str:
    """'Racing: 4 of 9 trials stopped early (overloaded: 2, behind the leader: 2), 31 s of 90 s
    saved'."""
    reasons = data.get("by_reason") or {}
    parts = [f"{REASON_TEXT.get(k, k)}: {n}" for k, n in sorted(reasons.items())]
    why = f" ({', '.join(parts)})" if parts else ""
    return (
        f"Racing: {data['screened_out']} of {data['trials']} trials stopped early{why}, "
        f"{data['seconds_saved']:.0f} s of {data['seconds_full_length']:.0f} s saved"
    )


def _number(value: object) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None
