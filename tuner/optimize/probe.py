"""A cheap probe before the search: does the workload's task hold the GIL?

It runs ``celery-tune profile``'s measurement (:func:`tuner.commands.profile.measure`: py-spy on a
worker under saturating load) for a few seconds on a threads pool with at least two threads, and
reads how often a task thread waited for the GIL.  Pure-Python CPU work makes the threads queue for
the one GIL (a thread waits in most samples); C code that releases it (zlib, hashlib, numpy, Pillow)
lets them run side by side (little wait).  The decision:

- the task holds the GIL (wait >= :data:`HOLDS_GIL_PCT`): threads and green pools are ruled out
  for CPU work, they can only queue for one GIL;
- it releases the GIL: they stay in the space, where they may match prefork with less memory.

Why 80% and not 20% (``profile``'s bound for "the GIL costs something"): a task that holds the
GIL keeps a task thread waiting in nearly every sample, whatever the machine's load (99.8-100% on
``cpu`` over 3 runs, load average 12-16 on 2 CPUs); a task that releases it still waits each time
it returns from C and finds the GIL taken, or finds no CPU to run on, and on that loaded machine
this came to 45-52% on ``native`` (3 runs).  80% says the task holds the GIL outright.

The result is a small frozen record: the search space uses it (:func:`restrict`), the report
states it (:meth:`GilProbe.describe`).
"""

from __future__ import annotations

import io
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING

from tuner.optimize.space import GREEN_POOLS, Space
from tuner.profile.verdict import HOLDS

if TYPE_CHECKING:
    from tuner.bench.workloads import Workload
    from tuner.profile.report import Profile

HOLDS_GIL_PCT = HOLDS  # % of samples with a task thread waiting for the GIL (80)
SHARED_GIL_POOLS = ("threads", *GREEN_POOLS)  # pools whose tasks share one process's GIL
DEFAULT_SECONDS = 4
DEFAULT_WARMUP = 1.5


class ProbeError(Exception):
    """The probe could not measure (no py-spy, no ptrace permission, the worker failed)."""


@dataclass(frozen=True)
class GilProbe:
    """What the probe measured and what it decided."""

    workload: str
    threads: int  # concurrency of the threads pool probed
    seconds: int  # sampled seconds
    gil_wait_pct: float  # % of samples in which a task thread waited for the GIL
    gil_pct: float  # % of samples in which some thread ran Python (held the GIL)
    native_pct: float  # % of samples in which some thread ran third-party native code
    holds_gil: bool
    ruled_out: tuple[str, ...] = ()  # pools the decision removes from the space

    def describe(self) -> str:
        figure = (
            f"GIL probe ({self.workload}, threads pool x{self.threads}, {self.seconds} s of "
            f"py-spy): a task thread waited for the GIL in {self.gil_wait_pct:.0f}% of samples "
            f"(native code in {self.native_pct:.0f}%)"
        )
        if self.holds_gil:
            return (
                f"{figure}: the task holds the GIL, so threads and green pools are ruled out "
                f"for this CPU work (bound: {HOLDS_GIL_PCT:.0f}%)"
            )
        return (
            f"{figure}: the task releases the GIL, so threads stay in the search "
            f"(bound: {HOLDS_GIL_PCT:.0f}%)"
        )

    def as_dict(self) -> dict[str, object]:
        out = asdict(self)
        out["ruled_out"] = list(self.ruled_out)
        out["decision"] = self.describe()
        return out


def decide(
    workload: str,
    threads: int,
    seconds: int,
    *,
    gil_wait_pct: float,
    gil_pct: float = 0.0,
    native_pct: float = 0.0,
) -> GilProbe:
    """The decision from the figures a threads-pool profile measured."""
    holds = gil_wait_pct >= HOLDS_GIL_PCT
    return GilProbe(
        workload=workload,
        threads=threads,
        seconds=seconds,
        gil_wait_pct=round(gil_wait_pct, 1),
        gil_pct=round(gil_pct, 1),
        native_pct=round(native_pct, 1),
        holds_gil=holds,
        ruled_out=SHARED_GIL_POOLS if holds else (),
    )


def from_profile(profile: Profile, workload: str, threads: int, seconds: int) -> GilProbe:
    """:func:`decide` on a profile of a threads-pool worker (every thread in one process)."""
    sampled = [p for p in profile.processes if p.samples > 0]
    if not sampled:
        raise ProbeError("the GIL probe took no samples")
    busiest = max(sampled, key=lambda p: (p.gil_wait_pct, p.active_pct))
    return decide(
        workload,
        threads,
        seconds,
        gil_wait_pct=busiest.gil_wait_pct,
        gil_pct=busiest.gil_pct,
        native_pct=busiest.native_pct,
    )


def probe(
    workload: Workload,
    cpus: int,
    *,
    broker: str | None = None,
    seconds: int = DEFAULT_SECONDS,
    warmup: float = DEFAULT_WARMUP,
) -> GilProbe:
    """Profile ``workload`` on a threads pool with max(2, cpus) threads; raises ProbeError."""
    from tuner.bench.errors import BenchError
    from tuner.commands.profile import Options, ProfileError, measure
    from tuner.profile.pyspy import PySpyError

    threads = max(2, cpus)
    options = Options(
        workload=workload.name,
        pool="threads",
        concurrency=threads,
        broker=broker,
        duration=seconds,
        warmup=warmup,
    )
    try:
        profile = measure(options, workload, err=io.StringIO())
    except (ProfileError, PySpyError, BenchError) as exc:
        text = str(exc).strip().splitlines()
        raise ProbeError(text[0] if text else repr(exc)) from None
    return from_profile(profile, workload.name, threads, seconds)


def restrict(space: Space, decision: GilProbe) -> Space:
    """``space`` without the pools the decision rules out (kept if nothing else would be left)."""
    pool = space.get("pool")
    if pool is None or not decision.ruled_out or not pool.choices:
        return space
    kept = tuple(c for c in pool.choices if c not in decision.ruled_out)
    if not kept or len(kept) == len(pool.choices):
        return space
    params = tuple(replace(p, choices=kept) if p is pool else p for p in space.params)
    return replace(space, params=params)


__all__ = ["GilProbe", "ProbeError", "decide", "from_profile", "probe", "restrict"]
