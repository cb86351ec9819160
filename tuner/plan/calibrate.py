"""Fit the simulation's two per-task costs to the measured saturated runs of one node.

**The child's overhead.**  A child is held a little after each task: the result goes back to the
parent, the message is acked, and the node fetches the next one.  That cost is not one figure.
On the embedded broker a node polls its queue every 10 ms, and its polls keep the phase of the
last fetch.  With one child, the next poll after a 50 ms task comes about 10 ms after the task
ends.  With two or more, the children's fetches interleave and a poll comes sooner.  Measured idle
gaps between a child's tasks (io, prefork, prefetch 1, late acks) were 11 ms (median 12) at 1
child and 4 ms (median 3) at 2.  A single figure taken at 1 child made a 2-child node 10% slower
than it is.  So the overhead is fitted to each saturated run of one node (1..2 x CPUs children):
it is the figure at which the simulation's saturated throughput equals the measured one.  Each
run is replayed with its own mix of task types, so a window that happened to hold few of the rare
long tasks is not mistaken for a cheap child.  A fleet's nodes of ``c`` children use the figure
fitted at ``c``.  Past the fitted range, they use the one fitted at the largest ``c``.

**The worker's own CPU.**  The prefork parent's CPU per task (reading, dispatching, acking,
polling) is measured from the worker tree's CPU.  Charged in full as work that competes with the
tasks for the CPUs, it made the simulation slower than the measurement at 3 and 4 children on 2
CPUs even with no child overhead (mixed: 8.5% short at 4 children); probably much of it runs
while the child it serves is idle anyway (not measured).  So the charge is the largest share of
the measured figure with which the simulation still reaches every measured run (to within
:data:`REACH`).  In the benchmark of
29 Nov 2026 (``benchmarks/bench_plan.py``) that was 40% of it for mixed (1.15 of 2.84 ms) and all
of it for cpu-heavy-tail and io.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from tuner.plan.sim import Fleet, ServiceModel

TOLERANCE = 1e-4  # seconds: a tenth of a millisecond of child time per task
REACH = 0.01  # the simulation may fall this far short of a measured run
CHARGE_STEPS = 5  # bisection steps on the share of the worker's CPU charged


@dataclass(frozen=True)
class Overhead:
    concurrency: int  # children of the measured node
    seconds: float  # child time per task beyond its run, fitted
    residual: float  # simulated / measured saturated throughput - 1 at that figure (0 if met)

    def as_dict(self) -> dict[str, float]:
        return {"concurrency": self.concurrency, "seconds": self.seconds, "residual": self.residual}


@dataclass(frozen=True)
class Run:
    """One measured saturated run of a single node: its children, tasks/s, and the simulation
    input that replays its mix of task types."""

    concurrency: int
    throughput: float
    service: ServiceModel
    fleet: Fleet


def fit_overhead(run: Run) -> Overhead:
    """The child overhead at which the simulation of ``run`` saturates at its measured rate."""
    from scipy.optimize import brentq

    def gap(seconds: float) -> float:
        return capacity(run.service, run.fleet, seconds) / run.throughput - 1.0

    at_zero = gap(0.0)
    if at_zero <= 0:
        return Overhead(run.concurrency, 0.0, at_zero)
    # c / measured child-seconds per task is an upper bound: the run itself takes some.
    seconds = float(brentq(gap, 0.0, run.concurrency / run.throughput, xtol=TOLERANCE))
    return Overhead(run.concurrency, seconds, 0.0)


def fit(runs: Sequence[Run], worker_cpu: float) -> tuple[float, tuple[Overhead, ...]]:
    """(worker CPU charged per task, overheads): the largest charge up to ``worker_cpu`` with
    which every run is reached, and the overheads fitted with it."""
    runs = sorted((r for r in runs if r.throughput > 0), key=lambda r: r.concurrency)

    def with_charge(charge: float) -> tuple[Overhead, ...]:
        return tuple(
            fit_overhead(replace(r, service=replace(r.service, overhead_cpu=charge))) for r in runs
        )

    def reached(fitted: tuple[Overhead, ...]) -> bool:
        return all(o.residual >= -REACH for o in fitted)

    full = with_charge(worker_cpu)
    if worker_cpu <= 0 or reached(full):
        return worker_cpu, full
    lo, hi = 0.0, worker_cpu
    best = with_charge(0.0)
    for _ in range(CHARGE_STEPS):
        mid = (lo + hi) / 2
        fitted = with_charge(mid)
        if reached(fitted):
            lo, best = mid, fitted
        else:
            hi = mid
    return lo, best


def capacity(service: ServiceModel, fleet: Fleet, overhead: float) -> float:
    """Saturated tasks/s of ``fleet`` with ``overhead`` child-seconds per task."""
    return replace(service, overhead=overhead, shared_host=False).capacity(fleet)


def overhead_for(fitted: Sequence[Overhead], concurrency: int, default: float) -> float:
    """The figure fitted at ``concurrency``, else the next larger fitted one; past the fitted
    range, the one fitted at the largest ``c`` (``default`` when nothing was fitted)."""
    if not fitted:
        return default
    by_c = sorted(fitted, key=lambda o: o.concurrency)
    for o in by_c:
        if o.concurrency >= concurrency:
            return o.seconds
    return by_c[-1].seconds
