"""A discrete-event simulation of a Celery fleet: Poisson arrivals, nodes x children, prefetch.

The model (see docs/plan.md):

- Tasks arrive at one broker queue as a Poisson process of ``rate`` tasks/s.
- Each of ``nodes`` workers runs ``concurrency`` children and *reserves* messages ahead of them, as
  Celery's QoS prefetch count does: with early acks (Celery's default) a message is acked when a
  child starts it, so up to ``multiplier x concurrency`` wait reserved on the node besides the
  running ones; with late acks the running ones count too (running + reserved <= the window);
  ``disable_prefetch`` (Celery 5.6+, Redis) fetches only for an idle child; multiplier 0 is
  unlimited.  A reserved task waits for a child of *its* node even when another node is idle
  (the head-of-line blocking that prefetch costs).
- A free window slot takes the head of the broker queue; an arriving task goes to the next node
  (round robin, as Redis serves blocked consumers in turn) that has a free slot.
- Service times are drawn from a measured sample (replayed, with replacement), plus a fixed
  per-task overhead that keeps the child busy.  That work is done at a speed of 1/slowdown(k)
  while k children are busy (processor sharing, k counted per node for independent machines,
  fleet-wide when every node shares one host; the slowdown comes from the USL fit), so a long
  task is slowed only while it has neighbours.  A fixed dispatch delay is added to each latency.

Latency is end minus arrival (plus the dispatch delay), as the bench measures it.
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

Slowdown = Callable[[int], float]


@dataclass(frozen=True)
class Fleet:
    """``nodes`` workers of ``concurrency`` children, with their prefetch settings."""

    nodes: int
    concurrency: int
    prefetch_multiplier: int = 4
    acks_late: bool = False
    disable_prefetch: bool = False

    def window(self) -> int | None:
        """Messages a node may hold unacked (None: unlimited)."""
        if self.disable_prefetch:
            return self.concurrency
        if self.prefetch_multiplier == 0:
            return None
        return self.prefetch_multiplier * self.concurrency

    @property
    def children(self) -> int:
        return self.nodes * self.concurrency


@dataclass(frozen=True)
class ServiceModel:
    """What one task costs a child: measured run times, a slowdown, fixed costs (seconds)."""

    samples: Sequence[float]
    overhead: float = 0.0  # child busy per task beyond its run time (bookkeeping, ack, result)
    dispatch: float = 0.0  # added to every latency (broker transit, polling)
    slowdown: Slowdown | None = None  # busy children -> service-time multiplier (1 at 1)
    shared_host: bool = False  # slowdown counts busy children fleet-wide (one machine)

    @property
    def mean(self) -> float:
        return float(np.mean(np.asarray(self.samples, dtype=float)))

    def factor(self, busy: int) -> float:
        return 1.0 if self.slowdown is None else max(1e-9, float(self.slowdown(busy)))

    def capacity(self, fleet: Fleet) -> float:
        """Saturated throughput (tasks/s) of ``fleet``: every child busy, none waiting."""
        c = fleet.concurrency
        if self.shared_host:
            n = fleet.children
            return n / ((self.mean + self.overhead) * self.factor(n))
        return fleet.nodes * c / ((self.mean + self.overhead) * self.factor(c))


@dataclass(frozen=True)
class SimResult:
    rate: float  # offered tasks/s
    throughput: float  # completed tasks/s over the measured span
    utilisation: float  # busy child-seconds / available child-seconds
    p50: float
    p90: float
    p99: float
    mean_latency: float
    mean_wait: float  # arrival to start
    wait_probability: float  # fraction of tasks that did not start on arrival
    tasks: int  # measured tasks
    stable: bool  # offered rate below the fleet's capacity
    latencies: np.ndarray = field(repr=False, compare=False, default_factory=lambda: np.empty(0))


def simulate(
    fleet: Fleet,
    service: ServiceModel,
    rate: float,
    *,
    tasks: int = 20_000,
    warmup: float = 0.1,
    seed: int = 0,
) -> SimResult:
    """Simulate ``tasks`` Poisson arrivals at ``rate``; the first ``warmup`` fraction is not
    measured.  Deterministic for a given seed."""
    if fleet.nodes < 1 or fleet.concurrency < 1:
        raise ValueError("a fleet needs at least one node and one child")
    if rate <= 0 or not math.isfinite(rate):
        raise ValueError(f"rate must be > 0, got {rate}")
    samples = np.asarray(service.samples, dtype=float)
    if samples.size == 0:
        raise ValueError("no service-time samples")
    rng = np.random.default_rng(seed)
    arrival = np.cumsum(rng.exponential(1.0 / rate, size=tasks))
    base = rng.choice(samples, size=tasks, replace=True) if samples.size > 1 else np.full(
        tasks, samples[0]
    )  # fmt: skip
    start = np.full(tasks, np.nan)
    end = np.full(tasks, np.nan)
    busy_time = np.zeros(tasks)

    nodes, c = fleet.nodes, fleet.concurrency
    window = fleet.window()
    late = fleet.acks_late or fleet.disable_prefetch
    busy = [0] * nodes
    reserved: list[deque[int]] = [deque() for _ in range(nodes)]
    queue: deque[int] = deque()
    rr = 0
    overhead = service.overhead
    shared = service.shared_host
    factors: dict[int, float] = {}
    # Processor sharing within a slowdown group (a node, or the whole fleet on one host): while k
    # of its children are busy each progresses at 1/factor(k) of its lone speed.  A virtual clock
    # per group advances at that rate; a task ends when the clock reaches its start mark + work.
    groups = 1 if shared else nodes
    vclock = [0.0] * groups
    vlast = [0.0] * groups
    gbusy = [0] * groups
    running: list[list[tuple[float, int, int]]] = [[] for _ in range(groups)]  # (mark, task, node)
    version = [0] * groups
    events: list[tuple[float, int, int]] = []  # (real time, version, group)

    def factor(k: int) -> float:
        f = factors.get(k)
        if f is None:
            f = factors[k] = service.factor(k)
        return f

    def advance(g: int, t: float) -> None:
        if gbusy[g]:
            vclock[g] += (t - vlast[g]) / factor(gbusy[g])
        vlast[g] = t

    def schedule(g: int) -> None:
        version[g] += 1
        if running[g]:
            due = vlast[g] + (running[g][0][0] - vclock[g]) * factor(gbusy[g])
            heapq.heappush(events, (due, version[g], g))

    def can_take(n: int) -> bool:
        if window is None:
            return True
        held = len(reserved[n]) + (busy[n] if late else 0)
        return held < window

    def begin(n: int, i: int, t: float) -> None:
        g = 0 if shared else n
        advance(g, t)
        busy[n] += 1
        gbusy[g] += 1
        start[i] = t
        heapq.heappush(running[g], (vclock[g] + base[i] + overhead, i, n))
        schedule(g)

    def take(n: int, i: int, t: float) -> None:
        if busy[n] < c:
            begin(n, i, t)
        else:
            reserved[n].append(i)

    def refill(n: int, t: float) -> None:
        # Start what the node holds, then fetch from the broker while the window allows.
        while busy[n] < c and reserved[n]:
            begin(n, reserved[n].popleft(), t)
        while queue and can_take(n):
            take(n, queue.popleft(), t)

    a = 0
    while True:
        while events and events[0][1] != version[events[0][2]]:
            heapq.heappop(events)  # superseded: the group's speed changed since
        if not events and a >= tasks:
            break
        if events and (a >= tasks or events[0][0] <= arrival[a]):
            t, _v, g = heapq.heappop(events)
            advance(g, t)
            _mark, i, n = heapq.heappop(running[g])
            end[i] = t
            busy_time[i] = t - start[i]
            busy[n] -= 1
            gbusy[g] -= 1
            refill(n, t)
            schedule(g)
            continue
        t = float(arrival[a])
        for k in range(nodes):
            n = (rr + k) % nodes
            if can_take(n):
                rr = (n + 1) % nodes
                take(n, a, t)
                break
        else:
            queue.append(a)
        a += 1

    first = int(tasks * warmup)
    t0, t1 = float(arrival[first]), float(arrival[-1])
    span = max(t1 - t0, 1e-9)
    lat = (end[first:] - arrival[first:]) + service.dispatch
    wait = start[first:] - arrival[first:]
    done = int(np.count_nonzero((end >= t0) & (end <= t1)))
    measured_busy = float(np.sum(busy_time[first:]))
    srt = np.sort(lat)
    return SimResult(
        rate=rate,
        throughput=done / span,
        utilisation=min(1.0, measured_busy / (span * fleet.children)),
        p50=_pct(srt, 0.50),
        p90=_pct(srt, 0.90),
        p99=_pct(srt, 0.99),
        mean_latency=float(np.mean(lat)),
        mean_wait=float(np.mean(wait)),
        wait_probability=float(np.mean(wait > 1e-12)),
        tasks=int(lat.size),
        stable=rate < service.capacity(fleet),
        latencies=lat,
    )


def _pct(sorted_values: np.ndarray, q: float) -> float:
    """Nearest-rank percentile, as the bench computes it."""
    n = sorted_values.size
    k = max(0, min(n - 1, math.ceil(q * n) - 1))
    return float(sorted_values[k])


# --- closed forms -------------------------------------------------------------------------------


def erlang_c(rate: float, mu: float, c: int) -> float:
    """Probability that an arriving task waits in an M/M/c queue (Erlang C formula)."""
    a = rate / mu
    rho = a / c
    if rho >= 1:
        return 1.0
    # sum_{k<c} a^k/k!, computed with a running term to stay finite for large c.
    term = 1.0
    total = 1.0
    for k in range(1, c):
        term *= a / k
        total += term
    last = term * a / c  # a^c / c!
    top = last / (1 - rho)
    return top / (total + top)


def mmc_mean_wait(rate: float, mu: float, c: int) -> float:
    """Mean time in queue of an M/M/c queue: C(c, a) / (c mu - rate)."""
    if rate >= c * mu:
        return math.inf
    return erlang_c(rate, mu, c) / (c * mu - rate)
