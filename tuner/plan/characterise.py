"""Measure what the model needs with the bench's runner (real workers, real broker).

1. Saturated throughput of one node at concurrency 1..``max_concurrency``, and of 2..``max_nodes``
   nodes of CPUs/2 children; the USL is fitted to all of them by the children running in total
   (nodes on one machine share its CPUs as one node's children do).
2. A low-load open-loop run (25% of the measured capacity, 40 tasks at least): the service-time
   distribution (run time and CPU seconds of each task, by task type; the concurrency-1 saturated
   run's tasks are added, their child had no neighbour either) and the dispatch delay (median
   queue wait with idle children).  The saturated runs also give the worker's own CPU per task
   (worker-tree CPU / tasks, minus the tasks' own CPU; from the run with the most tasks).
3. The broker's own ceiling: messages/s published and consumed through a queue unique to the run,
   with a message of this workload's size.
4. The child time per task beyond its run (ack, result, the next fetch), fitted by children per
   node so that the simulation reproduces each saturated one-node run (:mod:`tuner.plan.calibrate`).

Every point is a :func:`tuner.bench.runner.run_config` run, short by default (a few seconds).
"""

from __future__ import annotations

import math
import statistics
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from tuner.bench.broker import Broker
from tuner.bench.config import WorkerConfig
from tuner.bench.errors import BenchError
from tuner.bench.load import LoadSpec
from tuner.bench.workloads import Workload
from tuner.plan.calibrate import Overhead, overhead_for
from tuner.plan.usl import USLFit, fit

Note = Callable[[str], None]
LOW_LOAD = 0.25
MIN_SAMPLES = 40


@dataclass(frozen=True)
class Point:
    nodes: int
    concurrency: int
    throughput: float  # tasks/s, saturated
    cpu_util: float | None = None
    mix: tuple[tuple[float | None, int], ...] = ()  # measured tasks by type (nominal CPU s)

    def as_dict(self) -> dict[str, object]:
        return {
            "nodes": self.nodes,
            "concurrency": self.concurrency,
            "throughput": self.throughput,
            "cpu_util": self.cpu_util,
            "mix": [list(m) for m in self.mix],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Point:
        mix = tuple((m[0], int(m[1])) for m in d.get("mix", ()))
        return cls(int(d["nodes"]), int(d["concurrency"]), float(d["throughput"]),
                   d.get("cpu_util"), mix)  # fmt: skip


@dataclass(frozen=True)
class Model:
    """Everything measured, and the fit: the input of the predictions."""

    workload: str
    broker: str
    cpus: float  # CPUs of the machine measured on
    config: dict[str, object]  # the base worker config measured (concurrency varied)
    run_times: tuple[float, ...]  # seconds, each measured task at low load
    cpu_times: tuple[float, ...]  # CPU seconds of the same tasks (when recorded)
    types: tuple[dict[str, object], ...]  # per task type (nominal cost): counts, means, p99
    dispatch: float  # seconds from send to start with idle children (median)
    overhead: float  # child-seconds per task beyond its run time (from X(1) alone)
    concurrency_points: tuple[Point, ...]
    node_points: tuple[Point, ...]
    usl: USLFit
    broker_ceiling: float | None  # messages/s; None if not measured
    low_load: dict[str, float] = field(default_factory=dict)  # rate, p50, p99, throughput
    kind: str = "cpu"  # what the workload is bound by (cpu, io, mixed)
    nominals: tuple[float | None, ...] = ()  # nominal CPU seconds (task type) of each sample
    overhead_cpu: float = 0.0  # the worker's own CPU seconds per task, beyond the task's
    overheads: tuple[Overhead, ...] = ()  # fitted by children per node (tuner.plan.calibrate)
    overhead_cpu_measured: float | None = None  # before the fit (``overhead_cpu`` is charged)

    def overhead_for(self, concurrency: int) -> float:
        """Child-seconds per task beyond its run, for a node of ``concurrency`` children."""
        return overhead_for(self.overheads, concurrency, self.overhead)

    def sample_weights(self) -> tuple[float, ...] | None:
        """Weights that give each task type its share of the workload (``types[...]["weight"]``)
        whatever its count in the sample (a type missing from the sample stays missing); None when
        the types or their shares are unknown."""
        share: dict[float | None, float] = {}
        for t in self.types:
            w = t.get("weight")
            if not isinstance(w, (int, float)):
                return None
            nominal = t.get("nominal_cpu_seconds")
            share[nominal if isinstance(nominal, (int, float)) else None] = float(w)
        return self.weights_for(share)

    def weights_for(self, share: dict[float | None, float]) -> tuple[float, ...] | None:
        """Sample weights that give each task type (nominal CPU seconds) ``share``; None when the
        sample's types are unknown or a sampled type has no share."""
        if len(self.nominals) != len(self.run_times) or not self.run_times:
            return None
        counts: dict[float | None, int] = {}
        for nominal in self.nominals:
            counts[nominal] = counts.get(nominal, 0) + 1
        if not set(counts) <= set(share) or not sum(share[n] for n in counts) > 0:
            return None
        return tuple(share[n] / counts[n] for n in self.nominals)

    @property
    def mean_service(self) -> float:
        return statistics.fmean(self.run_times)

    def service_summary(self) -> dict[str, object]:
        runs = sorted(self.run_times)
        cpu = self.cpu_times
        return {
            "samples": len(runs),
            "mean": statistics.fmean(runs),
            "p50": _pct(runs, 0.5),
            "p90": _pct(runs, 0.9),
            "p99": _pct(runs, 0.99),
            "cpu_mean": statistics.fmean(cpu) if cpu else None,
            "cpu_fraction": (statistics.fmean(cpu) / statistics.fmean(runs)) if cpu else None,
            "dispatch": self.dispatch,
            "overhead": self.overhead,
            "overhead_cpu": self.overhead_cpu,
            "overhead_cpu_measured": self.overhead_cpu_measured,
            "overheads": [o.as_dict() for o in self.overheads],
            "types": list(self.types),
        }

    def as_dict(self) -> dict[str, object]:
        return {
            "workload": self.workload,
            "broker": self.broker,
            "cpus": self.cpus,
            "config": self.config,
            "run_times": list(self.run_times),
            "cpu_times": list(self.cpu_times),
            "types": list(self.types),
            "dispatch": self.dispatch,
            "overhead": self.overhead,
            "concurrency_points": [p.as_dict() for p in self.concurrency_points],
            "node_points": [p.as_dict() for p in self.node_points],
            "usl": self.usl.as_dict(),
            "broker_ceiling": self.broker_ceiling,
            "low_load": self.low_load,
            "kind": self.kind,
            "nominals": list(self.nominals),
            "overhead_cpu": self.overhead_cpu,
            "overheads": [o.as_dict() for o in self.overheads],
            "overhead_cpu_measured": self.overhead_cpu_measured,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Model:
        """A model saved by :meth:`as_dict` (``model.json`` of ``--out``)."""
        conc = tuple(Point.from_dict(p) for p in d["concurrency_points"])
        u = d["usl"]
        usl = USLFit(
            lam=u["lambda"],
            sigma=u["sigma"],
            kappa=u["kappa"],
            lam_err=u.get("lambda_err", math.nan),
            sigma_err=u.get("sigma_err", math.nan),
            kappa_err=u.get("kappa_err", math.nan),
            points=tuple((p["n"], p["throughput"]) for p in u.get("points", [])),
            r2=u.get("r2", math.nan),
        )
        return cls(
            workload=d["workload"],
            broker=d["broker"],
            cpus=float(d["cpus"]),
            config=dict(d["config"]),
            run_times=tuple(d["run_times"]),
            cpu_times=tuple(d["cpu_times"]),
            types=tuple(d["types"]),
            dispatch=float(d["dispatch"]),
            overhead=float(d["overhead"]),
            concurrency_points=conc,
            node_points=tuple(Point.from_dict(p) for p in d["node_points"]),
            usl=usl,
            broker_ceiling=d.get("broker_ceiling"),
            low_load=dict(d.get("low_load", {})),
            kind=str(d.get("kind", "cpu")),
            nominals=tuple(d.get("nominals", ())),
            overhead_cpu=float(d.get("overhead_cpu", 0.0)),
            overheads=tuple(
                Overhead(int(o["concurrency"]), float(o["seconds"]), float(o["residual"]))
                for o in d.get("overheads", ())
            ),
            overhead_cpu_measured=d.get("overhead_cpu_measured"),
        )


@dataclass(frozen=True)
class Plan:
    """How long and how wide to characterise."""

    max_concurrency: int = 4
    max_nodes: int = 2
    warmup: float = 1.0
    seconds: float = 3.0  # measured seconds per point
    low_load_seconds: float = 5.0
    broker_messages: int = 1000
    timeout: float | None = 120.0


def characterise(
    base: WorkerConfig,
    work: Workload,
    broker: Broker,
    *,
    cpus: float,
    plan: Plan = Plan(),
    note: Note | None = None,
) -> Model:
    from tuner.bench.runner import run_config

    say = note or (lambda _msg: None)
    sat = LoadSpec(mode="saturate", warmup=plan.warmup, duration=plan.seconds)
    conc: list[Point] = []
    # per saturated run: (throughput, worker-tree CPU per task - the tasks' own)
    worker_cpu: list[tuple[float, float]] = []
    first_services: Sequence[tuple[float, float | None, float | None]] = ()
    for c in range(1, max(3, plan.max_concurrency) + 1):
        cfg = replace(base, concurrency=c, label=f"c{c}")
        res = run_config(cfg, work, sat, broker, cpus=cpus, timeout=plan.timeout)
        m = res.metrics
        if m.throughput <= 0:
            raise BenchError(f"saturated run at concurrency {c} completed no task")
        conc.append(Point(1, c, m.throughput, _num(m.cpu_util), _mix(res.services)))
        worker_cpu.extend(_worker_cpu(m, cpus))
        if c == 1:
            first_services = res.services
        say(f"saturated, 1 node x {c}: {m.throughput:.1f} tasks/s")
    nodes: list[Point] = []
    node_c = max(1, int(cpus) // 2)
    for n in range(2, plan.max_nodes + 1):
        cfg = replace(base, concurrency=node_c, label=f"n{n}")
        res = run_config(cfg, work, sat, broker, nodes=n, cpus=cpus, timeout=plan.timeout)
        m = res.metrics
        nodes.append(Point(n, node_c, m.throughput, _num(m.cpu_util), _mix(res.services)))
        worker_cpu.extend(_worker_cpu(res.metrics, cpus))
        say(f"saturated, {n} nodes x {node_c}: {res.metrics.throughput:.1f} tasks/s")
    # One fit over every saturated point, by the children running on this machine in total:
    # nodes here share its CPUs, as children of one node do.
    every = [*conc, *nodes]
    usl = fit([p.nodes * p.concurrency for p in every], [p.throughput for p in every])
    # Low load on the base config's concurrency (or the CPUs): service times with idle children,
    # at least MIN_SAMPLES tasks (the window grows up to 4x the asked seconds to get them).
    c_low = base.concurrency or max(1, int(cpus))
    capacity = usl.throughput(c_low)
    rate = max(0.5, LOW_LOAD * capacity)
    seconds = min(4 * plan.low_load_seconds, max(plan.low_load_seconds, MIN_SAMPLES / rate))
    low = LoadSpec(mode="open", rate=rate, warmup=plan.warmup, duration=seconds)
    res = run_config(
        replace(base, concurrency=c_low, label="low-load"), work, low, broker, cpus=cpus,
        timeout=plan.timeout,
    )  # fmt: skip
    # The lone child of the concurrency-1 run had no neighbour either: its tasks count too.
    services = [s for s in (*res.services, *first_services) if s[0] >= 0]
    if len(services) < 5:
        raise BenchError(
            f"low-load runs measured only {len(services)} task(s): use a longer --point-seconds"
        )
    run_times = tuple(s[0] for s in services)
    cpu_times = tuple(s[1] for s in services if s[1] is not None)
    m = res.metrics
    dispatch = _num(m.queue_wait_p50) or 0.0
    say(
        f"low load {rate:.1f} tasks/s: {len(services)} tasks, run p50 {_ms(m.run_p50)}, "
        f"dispatch {_ms(dispatch)}"
    )
    # Overhead: what a lone child spends per task beyond the task's own run time.
    run_c1 = [s[0] for s in first_services] or list(run_times)
    overhead = max(0.0, 1.0 / conc[0].throughput - statistics.fmean(run_c1))
    ceiling = None
    if plan.broker_messages > 0:
        ceiling = broker_ceiling(broker, work, plan.broker_messages)
        say(f"broker ceiling: {ceiling:.0f} messages/s")
    model = Model(
        workload=work.name,
        broker=broker.describe(),
        cpus=cpus,
        config={k: v for k, v in base.as_dict().items() if k != "label"},
        run_times=run_times,
        cpu_times=cpu_times,
        types=tuple(_types(services, _shares(work))),
        dispatch=dispatch,
        overhead=overhead,
        concurrency_points=tuple(conc),
        node_points=tuple(nodes),
        usl=usl,
        broker_ceiling=ceiling,
        low_load={
            "rate": rate,
            "throughput": m.throughput,
            "p50": _num(m.p50) or 0.0,
            "p99": _num(m.p99) or 0.0,
        },
        kind=work.kind,
        nominals=tuple(s[2] for s in services),
        # The run with the most tasks: CPU of tasks in flight at the window's edges, counted in
        # the worker's CPU but not in the tasks', weighs least per task there.
        overhead_cpu=max(worker_cpu)[1] if worker_cpu else 0.0,
    )
    from tuner.plan.predict import calibrated

    model = calibrated(model)
    say(
        "fitted to the saturated runs: child overhead per task "
        + ", ".join(f"{_ms(o.seconds)} at {o.concurrency}" for o in model.overheads)
        + f"; worker CPU per task charged {_ms(model.overhead_cpu)} of "
        + f"{_ms(model.overhead_cpu_measured)} measured"
    )
    return model


def _mix(
    services: Sequence[tuple[float, float | None, float | None]],
) -> tuple[tuple[float | None, int], ...]:
    """Measured tasks of a run by type (nominal CPU seconds)."""
    counts: dict[float | None, int] = {}
    for _run, _cpu, nominal in services:
        counts[nominal] = counts.get(nominal, 0) + 1
    return tuple(sorted(counts.items(), key=lambda kv: (kv[0] is None, kv[0] or 0.0)))


def _worker_cpu(m: Any, cpus: float) -> list[tuple[float, float]]:
    """CPU seconds the worker processes spent per task beyond the task's own (the prefork
    parent's reading, dispatching, acking): worker-tree CPU over the window / tasks done, minus
    the measured tasks' mean CPU.  Empty when a figure is missing."""
    util, cpu = _num(m.cpu_util), m.task_cpu_mean
    if util is None or cpu is None or m.throughput <= 0:
        return []
    return [(m.throughput, max(0.0, util * cpus / m.throughput - cpu))]


def _shares(work: Workload) -> dict[float | None, float]:
    """Each task type's share of the workload by weight (types by nominal CPU seconds)."""
    total = sum(s.weight for s in work.specs) or 1.0
    out: dict[float | None, float] = {}
    for spec in work.specs:
        out[spec.cpu_seconds] = out.get(spec.cpu_seconds, 0.0) + spec.weight / total
    return out


def _types(
    services: Sequence[tuple[float, float | None, float | None]],
    shares: dict[float | None, float] | None = None,
) -> list[dict[str, object]]:
    groups: dict[float | None, list[tuple[float, float | None]]] = {}
    for run, cpu, nominal in services:
        groups.setdefault(nominal, []).append((run, cpu))
    out: list[dict[str, object]] = []
    for nominal, items in sorted(groups.items(), key=lambda kv: (kv[0] is None, kv[0] or 0.0)):
        runs = sorted(r for r, _c in items)
        cpus = [c for _r, c in items if c is not None]
        out.append(
            {
                "nominal_cpu_seconds": nominal,
                "count": len(items),
                "run_mean": statistics.fmean(runs),
                "run_p99": _pct(runs, 0.99),
                "cpu_mean": statistics.fmean(cpus) if cpus else None,
                "weight": (shares or {}).get(nominal),
            }
        )
    return out


def broker_ceiling(broker: Broker, work: Workload, messages: int = 1000) -> float:
    """Messages/s one producer publishes and one consumer fetches and acks through a fresh queue,
    with this workload's first task message (the smaller of the two rates)."""
    import tempfile
    from pathlib import Path

    from tuner.bench.broker import open_broker
    from tuner.bench.producer import Producer

    planned = next(work.plan(0))
    queue = f"celery-tune.ceiling.{uuid.uuid4().hex[:10]}"
    with tempfile.TemporaryDirectory(prefix="celery-tune-ceiling-") as tmp:
        session = open_broker(broker, Path(tmp))
        try:
            with Producer(session, queue) as producer:
                t0 = time.perf_counter()
                for i in range(messages):
                    producer.send(f"{queue}-{i}", planned.name, planned.args, planned.kwargs)
                publish = messages / max(time.perf_counter() - t0, 1e-9)
            consume = _consume(session, queue, messages)
        finally:
            if not broker.embedded:
                session.delete_queue(queue)
    return min(publish, consume)


def _consume(session: Any, queue: str, messages: int, deadline: float = 60.0) -> float:
    conn = session.connection()
    got = 0
    try:
        with conn.channel() as channel:
            q = session.queue(queue)(channel)
            q.declare()
            t0 = time.perf_counter()
            stop = time.monotonic() + deadline
            while got < messages and time.monotonic() < stop:
                msg = q.get(no_ack=False)
                if msg is None:
                    time.sleep(0.001)
                    continue
                msg.ack()
                got += 1
            elapsed = time.perf_counter() - t0
    finally:
        conn.release()
    if got == 0:
        raise BenchError("broker ceiling: no message came back from the broker")
    return got / max(elapsed, 1e-9)


def _num(value: float | None) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else value


def _pct(values: Sequence[float], q: float) -> float:
    if not values:
        return math.nan
    k = max(0, min(len(values) - 1, math.ceil(q * len(values)) - 1))
    return values[k]


def _ms(value: float | None) -> str:
    return "-" if value is None or math.isnan(value) else f"{value * 1000:.1f} ms"
