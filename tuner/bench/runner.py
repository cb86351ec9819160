"""Run one configuration (or several, interleaved) against a workload and measure it.

:func:`run_config`: start the worker nodes on a queue unique to the run, wait until ready, send the
load (open loop or saturating), drain, compute the metrics, and stop the workers on every path.
"""

from __future__ import annotations

import contextlib
import tempfile
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tuner.bench.broker import Broker, BrokerSession, check_reachable, open_broker
from tuner.bench.config import WorkerConfig
from tuner.bench.driver import Driver, OnInterval, OnReady, Progress
from tuner.bench.errors import BenchError
from tuner.bench.load import LoadSpec
from tuner.bench.metrics import Metrics
from tuner.bench.workloads import Workload

__all__ = [
    "BenchError",
    "Capacity",
    "RunResult",
    "available_cpus",
    "measure_capacity",
    "run_config",
    "run_many",
]

CAPACITY_LOAD = LoadSpec(mode="saturate", warmup=1.0, duration=4.0)


def available_cpus() -> float:
    """CPUs this machine gives a worker: the affinity mask, capped by the cgroup quota."""
    from tuner.audit.cpus import detect

    return float(detect().count)


def new_run_id() -> str:
    return uuid.uuid4().hex[:10]


@dataclass(frozen=True)
class RunResult:
    config: WorkerConfig
    repeat: int
    metrics: Metrics
    workload: str = ""
    load: LoadSpec = field(default_factory=LoadSpec)  # with the rate actually offered
    nodes: int = 1
    concurrency: int = 1  # per node
    broker: str = ""
    run_id: str = ""
    phases: Mapping[str, float] = field(default_factory=dict, hash=False)  # seconds
    worker_pids: tuple[int, ...] = ()
    tasks_per_node: tuple[int, ...] = ()
    # (run s, CPU s or None, nominal CPU s or None) of each measured task that ran (for ``plan``)
    services: tuple[tuple[float, float | None, float | None], ...] = field(
        default=(), repr=False, hash=False
    )

    def as_dict(self) -> dict[str, Any]:
        return {
            "config": self.config.as_dict(),
            "repeat": self.repeat,
            "metrics": self.metrics.as_dict(),
            "rate": self.load.rate,
            "nodes": self.nodes,
            "concurrency": self.concurrency,
            "run_id": self.run_id,
            "phases": dict(self.phases),
            "tasks_per_node": list(self.tasks_per_node),
        }


@dataclass(frozen=True)
class Capacity:
    rate: float  # tasks/s
    source: str  # how it was obtained


def measure_capacity(
    config: WorkerConfig,
    workload: Workload,
    broker: Broker,
    *,
    nodes: int = 1,
    cpus: float | None = None,
    progress: Progress | None = None,
    timeout: float | None = None,
) -> Capacity:
    """The rate ``--load`` is a fraction of: CPUs / mean task CPU seconds for CPU workloads with a
    calibrated cost, otherwise the throughput of a short saturating run of ``config``."""
    cpus = cpus if cpus is not None else available_cpus()
    mean = workload.mean_cpu_seconds
    if workload.kind == "cpu" and mean:
        return Capacity(cpus / mean, f"CPU limit: {cpus:g} CPUs / {mean * 1000:.1f} ms per task")
    result = run_config(
        config, workload, CAPACITY_LOAD, broker, nodes=nodes, cpus=cpus, progress=progress,
        timeout=timeout,
    )  # fmt: skip
    return Capacity(
        result.metrics.throughput,
        f"saturating run of {config.label} ({CAPACITY_LOAD.duration:g} s)",
    )


def run_config(
    config: WorkerConfig,
    workload: Workload,
    load: LoadSpec,
    broker: Broker,
    *,
    nodes: int = 1,
    repeat: int = 0,
    on_ready: OnReady | None = None,
    on_interval: OnInterval | None = None,
    progress: Progress | None = None,
    cpus: float | None = None,
    timeout: float | None = None,
    ready_timeout: float = 30.0,
    stall_timeout: float = 10.0,
    shutdown_timeout: float = 1.0,
) -> RunResult:
    """Measure ``config`` once.  Workers are stopped on every path (see :class:`WorkerGroup`).

    ``timeout`` bounds the whole run (BenchError when exceeded); ``stall_timeout`` is how long the
    drain waits without any task finishing before it counts the rest as lost.
    """
    if nodes < 1:
        raise BenchError(f"--nodes must be >= 1, got {nodes}")
    load = load.validate()
    broker.validate()
    cpus = cpus if cpus is not None else available_cpus()
    if load.needs_capacity:
        cap = measure_capacity(config, workload, broker, nodes=nodes, cpus=cpus, timeout=timeout)
        load = load.with_capacity(cap.rate)
    check_reachable(broker)
    run_id = new_run_id()
    with tempfile.TemporaryDirectory(prefix=f"celery-tune-{run_id}-") as tmp:
        run_dir = Path(tmp)
        session = open_broker(broker, run_dir)
        queue = f"celery-tune.{run_id}"
        run = Driver(
            config=config,
            workload=workload,
            load=load,
            session=session,
            queue=queue,
            run_dir=run_dir,
            run_id=run_id,
            nodes=nodes,
            cpus=cpus,
            timeout=timeout,
            ready_timeout=ready_timeout,
            stall_timeout=stall_timeout,
            shutdown_timeout=shutdown_timeout,
            on_ready=on_ready,
            on_interval=on_interval,
            progress=progress,
        )
        try:
            metrics, phases = run.execute()
        finally:
            _delete_queue(session, queue)
    return RunResult(
        config=config,
        repeat=repeat,
        metrics=metrics,
        workload=workload.name,
        load=load,
        nodes=nodes,
        concurrency=config.effective_concurrency(),
        broker=broker.describe(),
        run_id=run_id,
        phases=phases,
        worker_pids=tuple(run.pids),
        tasks_per_node=tuple(run.log.per_worker(run.pids)),
        services=_services(run),
    )


def _services(run: Driver) -> tuple[tuple[float, float | None, float | None], ...]:
    out = []
    for task_id, info in run.sent.items():
        rec = run.log.finished.get(task_id)
        if info.measured and rec is not None and rec.start is not None and not rec.failed:
            out.append((rec.end - rec.start, rec.cpu, info.cpu_seconds))
    return tuple(out)


def _delete_queue(session: BrokerSession, queue: str) -> None:
    if session.broker.embedded:
        return  # the whole directory goes with the run
    with contextlib.suppress(Exception):  # the broker may be gone: nothing left to leak there
        session.delete_queue(queue)


def run_many(
    configs: Sequence[WorkerConfig],
    workload: Workload,
    load: LoadSpec,
    broker: Broker,
    *,
    repeat: int = 1,
    nodes: int = 1,
    cpus: float | None = None,
    progress: Progress | None = None,
    on_result: Callable[[RunResult], None] | None = None,
    capacity: Capacity | None = None,
    **kwargs: Any,
) -> list[RunResult]:
    """Run every config ``repeat`` times, interleaved (A B A B ...), at one common load.

    With ``--load``, capacity is measured once (on the first config) so every config gets the
    same offered rate.  ``progress`` receives "label #repeat: phase" and the overall fraction.
    """
    if not configs:
        raise BenchError("no configuration to run")
    if repeat < 1:
        raise BenchError(f"--repeat must be >= 1, got {repeat}")
    load = load.validate()
    broker = broker.validate()
    check_reachable(broker)
    cpus = cpus if cpus is not None else available_cpus()
    total = len(configs) * repeat
    if load.needs_capacity:
        if capacity is None:
            capacity = measure_capacity(
                configs[0],
                workload,
                broker,
                nodes=nodes,
                cpus=cpus,
                progress=_scaled(progress, "measuring capacity", 0, total),
            )
        load = load.with_capacity(capacity.rate)
    results: list[RunResult] = []
    for r in range(repeat):
        for i, cfg in enumerate(configs):
            label = f"{cfg.label} #{r + 1}" if repeat > 1 else cfg.label
            result = run_config(
                cfg,
                workload,
                load,
                broker,
                nodes=nodes,
                repeat=r,
                cpus=cpus,
                progress=_scaled(progress, label, r * len(configs) + i, total),
                **kwargs,
            )
            results.append(result)
            if on_result is not None:
                on_result(result)
    return results


def _scaled(progress: Progress | None, label: str, index: int, total: int) -> Progress | None:
    if progress is None:
        return None
    report = progress

    def scaled(phase: str, fraction: float) -> None:
        report(f"{label}: {phase}", (index + min(max(fraction, 0.0), 1.0)) / total)

    return scaled


def describe_env(broker: Broker, cpus: float | None = None) -> dict[str, object]:
    import platform

    import celery
    import kombu

    return {
        "python": platform.python_version(),
        "celery": celery.__version__,
        "kombu": kombu.__version__,
        "cpus": cpus if cpus is not None else available_cpus(),
        "broker": broker.describe(),
        "platform": platform.platform(),
    }
