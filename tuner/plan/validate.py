"""``--validate``: run the bench where the model predicts, and compare.

The points are held out: the model was fitted on saturated runs (1 node x 1..2 CPUs children,
2 nodes) and one low-load run; these are open-loop runs at other loads and another node count.
Every node runs on this machine, so the predictions use the shared-host simulation (the CPU parts
of every node's tasks share this machine's CPUs).

What is compared is the model, not the luck of one draw of arrivals.  A run's arrivals and task
types come from seeded generators (:func:`tuner.bench.load.arrivals`, :meth:`Workload.plan`), so
the simulation replays the very schedule the run was offered (:func:`replays`): the same arrival
times and the same task types, each task's run time and CPU seconds drawn from the measured tasks
of its type.  Near 80% load the p99 of a 20 s run moves by half between two Poisson draws of the
same rate; replayed, prediction and run share that draw.  The predicted p99 is the median over
:data:`REPLAYS` draws of the run times, each the same Harrell-Davis estimate the bench makes over
the run's measured tasks.  The Poisson prediction at the rate the run was offered (what ``plan``
reports; fresh arrivals, estimated over blocks of as many tasks,
:func:`tuner.plan.sim.small_sample_quantile`) is kept beside it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from tuner.bench.broker import Broker
from tuner.bench.config import WorkerConfig
from tuner.bench.load import LoadSpec, arrivals
from tuner.bench.workloads import Workload
from tuner.plan.characterise import Model
from tuner.plan.predict import Prediction, Settings, capacity, predict, service_model
from tuner.plan.sim import Replay, SimResult, simulate, small_sample_quantile

THROUGHPUT_TOLERANCE = 0.10  # the accuracy goals
P99_TOLERANCE = 0.25
REPLAYS = 5  # draws of the run times per replayed schedule


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
    predicted_p99_poisson: float = math.nan  # fresh Poisson arrivals at the run's rate

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
            "predicted_p99_population": _finite(self.predicted_p99_population),
            "predicted_p99_poisson": _finite(self.predicted_p99_poisson),
        }


def _finite(v: float) -> float | None:
    return v if math.isfinite(v) else None


def p99_like_run(pred: SimResult, tasks: int) -> float:
    """The predicted p99 as a run of ``tasks`` tasks would estimate it (inf when unstable)."""
    if not pred.stable:
        return math.inf
    return small_sample_quantile(pred.latencies, tasks) if tasks > 0 else pred.p99


def schedule(work: Workload, load: LoadSpec) -> tuple[np.ndarray, list[float | None]]:
    """The arrival times (seconds from the first) and nominal CPU seconds of every task a bench
    run of ``load`` sends, warm-up included: the driver's own generators, with its seed."""
    if load.rate is None:
        raise ValueError("only an open-loop load at a rate has a schedule")
    times: list[float] = []
    kinds: list[float | None] = []
    plan = work.plan(load.seed)
    measured = 0
    for t in arrivals(load.rate, load.arrivals, 0.0, load.seed):
        if t >= load.warmup:
            if load.tasks is not None and measured >= load.tasks:
                break
            if load.tasks is None and t >= load.warmup + (load.duration or 0.0):
                break
            measured += 1
        times.append(t)
        kinds.append(next(plan).cpu_seconds)
    return np.asarray(times), kinds


def replays(model: Model, work: Workload, load: LoadSpec, draws: int) -> list[Replay]:
    """The schedule of a bench run of ``load``, ``draws`` times, each task replaying a measured
    task of its type (nominal CPU seconds; any measured task when its type was not measured)."""
    times, kinds = schedule(work, load)
    every = np.arange(len(model.run_times))
    groups: dict[float | None, list[int]] = {}
    if len(model.nominals) == len(model.run_times):
        for i, nominal in enumerate(model.nominals):
            groups.setdefault(nominal, []).append(i)
    pools = [groups.get(k, every) for k in kinds]
    out = []
    for d in range(draws):
        rng = np.random.default_rng(d)
        picks = np.array([rng.choice(pool) for pool in pools], dtype=int)
        out.append(Replay(times, picks, measure_from=load.warmup))
    return out


def predict_run(
    model: Model,
    settings: Settings,
    work: Workload,
    load: LoadSpec,
    nodes: int,
    concurrency: int,
    *,
    draws: int = REPLAYS,
) -> tuple[float, float]:
    """(throughput, p99) predicted for the bench run of ``load`` on ``nodes`` x ``concurrency``
    here (every node on this machine): medians over ``draws`` replays of its schedule, the p99
    estimated as the bench estimates it, over the measured tasks."""
    svc = service_model(model, shared_host=True, concurrency=concurrency)
    fleet = settings.fleet(nodes, concurrency)
    rate = float(load.rate or 0.0)
    thr: list[float] = []
    p99: list[float] = []
    for schedule_ in replays(model, work, load, draws):
        res = simulate(fleet, svc, rate, replay=schedule_)
        thr.append(res.throughput)
        p99.append(small_sample_quantile(res.latencies, res.latencies.size))
    return float(np.median(thr)), float(np.median(p99))


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
        thr, p99 = predict_run(model, settings, work, load, nodes, c)
        check = Check(
            label,
            nodes,
            c,
            offered,
            predicted_throughput=thr,
            predicted_p99=p99,
            measured_throughput=m.throughput,
            measured_p99=None if math.isnan(m.p99) else m.p99,
            tasks=m.tasks_measured,
            predicted_p99_population=pred.p99 if pred.stable else math.inf,
            predicted_p99_poisson=p99_like_run(pred, m.tasks_measured),
        )
        if note is not None:
            note(
                f"validated {label}: throughput {m.throughput:.1f} (predicted {thr:.1f}), "
                f"p99 {m.p99:.3f} s (predicted {p99:.3f} s for the run's own arrivals, "
                f"{check.predicted_p99_poisson:.3f} s for fresh ones; {m.tasks_measured} tasks)"
            )
        checks.append(check)
    return checks
