"""What is known before any trial: the default space narrowed, each narrowing with its reason.

Trials are few (ten by default) and each costs seconds of live load, so none is spent where the
answer is already known:

- CPU-bound work (``kind`` cpu) on two CPUs or more: solo is ruled out (one process, one task at a
  time, uses one CPU) and concurrency is searched from CPUs (fewer children leave CPUs idle) to
  2 x CPUs (more only take turns on the same CPUs: the audit's CT201; a few extra children can
  still help heavy-tailed task times, so CPUs + 1 .. 2 x CPUs stays inside);
- a workload that does not leak: ``max_tasks_per_child`` and ``max_memory_per_child`` bound leaks;
  without one they only add fork cost (``max_tasks_per_child=1`` re-forks after every task), so
  they stay at Celery's default, no limit;
- the GIL probe (:mod:`tuner.optimize.probe`): a task that holds the GIL rules out threads and
  green pools for CPU work.

Only the default space is narrowed: a user's ``--space`` is respected as written.  Baselines
(Celery's defaults, ``--config``) still widen the narrowed space so they are measured and the
sampler learns from them (:meth:`tuner.optimize.space.Space.widened`): a narrowed setting is kept
as a one-value parameter rather than pinned, so a baseline outside it widens it back.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from tuner.optimize.space import Param, Space

if TYPE_CHECKING:
    from tuner.optimize.probe import GilProbe

LEAK_LIMITS = ("max_tasks_per_child", "max_memory_per_child")


@dataclass(frozen=True)
class RuledOut:
    """One narrowing of the default space: ``what`` is no longer searched, and ``why``."""

    what: str
    why: str

    def as_dict(self) -> dict[str, str]:
        return {"what": self.what, "why": self.why}

    def describe(self) -> str:
        return f"ruled out: {self.what}: {self.why}"


def narrow(
    space: Space, *, cpus: int, kind: str, leaky: bool, probe: GilProbe | None = None
) -> tuple[Space, list[RuledOut]]:
    """The default ``space`` narrowed by what is known, and the reasons."""
    ruled: list[RuledOut] = []
    if probe is not None:
        space = _probe(space, probe, ruled)
    if kind == "cpu" and cpus >= 2:
        space = _cpu_bound(space, cpus, ruled)
    if not leaky:
        space = _no_leak(space, ruled)
    return space, ruled


def _replace(space: Space, old: Param, new: Param) -> Space:
    return replace(space, params=tuple(new if p is old else p for p in space.params))


def _probe(space: Space, decision: GilProbe, ruled: list[RuledOut]) -> Space:
    from tuner.optimize.probe import restrict

    narrowed = restrict(space, decision)
    before = space.get("pool")
    after = narrowed.get("pool")
    if before is not None and after is not None and after != before:
        gone = [str(c) for c in before.choices if c not in after.choices]
        ruled.append(RuledOut(f"pool {', '.join(gone)}", decision.describe()))
    return narrowed


def _cpu_bound(space: Space, cpus: int, ruled: list[RuledOut]) -> Space:
    pool = space.get("pool")
    if pool is not None and "solo" in pool.choices and len(pool.choices) > 1:
        kept = tuple(c for c in pool.choices if c != "solo")
        space = _replace(space, pool, replace(pool, choices=kept))
        ruled.append(
            RuledOut(
                "pool solo",
                f"CPU-bound work on {cpus} CPUs: solo runs one task at a time in one process, "
                f"so it uses one CPU and leaves {cpus - 1} idle",
            )
        )
    conc = space.get("concurrency")
    if conc is not None and conc.low is not None and conc.high is not None:
        low, high = max(conc.low, cpus), min(conc.high, 2 * cpus)
        if low <= high and (low, high) != (conc.low, conc.high):
            space = _replace(space, conc, replace(conc, low=low, high=high))
            ruled.append(
                RuledOut(
                    f"concurrency outside {low}..{high}",
                    f"CPU-bound work on {cpus} CPUs: fewer children than CPUs leave CPUs idle, "
                    f"and more than 2 x CPUs only take turns on the same CPUs (the audit's "
                    f"CT201); {cpus + 1} stays inside, since a few extra children can cut the "
                    "wait of short tasks behind long ones",
                )
            )
    return space


def _no_leak(space: Space, ruled: list[RuledOut]) -> Space:
    touched = False
    for key in LEAK_LIMITS:
        param = space.get(key)
        if param is None or param.choices == (None,):
            continue
        # One value, not a pin: a baseline that sets a limit widens it back (Space.widened).
        space = _replace(space, param, Param(key, choices=(None,)))
        touched = True
    if touched:
        ruled.append(
            RuledOut(
                "max_tasks_per_child, max_memory_per_child (kept at none)",
                "the workload does not leak memory: these limits bound leaks, and without one "
                "they only add fork cost (max_tasks_per_child=1 re-forks a child after every "
                "task)",
            )
        )
    return space


__all__ = ["RuledOut", "narrow"]
