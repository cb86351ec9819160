"""The figures of one run, computed from the probe's records, the producer's schedule and samples.

Latency = task end - *scheduled* send time; queue wait = task start - scheduled; run time = end -
start.  Percentiles are Harrell-Davis estimates (:mod:`tuner.bench.quantiles`) over the measured
tasks (those scheduled inside the measured window).  A measured task still unfinished when the
run's observation ends (``until``: the end of the drain, or "now" for a run in progress) is
*censored*: it counts at its age then, a lower bound of its latency, never dropped (dropping it
would report only the survivors); ``tasks_censored`` says how many.  Throughput = tasks finished
inside the window / window length.  ``tasks_*`` count the whole run, warm-up included.

Overload: in an open loop, ``offered_rate`` = measured tasks / window and ``served_rate`` = the
throughput.  A run that served less than :data:`OVERLOAD_RATIO` of what was offered (and fell at
least :data:`OVERLOAD_BACKLOG` tasks behind) is ``overloaded``: its backlog grew all along, so its
latencies measure the length of the run, not the configuration.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

from tuner.bench.events import EventLog
from tuner.bench.quantiles import harrell_davis
from tuner.bench.sampler import Sample

MIB = 1024 * 1024
CONTRACT = (
    "throughput",
    "p50",
    "p90",
    "p99",
    "max",
    "queue_wait_p99",
    "run_p99",
    "cpu_util",
    "rss_peak_mb",
    "rss_mean_mb",
    "child_restarts",
    "tasks_sent",
    "tasks_done",
    "tasks_failed",
    "tasks_lost",
    "efficiency",
    "offered_rate",
    "served_rate",
    "overloaded",
    "tasks_censored",
)
OVERLOAD_RATIO = 0.9  # served below this fraction of offered: overloaded
OVERLOAD_BACKLOG = 5  # ...and at least this many tasks behind at the end of the window


@dataclass(frozen=True)
class Sent:
    """What the producer knows about one task it sent."""

    scheduled: float  # time.monotonic() the task was due (open loop) or sent (saturate)
    measured: bool  # scheduled inside the measured window
    cpu_seconds: float | None  # nominal CPU cost, when known


@dataclass(frozen=True)
class Metrics:
    throughput: float  # tasks/s finished inside the window
    p50: float  # latency percentiles, seconds from scheduled send to end
    p90: float
    p99: float
    max: float
    queue_wait_p99: float
    run_p99: float
    cpu_util: float  # CPU time of the worker trees / (window x CPUs available), 0..1
    rss_peak_mb: float  # MiB, sum over the worker trees
    rss_mean_mb: float
    child_restarts: int
    tasks_sent: int
    tasks_done: int
    tasks_failed: int
    tasks_lost: int
    efficiency: float | None  # CPU workloads: task CPU time / (window x CPUs available)
    queue_wait_p50: float = math.nan
    run_p50: float = math.nan
    task_cpu_mean: float | None = None  # measured CPU seconds per measured task (thread time)
    tasks_measured: int = 0
    window: float = 0.0  # seconds measured
    cpus: float = 0.0
    offered_rate: float | None = None  # open loop: measured tasks / window (tasks/s)
    served_rate: float | None = None  # open loop: tasks finished inside the window / window
    overloaded: bool = False  # served < OVERLOAD_RATIO x offered: a growing backlog
    tasks_censored: int = 0  # measured tasks unfinished at ``until``, counted at their age

    def overload_text(self) -> str:
        """'served 12.4 of 28/s offered; ...' when overloaded, else ''."""
        if not self.overloaded or self.offered_rate is None or self.served_rate is None:
            return ""
        return (
            f"served {self.served_rate:.1f} of {self.offered_rate:.3g}/s offered; "
            "latency measures a growing backlog"
        )

    def as_dict(self) -> dict[str, float | int | None]:
        """Plain values for JSON; a figure that could not be computed (no task finished) is None.
        ``overloaded`` stays a bool (JSON true/false)."""
        out: dict[str, float | int | None] = {}
        for key, value in asdict(self).items():
            out[key] = None if isinstance(value, float) and math.isnan(value) else value
        return out


def quantile(sorted_values: Sequence[float], q: float) -> float:
    """The estimator the metrics use: Harrell-Davis (``q`` in 0..1; NaN when empty)."""
    return harrell_davis(sorted_values, q)


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in 0..1) of sorted values; NaN when empty."""
    if not sorted_values:
        return math.nan
    k = max(0, min(len(sorted_values) - 1, math.ceil(q * len(sorted_values)) - 1))
    return sorted_values[k]


def compute(
    *,
    log: EventLog,
    sent: Mapping[str, Sent],
    window: tuple[float, float],
    cpu: tuple[Sample, Sample] | None,
    samples: Sequence[Sample],
    cpus: float,
    cpu_workload: bool,
    final: bool,
    initial_children: int = 1,
    open_loop: bool = False,
    until: float | None = None,
) -> Metrics:
    """Metrics over ``window`` (monotonic start, end).  With ``final`` False (a run in progress),
    unfinished tasks are in flight, not lost.  ``until``: when observation ended (default: the
    window's end); a measured task unfinished then counts in the latencies at its age.
    ``open_loop``: the load was offered at a schedule, so offered and served rates are given."""
    a, b = window
    until = b if until is None else until
    span = max(b - a, 1e-9)
    latency: list[float] = []
    wait: list[float] = []
    run: list[float] = []
    task_cpu: list[float] = []
    in_window = 0
    useful = 0.0
    done = failed = censored = 0
    behind = 0  # measured tasks due by the window's end and not finished by then
    for task_id, info in sent.items():
        rec = log.finished.get(task_id)
        if info.measured and info.scheduled <= b and (rec is None or rec.end > b):
            behind += 1
        if rec is None:
            if info.measured and until >= info.scheduled:
                latency.append(until - info.scheduled)  # censored: at least this long
                censored += 1
            continue
        if rec.failed:
            failed += 1
        else:
            done += 1
        if a <= rec.end <= b:
            in_window += 1
            useful += rec.cpu or 0.0
        if info.measured:
            latency.append(rec.end - info.scheduled)
        if info.measured and rec.start is not None:
            wait.append(max(0.0, rec.start - info.scheduled))
            run.append(rec.end - rec.start)
            if rec.cpu is not None:
                task_cpu.append(rec.cpu)
    latency.sort()
    wait.sort()
    run.sort()
    inside = [s for s in samples if a <= s.t <= b] or list(samples)
    rss = [s.rss for s in inside]
    cpu_util = math.nan
    if cpu is not None and cpu[1].t > cpu[0].t:
        cpu_util = (cpu[1].cpu - cpu[0].cpu) / ((cpu[1].t - cpu[0].t) * cpus)
    lost = len(sent) - done - failed if final else 0
    measured = sum(1 for info in sent.values() if info.measured)
    offered = served = None
    overloaded = False
    if open_loop:
        offered, served = measured / span, in_window / span
        overloaded = served < OVERLOAD_RATIO * offered and behind >= OVERLOAD_BACKLOG
    return Metrics(
        throughput=in_window / span,
        p50=quantile(latency, 0.50),
        p90=quantile(latency, 0.90),
        p99=quantile(latency, 0.99),
        max=latency[-1] if latency else math.nan,
        queue_wait_p99=quantile(wait, 0.99),
        run_p99=quantile(run, 0.99),
        cpu_util=cpu_util,
        rss_peak_mb=max(rss) / MIB if rss else math.nan,
        rss_mean_mb=sum(rss) / len(rss) / MIB if rss else math.nan,
        child_restarts=log.restarts(initial_children),
        tasks_sent=len(sent),
        tasks_done=done,
        tasks_failed=failed,
        tasks_lost=lost,
        efficiency=useful / (span * cpus) if cpu_workload else None,
        queue_wait_p50=quantile(wait, 0.50),
        run_p50=quantile(run, 0.50),
        task_cpu_mean=sum(task_cpu) / len(task_cpu) if task_cpu else None,
        tasks_measured=measured,
        window=span,
        cpus=cpus,
        offered_rate=offered,
        served_rate=served,
        overloaded=overloaded,
        tasks_censored=censored,
    )
