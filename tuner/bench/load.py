"""When tasks are sent: open-loop arrivals (Poisson or constant rate) or a saturating closed loop.

Open loop: every task has a *scheduled* send time drawn in advance, whatever the workers do, and
its latency is measured from that time, so a slow worker cannot hide its backlog (no coordinated
omission).  Saturate: enough outstanding tasks to keep every child busy, for maximum throughput.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Literal

from tuner.bench.errors import BenchError

Mode = Literal["open", "saturate"]
Arrivals = Literal["poisson", "constant"]
DEFAULT_LOAD = 0.7


@dataclass(frozen=True)
class LoadSpec:
    mode: Mode = "open"
    rate: float | None = None  # tasks/s (open)
    load: float | None = None  # fraction of measured capacity (open)
    arrivals: Arrivals = "poisson"
    warmup: float = 2.0  # seconds, not counted
    duration: float | None = 10.0  # measured seconds...
    tasks: int | None = None  # ...or a task count (wins over duration)
    seed: int = 0

    def validate(self) -> LoadSpec:
        """Check the spec; an open loop with neither rate nor load gets ``load=0.7``."""
        if self.mode not in ("open", "saturate"):
            raise BenchError(f"unknown load mode {self.mode!r}")
        if self.arrivals not in ("poisson", "constant"):
            raise BenchError(f"--arrivals must be poisson or constant, got {self.arrivals!r}")
        if self.mode == "saturate" and (self.rate is not None or self.load is not None):
            raise BenchError("--saturate excludes --rate and --load")
        if self.rate is not None and not (self.rate > 0 and math.isfinite(self.rate)):
            raise BenchError(f"--rate must be > 0 tasks/s, got {self.rate}")
        if self.load is not None and not (0 < self.load <= 10):
            raise BenchError(f"--load must be a fraction of capacity in (0, 10], got {self.load}")
        if self.warmup < 0:
            raise BenchError(f"--warmup must be >= 0 s, got {self.warmup}")
        if self.tasks is not None and self.tasks < 1:
            raise BenchError(f"--tasks must be >= 1, got {self.tasks}")
        if self.tasks is None and (self.duration is None or self.duration <= 0):
            raise BenchError("give --duration SECONDS (> 0) or --tasks N")
        if self.mode == "open" and self.rate is None and self.load is None:
            return replace(self, load=DEFAULT_LOAD)
        return self

    @property
    def needs_capacity(self) -> bool:
        return self.mode == "open" and self.rate is None and self.load is not None

    def with_capacity(self, capacity: float) -> LoadSpec:
        """The open-loop rate for ``load`` x ``capacity`` tasks/s."""
        if capacity <= 0:
            raise BenchError("measured capacity is 0 tasks/s: the workers completed nothing")
        return replace(self, rate=(self.load or DEFAULT_LOAD) * capacity)

    def describe(self) -> dict[str, object]:
        return {
            "mode": self.mode,
            "rate": self.rate,
            "load": self.load,
            "arrivals": self.arrivals,
            "warmup": self.warmup,
            "duration": None if self.tasks is not None else self.duration,
            "tasks": self.tasks,
            "seed": self.seed,
        }


def arrivals(rate: float, kind: Arrivals, start: float, seed: int = 0) -> Iterator[float]:
    """Scheduled send times from ``start`` on: exponential gaps (Poisson) or ``1/rate`` apart.

    The stream is seeded apart from the tasks' (:meth:`Workload.plan`): with one seed for both,
    the draw that picks a rare long task would also make the gap after it long, and long tasks
    would never meet a burst.  Given a seed, every configuration gets the same arrivals and the
    same tasks (common random numbers), so their differences are not the dice's."""
    rng = random.Random(f"arrivals:{seed}")
    t = start
    while True:
        yield t
        t += rng.expovariate(rate) if kind == "poisson" else 1.0 / rate


def saturation_target(concurrency: int, prefetch_multiplier: int, nodes: int) -> int:
    """Outstanding tasks that keep every child busy: each node's prefetch window, plus as much
    again waiting in the queue (unlimited prefetch counts as 4 per child).  The driver raises it
    for short tasks, to keep a quarter of a second of work outstanding."""
    per_child = prefetch_multiplier if prefetch_multiplier > 0 else 4
    window = concurrency * max(per_child, 1) + concurrency
    return max(4, 2 * window * nodes)
