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
- Each task is drawn from a measured sample (with replacement, optionally weighted so that the
  task types come in the workload's proportions): its run time, and, when known,
  the CPU seconds of that run.  A task is a *CPU part* (its CPU seconds) then a *wait part* (the
  rest of its run time: sleeping, I/O), then the child stays busy for a fixed per-task overhead
  (ack, result, fetching the next message) that is not part of the task's latency.  The worker's
  own CPU per task (``overhead_cpu``: the prefork parent reading, dispatching and acking) is a
  job of its own on the host once the task ends: it shares the CPUs but holds no child.
- CPU sharing (``cpus`` given, the CPU seconds known): the tasks in their CPU part on one host of
  C CPUs each progress at min(1, C / k) of full speed while k of them are (processor sharing, as
  Linux's CFS shares C CPUs among k runnable processes); the wait part is not slowed.  A host is
  a node, or the whole fleet when every node shares one machine (``shared_host``).
- Otherwise (no CPU seconds): the whole run is contended, at 1/slowdown(k) of its speed while k
  children of the host are busy (processor sharing with the USL slowdown).
- A fixed dispatch delay (broker transit, polling) is added to each latency.

Latency is end of the run minus arrival (plus the dispatch delay), as the bench measures it.
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

Slowdown = Callable[[int], float]
CAPACITY_TASKS = 4_000  # simulated tasks per saturated-throughput estimate


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
    """What one task costs a child: measured run times (and their CPU seconds), fixed costs.

    With ``cpus`` and ``cpu`` (paired with ``samples``) the CPU parts share the host's CPUs;
    otherwise the whole run is slowed by ``slowdown`` (busy children of the host -> multiplier).
    """

    samples: Sequence[float]  # run (wall) seconds of each measured task
    overhead: float = 0.0  # child busy per task after its run (ack, result, next fetch)
    dispatch: float = 0.0  # added to every latency (broker transit, polling)
    slowdown: Slowdown | None = None  # busy children -> run-time multiplier (1 at 1)
    shared_host: bool = False  # every node on one machine: they contend fleet-wide
    cpu: Sequence[float] | None = None  # CPU seconds of the same tasks as ``samples``
    cpus: float | None = None  # CPUs of one host (a node, or the machine when shared_host)
    weights: Sequence[float] | None = None  # probability of drawing each sample (None: equal)
    overhead_cpu: float = 0.0  # the worker's own CPU seconds per task (CPU sharing only)
    _capacity: dict[tuple[int, int], float] = field(
        default_factory=dict, init=False, repr=False, compare=False, hash=False
    )

    def __post_init__(self) -> None:
        if self.cpu is not None and len(self.cpu) != len(self.samples):
            raise ValueError("cpu seconds must pair with the run-time samples")
        if self.weights is not None and len(self.weights) != len(self.samples):
            raise ValueError("sample weights must pair with the run-time samples")
        if self.cpus is not None and not self.cpus > 0:
            raise ValueError(f"cpus must be > 0, got {self.cpus}")

    @property
    def cpu_sharing(self) -> bool:
        """True when the CPU parts share the host's CPUs (else: the USL-style slowdown)."""
        return self.cpus is not None and self.cpu is not None

    @property
    def mean(self) -> float:
        runs = np.asarray(self.samples, dtype=float)
        return float(np.average(runs, weights=self.probabilities()))

    def probabilities(self) -> np.ndarray | None:
        if self.weights is None:
            return None
        w = np.asarray(self.weights, dtype=float)
        out: np.ndarray = w / float(w.sum())
        return out

    def parts(self) -> tuple[np.ndarray, np.ndarray]:
        """(contended part, uncontended part) of each sample, seconds at full speed."""
        runs = np.asarray(self.samples, dtype=float)
        if not self.cpu_sharing:
            return runs, np.zeros_like(runs)
        cpu = np.clip(np.asarray(self.cpu, dtype=float), 0.0, runs)
        return cpu, runs - cpu

    def factor(self, busy: int) -> float:
        """How much longer the contended part takes with ``busy`` children of a host busy in it:
        max(1, k / C) with CPU sharing, the slowdown otherwise (1 without either)."""
        if self.cpu_sharing:
            return max(1.0, busy / float(self.cpus))  # type: ignore[arg-type]
        return 1.0 if self.slowdown is None else max(1e-9, float(self.slowdown(busy)))

    def stretch(self, busy: int) -> float:
        """How much longer a run takes, on average, with ``busy`` children of a host busy all the
        time: only its contended part is slowed, by :meth:`factor`."""
        contended, rest = self.parts()
        p = self.probabilities()
        slow = float(np.average(contended, weights=p)) * self.factor(busy)
        total = float(np.average(contended + rest, weights=p))
        return (slow + float(np.average(rest, weights=p))) / total if total > 0 else 1.0

    def capacity(self, fleet: Fleet) -> float:
        """Saturated throughput (tasks/s) of ``fleet``: every child busy, none waiting.

        With the USL slowdown, every busy child is slowed alike: n / (mean x factor(n) +
        overhead) per host.  With CPU sharing the children are not all in their CPU part at once,
        so the figure is simulated (a saturated run of 4,000 tasks, cached)."""
        c = fleet.concurrency
        per_host = fleet.children if self.shared_host else c
        hosts = 1 if self.shared_host else fleet.nodes
        if not self.cpu_sharing:
            return hosts * per_host / (self.mean * self.factor(per_host) + self.overhead)
        # Hosts apart saturate independently: one host's figure times the hosts.
        one = Fleet(1, per_host, fleet.prefetch_multiplier, fleet.acks_late, fleet.disable_prefetch)
        got = self._capacity.get((1, per_host))
        if got is None:
            got = self._capacity[(1, per_host)] = _saturated(replace(self, shared_host=False), one)
        return hosts * got


def _saturated(service: ServiceModel, fleet: Fleet) -> float:
    """Completions/s while the queue never empties (arrivals well above any capacity)."""
    per_task = service.mean + service.overhead
    upper = fleet.children / max(per_task, 1e-9)
    res = _run(fleet, service, 2.0 * upper, tasks=CAPACITY_TASKS, warmup=0.0, seed=0)
    ends = np.sort(res.end)
    a, b = len(ends) // 4, len(ends) - 1 - len(ends) // 4  # the queue is long in between
    return float((b - a) / max(ends[b] - ends[a], 1e-12))


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


@dataclass(frozen=True)
class _Trace:
    arrival: np.ndarray
    start: np.ndarray
    end: np.ndarray  # end of the run (the latency's end)
    busy: np.ndarray  # child-seconds each task held its child (run + overhead)


def simulate(
    fleet: Fleet,
    service: ServiceModel,
    rate: float,
    *,
    tasks: int = 20_000,
    warmup: float = 0.1,
    seed: int = 0,
    replay: Replay | None = None,
) -> SimResult:
    """Simulate ``tasks`` Poisson arrivals at ``rate``; the first ``warmup`` fraction is not
    measured.  Deterministic for a given seed.  With ``replay``, its arrivals and task picks are
    simulated instead (``tasks`` and ``warmup`` are then the replay's)."""
    tr = _run(fleet, service, rate, tasks=tasks, warmup=warmup, seed=seed, replay=replay)
    if replay is not None:
        tasks = len(replay.arrivals)
        first = int(np.searchsorted(replay.arrivals, replay.measure_from))
    else:
        first = int(tasks * warmup)
    t0, t1 = float(tr.arrival[first]), float(tr.arrival[-1])
    span = max(t1 - t0, 1e-9)
    lat = (tr.end[first:] - tr.arrival[first:]) + service.dispatch
    wait = tr.start[first:] - tr.arrival[first:]
    done = int(np.count_nonzero((tr.end >= t0) & (tr.end <= t1)))
    measured_busy = float(np.sum(tr.busy[first:]))
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


@dataclass(frozen=True)
class Replay:
    """A given schedule instead of Poisson draws: arrival times (seconds, ascending), the sample
    each task replays (an index into the service model's samples), and when measuring begins."""

    arrivals: np.ndarray
    picks: np.ndarray
    measure_from: float = 0.0

    def __post_init__(self) -> None:
        if len(self.arrivals) != len(self.picks) or len(self.arrivals) == 0:
            raise ValueError("a replay needs as many sample picks as arrivals, and one at least")


def _run(
    fleet: Fleet,
    service: ServiceModel,
    rate: float,
    *,
    tasks: int,
    warmup: float,
    seed: int,
    replay: Replay | None = None,
) -> _Trace:
    if fleet.nodes < 1 or fleet.concurrency < 1:
        raise ValueError("a fleet needs at least one node and one child")
    if rate <= 0 or not math.isfinite(rate):
        raise ValueError(f"rate must be > 0, got {rate}")
    if len(service.samples) == 0:
        raise ValueError("no service-time samples")
    contended, rest = service.parts()
    rng = np.random.default_rng(seed)
    if replay is not None:
        arrival = np.asarray(replay.arrivals, dtype=float)
        pick = np.asarray(replay.picks, dtype=int)
        tasks = arrival.size
    else:
        arrival = np.cumsum(rng.exponential(1.0 / rate, size=tasks))
        p = service.probabilities()
        if p is not None:
            pick = rng.choice(contended.size, size=tasks, p=p)
        else:
            pick = rng.integers(0, contended.size, size=tasks)
    work = contended[pick].tolist()  # contended seconds at full speed
    after = rest[pick].tolist()  # uncontended seconds (waiting, I/O)
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
    # Processor sharing within a host (a node, or the whole fleet on one machine): while k of its
    # tasks are in their contended part each progresses at 1/factor(k) of its lone speed.  A
    # virtual clock per host advances at that rate; a contended part ends when the clock reaches
    # its start mark + its work.  Uncontended parts and the overhead are plain timers.
    hosts = 1 if shared else nodes
    vclock = [0.0] * hosts
    vlast = [0.0] * hosts
    hbusy = [0] * hosts  # jobs in their contended part
    # (mark, task, node); task -1: the worker's own CPU for a task that ended (holds no child)
    running: list[list[tuple[float, int, int]]] = [[] for _ in range(hosts)]
    worker_cpu = service.overhead_cpu if service.cpu_sharing else 0.0
    version = [0] * hosts
    # (real time, tie, kind, a, b): kind 0 = a host's next contended part ends (a = host, b =
    # version), 1 = a task's run ends (a = task, b = node), 2 = a child is released (b = node).
    events: list[tuple[float, int, int, int, int]] = []
    tie = 0

    def push(t: float, kind: int, x: int, y: int) -> None:
        nonlocal tie
        tie += 1
        heapq.heappush(events, (t, tie, kind, x, y))

    def factor(k: int) -> float:
        f = factors.get(k)
        if f is None:
            f = factors[k] = service.factor(k)
        return f

    def advance(h: int, t: float) -> None:
        if hbusy[h]:
            vclock[h] += (t - vlast[h]) / factor(hbusy[h])
        vlast[h] = t

    def schedule(h: int) -> None:
        version[h] += 1
        if running[h]:
            due = vlast[h] + (running[h][0][0] - vclock[h]) * factor(hbusy[h])
            push(due, 0, h, version[h])

    def can_take(n: int) -> bool:
        if window is None:
            return True
        held = len(reserved[n]) + (busy[n] if late else 0)
        return held < window

    def finish_part(i: int, n: int, t: float) -> None:
        # The contended part is done: the rest of the run is a timer.
        if after[i] > 0:
            push(t + after[i], 1, i, n)
        else:
            end_run(i, n, t)

    def end_run(i: int, n: int, t: float) -> None:
        end[i] = t
        busy_time[i] = t - start[i] + overhead
        if worker_cpu > 0:
            h = 0 if shared else n
            advance(h, t)
            hbusy[h] += 1
            heapq.heappush(running[h], (vclock[h] + worker_cpu, -1, n))
            schedule(h)
        if overhead > 0:
            push(t + overhead, 2, i, n)
        else:
            release(n, t)

    def release(n: int, t: float) -> None:
        busy[n] -= 1
        refill(n, t)

    def begin(n: int, i: int, t: float) -> None:
        busy[n] += 1
        start[i] = t
        if work[i] <= 0:
            finish_part(i, n, t)
            return
        h = 0 if shared else n
        advance(h, t)
        hbusy[h] += 1
        heapq.heappush(running[h], (vclock[h] + work[i], i, n))
        schedule(h)

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
        while events and events[0][2] == 0 and events[0][4] != version[events[0][3]]:
            heapq.heappop(events)  # superseded: the host's speed changed since
        if not events and a >= tasks:
            break
        if events and (a >= tasks or events[0][0] <= arrival[a]):
            t, _tie, kind, x, y = heapq.heappop(events)
            if kind == 0:
                advance(x, t)
                _mark, i, n = heapq.heappop(running[x])
                hbusy[x] -= 1
                schedule(x)
                if i >= 0:
                    finish_part(i, n, t)
            elif kind == 1:
                end_run(x, y, t)
            else:
                release(y, t)
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
    return _Trace(arrival, start, end, busy_time)


def _pct(sorted_values: np.ndarray, q: float) -> float:
    """Nearest-rank percentile."""
    n = sorted_values.size
    k = max(0, min(n - 1, math.ceil(q * n) - 1))
    return float(sorted_values[k])


def small_sample_quantile(latencies: np.ndarray, n: int, q: float = 0.99) -> float:
    """What a run of ``n`` tasks would report: the median, over consecutive blocks of ``n``
    simulated latencies, of each block's Harrell-Davis ``q`` quantile (the bench's estimator).

    A p99 of 50 tasks leans on the largest two or three: its expectation is not the population's
    p99, so a prediction compared with a short run must be estimated the same way."""
    lat = np.asarray(latencies, dtype=float)
    n = max(1, int(n))
    blocks = lat.size // n
    if blocks < 1:
        return _pct(np.sort(lat), q)
    from scipy.special import betainc

    if n == 1:
        weights = np.ones(1)
    else:
        edges = betainc((n + 1) * q, (n + 1) * (1 - q), np.arange(n + 1) / n)
        edges[-1] = 1.0
        weights = np.diff(edges)
    chunks = np.sort(lat[: blocks * n].reshape(blocks, n), axis=1)
    return float(np.median(chunks @ weights))


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
