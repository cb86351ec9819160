"""The figures of one run, computed from the probe's records, the producer's schedule and samples.

Latency = task end - *scheduled* send time; queue wait = task start - scheduled; run time = end -
start.  Percentiles are nearest-rank over the measured tasks (those scheduled inside the measured
window).  Throughput = tasks finished inside the window / window length.  ``tasks_*`` count the
whole run, warm-up included.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

from tuner.bench.events import EventLog
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
)


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

    def as_dict(self) -> dict[str, float | int | None]:
        """Plain values for JSON; a figure that could not be computed (no task finished) is None."""
        out: dict[str, float | int | None] = {}
        for key, value in asdict(self).items():
            out[key] = None if isinstance(value, float) and math.isnan(value) else value
        return out


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
) -> Metrics:
    """Metrics over ``window`` (monotonic start, end).  With ``final`` False (a run in progress),
    unfinished tasks are in flight, not lost."""
    a, b = window
    span = max(b - a, 1e-9)
    latency: list[float] = []
    wait: list[float] = []
    run: list[float] = []
    task_cpu: list[float] = []
    in_window = 0
    useful = 0.0
    done = failed = 0
    for task_id, info in sent.items():
        rec = log.finished.get(task_id)
        if rec is None:
            continue
        if rec.failed:
            failed += 1
        else:
            done += 1
        if a <= rec.end <= b:
            in_window += 1
            useful += rec.cpu or 0.0
        if info.measured and rec.start is not None:
            latency.append(rec.end - info.scheduled)
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
    return Metrics(
        throughput=in_window / span,
        p50=percentile(latency, 0.50),
        p90=percentile(latency, 0.90),
        p99=percentile(latency, 0.99),
        max=latency[-1] if latency else math.nan,
        queue_wait_p99=percentile(wait, 0.99),
        run_p99=percentile(run, 0.99),
        cpu_util=cpu_util,
        rss_peak_mb=max(rss) / MIB if rss else math.nan,
        rss_mean_mb=sum(rss) / len(rss) / MIB if rss else math.nan,
        child_restarts=log.restarts(initial_children),
        tasks_sent=len(sent),
        tasks_done=done,
        tasks_failed=failed,
        tasks_lost=lost,
        efficiency=useful / (span * cpus) if cpu_workload else None,
        queue_wait_p50=percentile(wait, 0.50),
        run_p50=percentile(run, 0.50),
        task_cpu_mean=sum(task_cpu) / len(task_cpu) if task_cpu else None,
        tasks_measured=sum(1 for info in sent.values() if info.measured),
        window=span,
        cpus=cpus,
    )
