"""What one trial is: one ``bench`` measurement of one configuration, turned into Optuna values.

The default objective maximises throughput under constraints (``trial.set_constraint``, feasible
when <= 0): no lost or failed tasks, p99 <= ``--p99-slo`` when given, and no overload for latency
goals (see :mod:`tuner.optimize.feasibility`).  In single-objective
studies the trial reports intermediate values about once a second and the racing pruner of
:mod:`tuner.optimize.fidelity` may stop it (behind the leader, or an overloaded latency run);
multi-objective studies cannot be pruned (Optuna raises NotImplementedError).

Memory is a result like the others: ``rss`` (the peak resident memory of the worker's processes,
summed, as bench reports it in ``rss_peak_mb``) can be minimised next to another objective
(``--objectives throughput,rss``), and ``--max-rss MB`` makes a trial over it infeasible.
"""

from __future__ import annotations

import math
import os
import socket
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import optuna

from tuner.optimize.fidelity import ATTR, OPEN_ATTR, RacingPruner
from tuner.optimize.space import Choice, Space, suggest

if TYPE_CHECKING:
    from tuner.bench.broker import Broker
    from tuner.bench.config import WorkerConfig
    from tuner.bench.metrics import Metrics
    from tuner.bench.workloads import Workload
    from tuner.optimize.measure import Plan

Direction = Literal["minimize", "maximize"]
DIRECTIONS: dict[str, Direction] = {
    "throughput": "maximize",
    "p99": "minimize",
    "efficiency": "maximize",
    "rss": "minimize",
}
UNITS = {"throughput": "tasks/s", "p99": "s", "efficiency": "", "rss": "MB"}
# The bench metric an objective reads, when its name differs.
METRIC_OF = {"rss": "rss_peak_mb"}
# Objectives that need a companion: alone, minimising memory picks the smallest pool.
COMPANION_ONLY = ("rss",)


class GoalError(ValueError):
    """A bad ``--objective``/``--objectives``/``--p99-slo`` combination."""


@dataclass(frozen=True)
class Goal:
    """The objective(s) and the constraints every trial is held to."""

    objectives: tuple[str, ...] = ("throughput",)
    p99_slo: float | None = None
    max_rss: float | None = None  # MB (MiB, as bench's rss_peak_mb) of the worker's processes

    @property
    def directions(self) -> list[Direction]:
        return [DIRECTIONS[o] for o in self.objectives]

    @property
    def multi(self) -> bool:
        return len(self.objectives) > 1

    def describe(self) -> str:
        words = {"maximize": "maximise", "minimize": "minimise"}
        parts = [f"{words[DIRECTIONS[o]]} {o}" for o in self.objectives]
        text = " and ".join(parts)
        limits = ["no lost or failed tasks"]
        if self.p99_slo is not None:
            limits.insert(0, f"p99 <= {self.p99_slo:g} s")
        if self.p99_slo is not None or "p99" in self.objectives:
            limits.append("no overload (served keeps up with offered)")
        if self.max_rss is not None:
            limits.insert(0, f"peak RSS <= {self.max_rss:g} MB")
        return f"{text}, subject to {', '.join(limits)}"

    def values(self, metrics: Mapping[str, Any]) -> list[float]:
        out = []
        for name in self.objectives:
            value = metrics.get(METRIC_OF.get(name, name))
            if value is None or not math.isfinite(float(value)):
                raise ValueError(f"the trial measured no {name}")
            out.append(float(value))
        return out

    def constraints(self, metrics: Mapping[str, Any]) -> dict[str, float]:
        """Constraint values, feasible when <= 0 (see :mod:`tuner.optimize.feasibility`)."""
        from tuner.optimize.feasibility import constraint_values

        return constraint_values(metrics, self)

    def memory_constraints(self, metrics: Mapping[str, Any]) -> dict[str, float]:
        """``rss_over_max`` (MB over ``--max-rss``; unmeasured counts as over), when set."""
        if self.max_rss is None:
            return {}
        rss = metrics.get("rss_peak_mb")
        if rss is None or not math.isfinite(float(rss)):
            return {"rss_over_max": 1e9}
        return {"rss_over_max": float(rss) - self.max_rss}

    def memory_violations(self, runs: Sequence[Mapping[str, Any]]) -> list[str]:
        """What re-measured rounds broke of ``--max-rss`` (the median peak decides)."""
        if self.max_rss is None or not runs:
            return []
        peaks = [r.get("rss_peak_mb") for r in runs]
        if any(p is None or not math.isfinite(float(p)) for p in peaks):
            return [f"no RSS measured (limit {self.max_rss:g} MB)"]
        mid = statistics.median(float(p) for p in peaks if p is not None)
        return (
            [f"peak RSS {mid:.0f} MB over the {self.max_rss:g} MB limit"]
            if mid > self.max_rss
            else []
        )


def parse_goal(
    objective: str | None,
    objectives: str | None,
    p99_slo: float | None,
    max_rss: float | None = None,
) -> Goal:
    if objective and objectives:
        raise GoalError("give --objective or --objectives, not both")
    if objectives:
        names = tuple(o.strip() for o in objectives.split(",") if o.strip())
    else:
        names = (objective or "throughput",)
    for name in names:
        if name not in DIRECTIONS:
            raise GoalError(f"unknown objective {name!r} (use {', '.join(DIRECTIONS)})")
    if len(set(names)) != len(names):
        raise GoalError(f"--objectives {objectives!r} names an objective twice")
    if p99_slo is not None and not p99_slo > 0:
        raise GoalError("--p99-slo must be a positive number of seconds")
    if max_rss is not None and not (max_rss > 0 and math.isfinite(max_rss)):
        raise GoalError("--max-rss must be a positive number of MB")
    if all(n in COMPANION_ONLY for n in names):
        raise GoalError(
            "rss is minimised next to another objective, e.g. --objectives throughput,rss "
            "(alone it picks the smallest pool); to cap memory use --max-rss MB"
        )
    return Goal(names, p99_slo, max_rss)


@dataclass
class TrialObjective:
    """The callable handed to ``study.optimize``: one measurement (see :mod:`.measure`) per trial.

    Baseline trials (enqueued with a ``baseline`` user attribute) run the baseline's own
    WorkerConfig; their params are its projection onto the space, so the sampler learns from them.
    Baselines report intermediate values (references for the pruner) but are never pruned.
    Open-loop runs also record their last offered/served rates (``fidelity_open``) for the
    overload rule; every trial gets a ``fidelity`` user attribute (seconds measured of the full
    length, and for a stopped trial the rule, rung, its running value and the leader's).
    A trap seed (a ``trap`` user attribute naming one of ``references``) runs that choice as
    it is, even where the searched space cannot hold it (:mod:`tuner.optimize.seeds`).
    """

    space: Space
    goal: Goal
    workload: Workload
    plan: Plan
    broker: Broker
    baselines: Mapping[str, WorkerConfig]
    make_config: Callable[[Choice, str], WorkerConfig]
    prune: bool = True
    on_interval: Callable[[int, float, Metrics], None] | None = None
    on_start: Callable[[int, str], None] | None = None
    references: Mapping[str, Choice] = field(default_factory=dict)

    def config_for(self, trial: optuna.Trial) -> tuple[WorkerConfig, Choice]:
        baseline = trial.user_attrs.get("baseline")
        choice = suggest(trial, self.space)
        if isinstance(baseline, str) and baseline in self.baselines:
            return self.baselines[baseline], choice
        trap = trial.user_attrs.get("trap")
        if isinstance(trap, str) and trap in self.references:
            ran = dict(self.references[trap])
            return self.make_config(ran, f"trial {trial.number}"), ran
        return self.make_config(choice, f"trial {trial.number}"), choice

    def __call__(self, trial: optuna.Trial) -> float | Sequence[float]:
        from tuner.optimize.measure import measure, merge

        baseline = trial.user_attrs.get("baseline")
        config, choice = self.config_for(trial)
        trial.set_user_attr("config", _plain(config.as_dict()))
        trial.set_user_attr("choice", _plain(choice))
        trial.set_user_attr("host", socket.gethostname())
        trial.set_user_attr("pid", os.getpid())
        if self.on_start is not None:
            self.on_start(trial.number, config.label)
        objective = self.goal.objectives[0]
        report_phase = "open" if objective == "p99" else "saturate"
        phases = self.plan.phases
        full_seconds = self.plan.seconds * len(phases)
        step = [0]
        readings: list[list[float]] = []
        screen = self.prune and not baseline and not self.goal.multi

        def interval(phase: str, elapsed: float, partial: Metrics) -> None:
            if self.on_interval is not None:
                self.on_interval(trial.number, elapsed, partial)
            if self.goal.multi:
                return
            look = False
            offered, served = partial.offered_rate, partial.served_rate
            if screen and phase == "open" and offered and served is not None:
                readings.append([elapsed, offered, served])
                trial.set_user_attr(OPEN_ATTR, readings[-3:])
                look = True
            value = partial.as_dict().get(objective) if phase == report_phase else None
            if value is not None and math.isfinite(float(value)):
                trial.report(float(value), step[0])
                step[0] += 1
                look = True
            if look and screen and trial.should_prune():
                done = self.plan.seconds * [str(p) for p in phases].index(phase)
                _stopped(trial, done + elapsed, full_seconds, phase, elapsed)
                trial.set_user_attr("metrics", _plain(partial.as_dict()))
                raise optuna.TrialPruned(f"pruned after {elapsed:.1f} s of {phase} load")

        try:
            runs = measure(config, self.workload, self.plan, self.broker, on_interval=interval)
        except optuna.TrialPruned:
            raise
        except KeyboardInterrupt:
            trial.set_user_attr("error", "interrupted (Ctrl-C or SIGTERM)")
            raise
        except Exception as exc:
            text = str(exc).strip()
            trial.set_user_attr("error", text.splitlines()[0] if text else repr(exc))
            raise
        metrics = merge(runs)
        trial.set_user_attr("metrics", _plain(metrics))
        trial.set_user_attr(ATTR, {"seconds": full_seconds, "full_seconds": full_seconds})
        if len(runs) > 1:
            trial.set_user_attr("runs", {k: _plain(v) for k, v in runs.items()})
        constraints = self.goal.constraints(metrics)
        trial.set_user_attr("constraints", constraints)
        for key, value in constraints.items():
            trial.set_constraint(key, value)
        values = self.goal.values(metrics)
        return values[0] if len(values) == 1 else values


def _plain(data: Mapping[str, Any]) -> dict[str, Any]:
    """JSON-storable copy (Optuna user attributes must serialise)."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, float) and not math.isfinite(value):
            out[key] = None
        elif value is None or isinstance(value, (str, int, float, bool)):
            out[key] = value
        elif isinstance(value, Mapping):
            out[key] = _plain(value)
        elif isinstance(value, (list, tuple)):
            out[key] = [v if isinstance(v, (str, int, float, bool)) else str(v) for v in value]
        else:
            out[key] = str(value)
    return out


def make_pruner(trial_seconds: float) -> optuna.pruners.BasePruner:
    """The racing pruner of :mod:`tuner.optimize.fidelity` (rungs at 1/3 and 2/3 of a run, a
    margin from this study's measured noise, overloaded latency runs stopped at once)."""
    return RacingPruner(trial_seconds)


def _stopped(
    trial: optuna.Trial, seconds: float, full_seconds: float, phase: str, elapsed: float
) -> None:
    """Record what a stopped trial measured and why it stopped (the ``fidelity`` user attr)."""
    pruner = trial.study.pruner
    decision = pruner.decisions.get(trial.number) if isinstance(pruner, RacingPruner) else None
    info: dict[str, Any] = (
        decision.as_dict()
        if decision is not None
        else {"reason": "behind", "text": f"stopped by {type(pruner).__name__}"}
    )
    info.update(
        seconds=round(seconds, 2),  # of every phase: what the trial measured in all
        full_seconds=full_seconds,
        phase=phase,
        phase_seconds=round(elapsed, 2),
    )
    trial.set_user_attr(ATTR, _plain(info))
