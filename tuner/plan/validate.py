"""``--validate``: run the bench where the model predicts, and compare.

The points are held out: the model was fitted on saturated runs (1 node x 1..2 CPUs children,
2 nodes) and one low-load run; these are open-loop runs at other loads and another node count.
Every node runs on this machine, so the predictions use the shared-host simulation (the CPU parts
of every node's tasks share this machine's CPUs).  The measured p99 is the bench's Harrell-Davis
estimate over the run's few dozen tasks; the predicted one is estimated the same way, over blocks
of as many simulated tasks (:func:`tuner.plan.sim.small_sample_quantile`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace

from tuner.bench.broker import Broker
from tuner.bench.config import WorkerConfig
from tuner.bench.load import LoadSpec
from tuner.bench.workloads import Workload
from tuner.plan.characterise import Model
from tuner.plan.predict import Prediction, Settings, capacity, predict
from tuner.plan.sim import SimResult, small_sample_quantile

THROUGHPUT_TOLERANCE = 0.10  # the accuracy goals
P99_TOLERANCE = 0.25


@dataclass(frozen=True)
class Check:
    label: str
    nodes: int
    concurrency: int
    rate: float
    predicted_throughput: float
    predicted_p99: float
    measured_throughput: float | None = None
    measured_p99: float | None = None
    tasks: int = 0  # tasks the run measured (the p99's sample size)
    predicted_p99_population: float = math.nan  # the simulation's p99 over all its tasks

    @property
    def throughput_error(self) -> float | None:
        if not self.measured_throughput:
            return None
        return (self.predicted_throughput - self.measured_throughput) / self.measured_throughput

    @property
    def p99_error(self) -> float | None:
        if not self.measured_p99 or not math.isfinite(self.predicted_p99):
            return None
        return (self.predicted_p99 - self.measured_p99) / self.measured_p99

    @property
    def within(self) -> bool:
        te, pe = self.throughput_error, self.p99_error
        if te is None or pe is None:
            return False
        return abs(te) <= THROUGHPUT_TOLERANCE and abs(pe) <= P99_TOLERANCE

    def as_dict(self) -> dict[str, object]:
        return {
            "label": self.label,
            "nodes": self.nodes,
            "concurrency": self.concurrency,
            "rate": self.rate,
            "predicted_p99": self.predicted_p99 if math.isfinite(self.predicted_p99) else None,
            "measured_p99": self.measured_p99,
            "predicted_throughput": self.predicted_throughput,
            "measured_throughput": self.measured_throughput,
            "throughput_error": self.throughput_error,
            "p99_error": self.p99_error,
            "within_accuracy": self.within,
            "tasks": self.tasks,
            "predicted_p99_population": (
                self.predicted_p99_population
                if math.isfinite(self.predicted_p99_population)
                else None
            ),
        }


def p99_like_run(pred: SimResult, tasks: int) -> float:
    """The predicted p99 as a run of ``tasks`` tasks would estimate it (inf when unstable)."""
    if not pred.stable:
        return math.inf
    return small_sample_quantile(pred.latencies, tasks) if tasks > 0 else pred.p99


def realised_rate(measured: int, window: float, nominal: float) -> float:
    """Tasks scheduled inside the measured window / its length (the nominal rate if none)."""
    return measured / window if measured > 0 and window > 0 else nominal


def points(
    model: Model,
    settings: Settings,
    best: Prediction | None,
    *,
    instance_cpus: float | None,
) -> list[tuple[str, int, int, float]]:
    """(label, nodes, concurrency, rate): the recommendation where it fits here, else its
    settings on this machine, and two held-out points (2 nodes at 80% load, 1 node at 50%)."""
    cpus = model.cpus
    top = max(2, round(2 * cpus))

    def cap(n: int, c: int) -> float:
        return capacity(model, settings, n, c, shared_host=True)[0]

    out: list[tuple[str, int, int, float]] = []
    if best is not None:
        fits = best.nodes * best.concurrency <= top and (
            instance_cpus is None or instance_cpus <= cpus
        )
        if fits and best.rate <= 0.9 * cap(best.nodes, best.concurrency):
            out.append(("recommended", best.nodes, best.concurrency, best.rate))
        else:
            c = min(best.concurrency, max(1, int(cpus)))
            out.append(("recommended settings, scaled here (60%)", 1, c, 0.6 * cap(1, c)))
    out.append(("held out: 3 nodes, 80% load", 3, 1, 0.8 * cap(3, 1)))
    c = max(1, int(cpus))
    out.append(("held out: 1 node, 50% load", 1, c, 0.5 * cap(1, c)))
    return out


def run(
    model: Model,
    settings: Settings,
    base: WorkerConfig,
    work: Workload,
    broker: Broker,
    plan_points: list[tuple[str, int, int, float]],
    *,
    cpus: float,
    seconds: float = 8.0,
    warmup: float = 1.5,
    seed: int = 0,
    timeout: float | None = 180.0,
    note: Callable[[str], None] | None = None,
) -> list[Check]:
    from tuner.bench.runner import run_config

    checks = []
    for label, nodes, c, rate in plan_points:
        load = LoadSpec(mode="open", rate=rate, warmup=warmup, duration=seconds, seed=seed)
        cfg = replace(base, concurrency=c, label=label)
        res = run_config(cfg, work, load, broker, nodes=nodes, cpus=cpus, timeout=timeout)
        m = res.metrics
        # Predict for the load the run was actually offered: a few seconds of Poisson arrivals
        # hold rate x seconds +- sqrt(rate x seconds) tasks (+-14% for 50 tasks).
        offered = realised_rate(m.tasks_measured, m.window, rate)
        pred = predict(
            model, settings, nodes, c, offered, shared_host=True, tasks=20_000, seed=seed
        )
        check = Check(
            label,
            nodes,
            c,
            offered,
            predicted_throughput=pred.throughput,
            predicted_p99=p99_like_run(pred, m.tasks_measured),
            measured_throughput=m.throughput,
            measured_p99=None if math.isnan(m.p99) else m.p99,
            tasks=m.tasks_measured,
            predicted_p99_population=pred.p99 if pred.stable else math.inf,
        )
        if note is not None:
            note(
                f"validated {label}: throughput {m.throughput:.1f} (predicted "
                f"{pred.throughput:.1f}), p99 {m.p99:.3f} s (predicted "
                f"{check.predicted_p99:.3f} s over {m.tasks_measured} tasks)"
            )
        checks.append(check)
    return checks
