"""Predictions from a measured :class:`~tuner.plan.characterise.Model`, and the recommendation.

A candidate fleet is ``nodes`` machines of ``instance_cpus`` CPUs, each running one worker of
``concurrency`` children with the prefetch settings given.  Its p99 at a rate comes from the
simulation (:mod:`tuner.plan.sim`), which replays the measured tasks (run time and CPU seconds)
with their CPU parts sharing each machine's CPUs.  Without CPU seconds it falls back to the USL
slowdown measured here; on an instance of K CPUs, n busy children then contend like
n x (CPUs here / K) children here (contention scales with children per CPU).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from tuner.plan.characterise import Model
from tuner.plan.sim import Fleet, ServiceModel, SimResult, simulate

HOURS_PER_MONTH = 730.0
SIM_TASKS = 6_000


@dataclass(frozen=True)
class Target:
    rate: float  # tasks/s offered
    p99_slo: float  # seconds
    headroom: float = 0.2  # the fleet must meet the SLO at rate x (1 + headroom)
    instance_cpus: float | None = None  # None: machines like this one
    instance_price: float | None = None  # per hour


@dataclass(frozen=True)
class Settings:
    prefetch_multiplier: int = 1
    acks_late: bool = True
    disable_prefetch: bool = False

    @classmethod
    def of(cls, config: Mapping[str, object]) -> Settings:
        """The prefetch settings of a worker config (``WorkerConfig.as_dict()``, or a saved
        model's ``config``); Celery's defaults for what it lacks."""
        multiplier = config.get("prefetch_multiplier", 4)
        return cls(
            prefetch_multiplier=multiplier if isinstance(multiplier, int) else 4,
            acks_late=bool(config.get("acks_late")),
            disable_prefetch=bool(config.get("disable_prefetch")),
        )

    def fleet(self, nodes: int, concurrency: int) -> Fleet:
        return Fleet(
            nodes, concurrency, self.prefetch_multiplier, self.acks_late, self.disable_prefetch
        )


@dataclass(frozen=True)
class Prediction:
    nodes: int
    concurrency: int
    rate: float
    throughput: float
    p99: float
    utilisation: float
    capacity: float  # tasks/s the fleet (or the broker) can take at most
    limited_by: str  # "workers" | "broker"
    meets_slo: bool  # at the target rate x (1 + headroom)
    p99_at_headroom: float
    monthly_cost: float | None = None
    headroom_rate: float | None = None
    curve: tuple[tuple[float, float], ...] = field(default=(), compare=False)  # (rate, p99)

    def as_dict(self) -> dict[str, object]:
        return {
            "nodes": self.nodes,
            "concurrency": self.concurrency,
            "rate": self.rate,
            "throughput": self.throughput,
            "p99": _finite(self.p99),
            "utilisation": self.utilisation,
            "capacity": self.capacity,
            "limited_by": self.limited_by,
            "meets_slo": self.meets_slo,
            "p99_at_headroom": _finite(self.p99_at_headroom),
            "monthly_cost": self.monthly_cost,
            "headroom_rate": self.headroom_rate,
        }


def _finite(v: float) -> float | None:
    return v if math.isfinite(v) else None


def service_model(
    model: Model,
    *,
    instance_cpus: float | None = None,
    shared_host: bool = False,
    cpu_sharing: bool = True,
    concurrency: int | None = None,
) -> ServiceModel:
    """The simulation's input for machines of ``instance_cpus`` CPUs (or this one's).

    When every measured task has its CPU seconds, the CPU parts share the host's CPUs (processor
    sharing, min(1, C/k) speed with k in their CPU part); the USL slowdown is the fallback when
    they are missing (or ``cpu_sharing`` is False, to compare the two).  ``shared_host``: every
    node on this machine (``--validate``).  ``concurrency``: children per node, for the child
    overhead fitted at that concurrency (None: the one measured at 1 child)."""
    key = (id(model), instance_cpus, shared_host, cpu_sharing, concurrency)
    cached = _MODELS.get(key)
    if cached is not None and cached[0] is model:
        return cached[1]
    scale = model.cpus / instance_cpus if instance_cpus else 1.0
    usl = model.usl

    def slowdown(n: int) -> float:
        return usl.slowdown(max(1.0, n * scale))

    paired = cpu_sharing and len(model.cpu_times) == len(model.run_times) > 0
    svc = ServiceModel(
        samples=model.run_times,
        overhead=model.overhead if concurrency is None else model.overhead_for(concurrency),
        dispatch=model.dispatch,
        slowdown=slowdown,
        shared_host=shared_host,
        cpu=model.cpu_times if paired else None,
        cpus=(model.cpus if shared_host else instance_cpus or model.cpus) if paired else None,
        weights=model.sample_weights(),
        overhead_cpu=model.overhead_cpu,
    )
    if len(_MODELS) > 64:
        _MODELS.clear()
    _MODELS[key] = (model, svc)
    return svc


# Service models by (model, instance CPUs, shared host): their capacities are simulated once.
_MODELS: dict[tuple[int, float | None, bool, bool, int | None], tuple[Model, ServiceModel]] = {}


def calibrated(model: Model) -> Model:
    """``model`` with the child overhead fitted to each saturated one-node run it holds, and the
    worker CPU per task charged as much as those runs allow (:mod:`tuner.plan.calibrate`)."""
    from tuner.plan.calibrate import Run, fit

    settings = Settings.of(model.config)
    svc = service_model(model, concurrency=1)
    runs = []
    for p in model.concurrency_points:
        if p.nodes != 1:
            continue
        # Replay the run's own mix of task types (the workload's shares when it is unknown).
        share = {n: 0.0 for n in model.nominals}
        share.update({n: float(k) for n, k in p.mix if n in share})
        weights = model.weights_for(share) if p.mix else None
        run_svc = replace(svc, weights=weights) if weights is not None else svc
        runs.append(Run(p.concurrency, p.throughput, run_svc, settings.fleet(1, p.concurrency)))
    measured = (
        model.overhead_cpu if model.overhead_cpu_measured is None else (model.overhead_cpu_measured)
    )
    charged, fitted = fit(runs, measured)
    return replace(model, overheads=fitted, overhead_cpu=charged, overhead_cpu_measured=measured)


def predict(
    model: Model,
    settings: Settings,
    nodes: int,
    concurrency: int,
    rate: float,
    *,
    instance_cpus: float | None = None,
    shared_host: bool = False,
    tasks: int = SIM_TASKS,
    seed: int = 0,
    cpu_sharing: bool = True,
) -> SimResult:
    """Simulated throughput, utilisation and p99 of one fleet at ``rate``, capped by the broker."""
    svc = service_model(
        model, instance_cpus=instance_cpus, shared_host=shared_host, cpu_sharing=cpu_sharing,
        concurrency=concurrency,
    )  # fmt: skip
    fleet = settings.fleet(nodes, concurrency)
    res = simulate(fleet, svc, rate, tasks=tasks, seed=seed)
    ceiling = model.broker_ceiling
    if ceiling is not None and rate > ceiling:
        # Past the broker's ceiling the queue grows without bound whatever the workers do.
        return SimResult(
            rate=rate,
            throughput=min(res.throughput, ceiling),
            utilisation=res.utilisation * ceiling / rate,
            p50=math.inf,
            p90=math.inf,
            p99=math.inf,
            mean_latency=math.inf,
            mean_wait=math.inf,
            wait_probability=1.0,
            tasks=res.tasks,
            stable=False,
        )
    return res


def capacity(
    model: Model,
    settings: Settings,
    nodes: int,
    concurrency: int,
    *,
    instance_cpus: float | None = None,
    shared_host: bool = False,
) -> tuple[float, str]:
    svc = service_model(
        model, instance_cpus=instance_cpus, shared_host=shared_host, concurrency=concurrency
    )
    workers = svc.capacity(settings.fleet(nodes, concurrency))
    ceiling = model.broker_ceiling
    if ceiling is not None and ceiling < workers:
        return ceiling, "broker"
    return workers, "workers"


def headroom_rate(
    model: Model,
    settings: Settings,
    nodes: int,
    concurrency: int,
    slo: float,
    *,
    instance_cpus: float | None = None,
    shared_host: bool = False,
    steps: int = 7,
) -> float:
    """The highest rate (bisection, ``steps`` simulations) at which the p99 still meets ``slo``."""
    cap, _ = capacity(
        model, settings, nodes, concurrency, instance_cpus=instance_cpus, shared_host=shared_host
    )
    lo, hi = 0.0, cap
    for _ in range(steps):
        mid = (lo + hi) / 2
        if mid <= 0:
            break
        res = predict(
            model, settings, nodes, concurrency, mid, instance_cpus=instance_cpus,
            shared_host=shared_host,
        )  # fmt: skip
        if res.stable and res.p99 <= slo:
            lo = mid
        else:
            hi = mid
    return lo


def latency_floor(model: Model) -> float:
    """The p99 no fleet can beat: the tasks' own run time plus the dispatch delay, alone."""
    runs = sorted(model.run_times)
    p99 = runs[max(0, math.ceil(0.99 * len(runs)) - 1)]
    return p99 + model.dispatch


def concurrency_choices(cpus: float) -> list[int]:
    """Children per node to try: 1 .. 2 x CPUs, a handful of them (CPU-bound: up to the CPUs)."""
    top = max(2, round(2 * cpus))
    picks = {1, max(1, int(cpus) // 2), max(1, int(cpus)), max(1, round(1.5 * cpus)), top}
    return sorted(p for p in picks if p >= 1)


def monthly_cost(nodes: int, price: float | None) -> float | None:
    return None if price is None else nodes * price * HOURS_PER_MONTH


def evaluate(
    model: Model,
    settings: Settings,
    target: Target,
    nodes: int,
    concurrency: int,
    *,
    curve_points: int = 0,
) -> Prediction:
    cpus = target.instance_cpus
    cap, limited = capacity(model, settings, nodes, concurrency, instance_cpus=cpus)
    res = predict(model, settings, nodes, concurrency, target.rate, instance_cpus=cpus)
    high = target.rate * (1 + target.headroom)
    at_high = (
        predict(model, settings, nodes, concurrency, high, instance_cpus=cpus)
        if target.headroom > 0
        else res
    )
    ok = at_high.stable and at_high.p99 <= target.p99_slo and res.p99 <= target.p99_slo
    curve: list[tuple[float, float]] = []
    for k in range(1, curve_points + 1):
        r = cap * 0.95 * k / curve_points
        pr = predict(model, settings, nodes, concurrency, r, instance_cpus=cpus, tasks=3_000)
        curve.append((r, pr.p99 if pr.stable else math.inf))
    return Prediction(
        nodes=nodes,
        concurrency=concurrency,
        rate=target.rate,
        throughput=res.throughput,
        p99=res.p99 if res.stable else math.inf,
        utilisation=res.utilisation,
        capacity=cap,
        limited_by=limited,
        meets_slo=ok,
        p99_at_headroom=at_high.p99 if at_high.stable else math.inf,
        monthly_cost=monthly_cost(nodes, target.instance_price),
        curve=tuple(curve),
    )


@dataclass(frozen=True)
class Recommendation:
    best: Prediction | None  # None: no fleet within max_nodes meets the SLO
    candidates: tuple[Prediction, ...]
    reason: str = ""


def recommend(
    model: Model,
    settings: Settings,
    target: Target,
    *,
    max_nodes: int = 64,
    concurrencies: Sequence[int] | None = None,
    progress: Callable[[str], None] | None = None,
) -> Recommendation:
    """The cheapest fleet (fewest nodes; then the lowest p99) meeting the SLO with headroom.

    Node counts are tried upward from the least whose capacity covers rate x (1 + headroom); the
    first count with a concurrency that meets the SLO wins, and its neighbours are kept as the
    candidates shown."""
    cpus = target.instance_cpus or model.cpus
    choices = list(concurrencies or concurrency_choices(cpus))
    if model.kind == "cpu" and concurrencies is None:
        # CPU-bound: no more children than CPUs (the audit's CT201), whatever the USL says.
        choices = [c for c in choices if c <= max(1, int(cpus))]
    need = target.rate * (1 + target.headroom)
    best_cap = max(
        capacity(model, settings, 1, c, instance_cpus=target.instance_cpus)[0] for c in choices
    )
    ceiling = model.broker_ceiling
    if ceiling is not None and need >= ceiling:
        return Recommendation(
            None,
            (),
            f"{need:.0f} tasks/s is beyond the broker's measured ceiling of {ceiling:.0f} "
            "messages/s: one broker cannot carry it (shard the queue or use a faster broker)",
        )
    floor = latency_floor(model)
    if floor > target.p99_slo:
        return Recommendation(
            None,
            (),
            f"the tasks' own p99 (run time + dispatch, with no wait and no neighbour) "
            f"is {floor:.3f} s, above the SLO of {target.p99_slo:g} s: no fleet can meet it",
        )
    start = max(1, math.ceil(need / best_cap)) if best_cap > 0 else 1
    candidates: list[Prediction] = []
    best: Prediction | None = None
    best_p99: list[float] = []  # per node count: the lowest p99 at the headroom rate
    for nodes in range(start, max_nodes + 1):
        row = []
        for c in choices:
            cap, _ = capacity(model, settings, nodes, c, instance_cpus=target.instance_cpus)
            if cap <= need * 0.999 and nodes > start:
                continue
            if progress is not None:
                progress(f"simulating {nodes} node(s) x {c}")
            row.append(evaluate(model, settings, target, nodes, c, curve_points=8))
        candidates.extend(row)
        ok = [p for p in row if p.meets_slo]
        if ok:
            best = min(ok, key=lambda p: (p.p99_at_headroom, p.concurrency))
            break
        best_p99.append(min((p.p99_at_headroom for p in row), default=math.inf))
        if len(best_p99) >= 4 and best_p99[-1] >= 0.99 * best_p99[-4]:
            break  # more nodes no longer lower the p99: it is the tasks' own, not the wait
    if best is None:
        last = {p.nodes for p in candidates}
        shown = tuple(p for p in candidates if p.nodes >= max(last, default=0) - 1)
        tried = max(last, default=start)
        return Recommendation(
            None,
            shown,
            f"no fleet of up to {tried} nodes meets p99 <= {target.p99_slo:g} s at "
            f"{need:.1f} tasks/s, and more nodes no longer lower the predicted p99"
            if tried < max_nodes
            else f"no fleet of up to {max_nodes} nodes meets p99 <= {target.p99_slo:g} s at "
            f"{need:.1f} tasks/s",
        )
    candidates = [p for p in candidates if p.nodes >= best.nodes - 1]
    # One node fewer, for the table (it failed, which is why it is not the pick).
    if best.nodes > 1 and not any(p.nodes == best.nodes - 1 for p in candidates):
        candidates.append(evaluate(model, settings, target, best.nodes - 1, best.concurrency))
    hr = headroom_rate(
        model, settings, best.nodes, best.concurrency, target.p99_slo,
        instance_cpus=target.instance_cpus,
    )  # fmt: skip
    best = _with(best, headroom_rate=hr)
    candidates = [best if _same(p, best) else p for p in candidates]
    candidates.sort(key=lambda p: (p.nodes, p.concurrency))
    return Recommendation(best, tuple(candidates))


def _same(a: Prediction, b: Prediction) -> bool:
    return a.nodes == b.nodes and a.concurrency == b.concurrency


def _with(p: Prediction, **changes: object) -> Prediction:
    from dataclasses import replace

    return replace(p, **changes)  # type: ignore[arg-type]
