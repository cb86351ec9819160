"""How a configuration is measured for a goal: which bench runs, and how their figures combine.

* Throughput (and efficiency) is a capacity: measured with a saturating load.
* p99 is a latency at a given offered load: measured open-loop (latency from each task's
  scheduled send time) at one fixed rate for every configuration, so they face the same traffic.
  The rate is ``--rate``, or ``--load`` x the capacity of Celery's defaults, measured once per
  study and stored with it.
* A goal that needs both (``--objectives throughput,p99``, or throughput with ``--p99-slo``) runs
  both: throughput and efficiency come from the saturating run, latencies from the open one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal

from tuner.optimize.objectives import Goal

if TYPE_CHECKING:
    from tuner.bench.broker import Broker
    from tuner.bench.config import WorkerConfig
    from tuner.bench.load import LoadSpec
    from tuner.bench.metrics import Metrics
    from tuner.bench.workloads import Workload

Phase = Literal["saturate", "open"]
CAPACITY_KEYS = ("throughput", "efficiency", "cpu_util")
LATENCY_KEYS = (
    "p50",
    "p90",
    "p99",
    "max",
    "queue_wait_p99",
    "queue_wait_p50",
    "run_p99",
    "run_p50",
)
COUNT_KEYS = ("tasks_sent", "tasks_done", "tasks_failed", "tasks_lost", "child_restarts")
RUN_SLACK = 120.0  # seconds a run may take beyond warm-up + measurement (start, drain, stop)
Interval = Callable[[Phase, float, "Metrics"], None]


def phases(goal: Goal) -> tuple[Phase, ...]:
    wants_capacity = any(o in ("throughput", "efficiency") for o in goal.objectives)
    wants_latency = "p99" in goal.objectives or goal.p99_slo is not None
    out: list[Phase] = []
    if wants_capacity:
        out.append("saturate")
    if wants_latency:
        out.append("open")
    return tuple(out)


@dataclass(frozen=True)
class Plan:
    """The bench runs behind one measurement."""

    goal: Goal
    seconds: float
    warmup: float
    rate: float | None = None  # open-loop tasks/s (None until known)
    seed: int = 0

    @property
    def phases(self) -> tuple[Phase, ...]:
        return phases(self.goal)

    def load(self, phase: Phase) -> LoadSpec:
        from tuner.bench.load import LoadSpec

        if phase == "saturate":
            spec = LoadSpec(mode="saturate", warmup=self.warmup, duration=self.seconds)
        else:
            assert self.rate is not None, "the open-loop rate is set before any trial"
            spec = LoadSpec(mode="open", rate=self.rate, warmup=self.warmup, duration=self.seconds)
        return replace(spec, seed=self.seed).validate()

    def describe(self) -> dict[str, object]:
        return {
            "phases": list(self.phases),
            "seconds": self.seconds,
            "warmup": self.warmup,
            "open_rate": self.rate,
        }


def merge(runs: Mapping[Phase, Mapping[str, Any]]) -> dict[str, Any]:
    """One metrics dict: capacity figures from the saturating run, latencies from the open one,
    task counts summed (a task lost in either run counts)."""
    if len(runs) == 1:
        return dict(next(iter(runs.values())))
    sat, open_ = runs["saturate"], runs["open"]
    out = dict(open_)
    for key in CAPACITY_KEYS:
        out[key] = sat.get(key)
    for key in COUNT_KEYS:
        out[key] = (sat.get(key) or 0) + (open_.get(key) or 0)
    out["rss_peak_mb"] = max(sat.get("rss_peak_mb") or 0, open_.get("rss_peak_mb") or 0) or None
    out["open_throughput"] = open_.get("throughput")
    return out


def measure(
    config: WorkerConfig,
    workload: Workload,
    plan: Plan,
    broker: Broker,
    *,
    on_interval: Interval | None = None,
) -> dict[Phase, dict[str, Any]]:
    """Run ``config`` through every phase of ``plan``; returns each phase's metrics dict."""
    from tuner.bench.runner import run_config

    out: dict[Phase, dict[str, Any]] = {}
    for phase in plan.phases:

        def interval(elapsed: float, partial: Metrics, phase: Phase = phase) -> None:
            if on_interval is not None:
                on_interval(phase, elapsed, partial)

        result = run_config(
            config,
            workload,
            plan.load(phase),
            broker,
            on_interval=interval,
            timeout=plan.warmup + plan.seconds + RUN_SLACK,
        )
        out[phase] = result.metrics.as_dict()
    return out
