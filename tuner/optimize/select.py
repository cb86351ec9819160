"""Which trial to recommend: the best feasible one, or for several objectives the Pareto trial
closest to the ideal point (each objective scaled to 0..1 over the front)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import optuna
from optuna.trial import FrozenTrial, TrialState

from tuner.optimize.objectives import Goal


def feasible_trials(study: optuna.Study) -> list[FrozenTrial]:
    out = []
    for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        if t.values is None or any(v > 0 for v in t.constraints.values()):
            continue
        if all(math.isfinite(v) for v in t.values):
            out.append(t)
    return out


def _oriented(trial: FrozenTrial, goal: Goal) -> list[float]:
    """Values turned so that smaller is better for every objective."""
    assert trial.values is not None
    return [
        -v if d == "maximize" else v for v, d in zip(trial.values, goal.directions, strict=True)
    ]


def pareto(trials: Sequence[FrozenTrial], goal: Goal) -> list[FrozenTrial]:
    points = [(t, _oriented(t, goal)) for t in trials]

    def dominated(p: list[float]) -> bool:
        return any(all(a <= b for a, b in zip(q, p, strict=True)) and q != p for _, q in points)

    return [t for t, p in points if not dominated(p)]


def pick(
    study: optuna.Study, goal: Goal, skip: Callable[[FrozenTrial], bool] | None = None
) -> FrozenTrial | None:
    """The best feasible trial (Pareto: nearest the ideal point), leaving out ``skip``'s."""
    trials = [t for t in feasible_trials(study) if skip is None or not skip(t)]
    if not trials:
        return None
    if not goal.multi:
        return min(trials, key=lambda t: (_oriented(t, goal)[0], t.number))
    front = pareto(trials, goal)
    points = [_oriented(t, goal) for t in front]
    lows = [min(col) for col in zip(*points, strict=True)]
    highs = [max(col) for col in zip(*points, strict=True)]

    def distance(p: list[float]) -> float:
        scaled = [
            (v - lo) / (hi - lo) if hi > lo else 0.0
            for v, lo, hi in zip(p, lows, highs, strict=True)
        ]
        return math.hypot(*scaled)

    return min(zip(front, points, strict=True), key=lambda tp: (distance(tp[1]), tp[0].number))[0]
