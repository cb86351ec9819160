"""The plan's JSON document (the contract in the README) and its terminal rendering."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from tuner.plan.characterise import Model
from tuner.plan.predict import Prediction, Recommendation, Target
from tuner.plan.validate import P99_TOLERANCE, THROUGHPUT_TOLERANCE, Check

VERSION = 1


@dataclass(frozen=True)
class Outcome:
    """Everything one ``plan`` run found."""

    target: Target
    model: Model
    recommendation: Recommendation
    settings: dict[str, object]  # Celery settings of the recommended workers
    current: Prediction | None = None  # --nodes-now with --config
    validation: tuple[Check, ...] = ()
    validated: bool = False  # --validate was asked
    autoscaler: dict[str, object] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)

    @property
    def verified(self) -> bool | None:
        if not self.validated:
            return None
        return bool(self.validation) and all(c.within for c in self.validation)


def _num(v: float | None) -> float | None:
    return None if v is None or not math.isfinite(v) else v


def document(o: Outcome) -> dict[str, Any]:
    best = o.recommendation.best
    rec: dict[str, Any] | None = None
    if best is not None:
        saving = None
        if o.current is not None and o.current.monthly_cost is not None:
            saving = o.current.monthly_cost - (best.monthly_cost or 0.0)
        rec = {
            "nodes": best.nodes,
            "concurrency": best.concurrency,
            "settings": o.settings,
            "predicted": {
                "throughput": best.throughput,
                "p99": _num(best.p99),
                "utilisation": best.utilisation,
            },
            "headroom_rate": best.headroom_rate,
            "monthly_cost": best.monthly_cost,
            "monthly_saving": saving,
            "instance_cpus": o.target.instance_cpus or o.model.cpus,
            "verified": o.verified,
        }
    return {
        "version": VERSION,
        "target": {
            "rate": o.target.rate,
            "p99_slo": o.target.p99_slo,
            "headroom": o.target.headroom,
            "instance_cpus": o.target.instance_cpus,
            "instance_price": o.target.instance_price,
        },
        "recommendation": rec,
        "reason": o.recommendation.reason or None,
        "current": o.current.as_dict() if o.current is not None else None,
        "model": {
            "usl": o.model.usl.as_dict(),
            "service_time": o.model.service_summary(),
            "broker_ceiling": o.model.broker_ceiling,
            "cpus": o.model.cpus,
            "workload": o.model.workload,
            "broker": o.model.broker,
            "node_points": [p.as_dict() for p in o.model.node_points],
        },
        "candidates": [p.as_dict() for p in o.recommendation.candidates],
        "validation": [c.as_dict() for c in o.validation],
        "autoscaler": o.autoscaler,
        "files": o.files,
    }


def _s(v: float | None, unit: str = "s") -> str:
    if v is None or not math.isfinite(v):
        return "∞"
    if unit == "s":
        return f"{v:.3f} s" if v < 10 else f"{v:.1f} s"
    return f"{v:.1f}"


def render(o: Outcome, console: Any) -> None:
    from rich.table import Table

    m = o.model
    t = o.target
    u = m.usl
    svc = m.service_summary()
    console.print(
        f"[bold]model[/bold] ({m.workload}, broker {m.broker}, {m.cpus:g} CPUs here): "
        f"USL lambda={u.lam:.2f}/s ±{_err(u.lam_err)}, sigma={u.sigma:.3f} ±{_err(u.sigma_err)}, "
        f"kappa={u.kappa:.4f} ±{_err(u.kappa_err)}; service mean {_ms(svc['mean'])}, "
        f"p99 {_ms(svc['p99'])} ({svc['samples']} tasks at low load); "
        f"broker ceiling {_s(m.broker_ceiling, '')} msg/s"
    )
    table = Table(
        title=f"candidate fleets for {t.rate:g} tasks/s, p99 ≤ {t.p99_slo:g} s "
        f"(headroom {t.headroom:.0%}), {t.instance_cpus or m.cpus:g}-CPU nodes"
    )
    for col in ("nodes", "children", "capacity/s", "throughput/s", "util", "p99", "p99 +hr"):
        table.add_column(col, justify="right")
    table.add_column("SLO")
    table.add_column("$/month", justify="right")
    best = o.recommendation.best
    for p in o.recommendation.candidates:
        mark = "[green]meets[/green]" if p.meets_slo else "[red]misses[/red]"
        if best is not None and (p.nodes, p.concurrency) == (best.nodes, best.concurrency):
            mark += " [bold]← pick[/bold]"
        table.add_row(
            str(p.nodes),
            str(p.concurrency),
            f"{p.capacity:.1f}" + (" (broker)" if p.limited_by == "broker" else ""),
            f"{p.throughput:.1f}",
            f"{p.utilisation:.0%}",
            _s(p.p99),
            _s(p.p99_at_headroom),
            mark,
            "-" if p.monthly_cost is None else f"{p.monthly_cost:,.0f}",
        )
    if o.recommendation.candidates:
        console.print(table)
    if best is None:
        console.print(f"[red]no recommendation[/red]: {o.recommendation.reason}")
    else:
        verdict = ""
        if o.verified is False:
            verdict = " [red](unverified: validation outside the stated accuracy)[/red]"
        elif o.verified:
            verdict = " [green](verified against live runs)[/green]"
        cost = "" if best.monthly_cost is None else f", ${best.monthly_cost:,.0f}/month"
        console.print(
            f"[bold]recommendation[/bold]: {best.nodes} node(s) x {best.concurrency} children"
            f"{cost}; predicted p99 {_s(best.p99)} at {t.rate:g} tasks/s, utilisation "
            f"{best.utilisation:.0%}; the SLO holds up to {_s(best.headroom_rate, '')} tasks/s"
            f"{verdict}"
        )
        console.print("settings: " + ", ".join(f"{k}={v!r}" for k, v in o.settings.items()))
    if o.current is not None:
        c = o.current
        line = (
            f"current fleet ({c.nodes} x {c.concurrency}): predicted p99 {_s(c.p99)}, "
            f"utilisation {c.utilisation:.0%}"
        )
        if c.monthly_cost is not None and best is not None and best.monthly_cost is not None:
            line += f"; saving ${c.monthly_cost - best.monthly_cost:,.0f}/month"
        console.print(line)
    a = o.autoscaler
    if a:
        console.print(
            f"autoscaler ({a['kind']}, queue {a['queue']}): {a['min_replicas']} to "
            f"{a['max_replicas']} replicas, target {a['target_queue_length']} waiting per replica "
            f"(Little's law: {float(a['per_replica_throughput']):.1f} tasks/s x "  # type: ignore[arg-type]
            f"{float(a['wait_budget']):.3f} s of queue-wait budget), grace period "  # type: ignore[arg-type]
            f"{a['termination_grace_seconds']} s"
        )
        if a.get("hidden_per_replica") != 0:
            console.print(
                "[red]prefetch hides tasks from the autoscaler: each replica reserves "
                f"{a.get('hidden_per_replica') or 'unlimited'} message(s) off the queue[/red]"
            )
    if o.validated:
        render_validation(o.validation, console)
    for kind, path in o.files.items():
        console.print(f"{kind}: {path}")


def render_validation(checks: Sequence[Check], console: Any) -> None:
    from rich.table import Table

    fresh = ", ".join(
        _s(c.predicted_p99_poisson) if not math.isnan(c.predicted_p99_poisson) else "-"
        for c in checks
    )
    table = Table(
        title=f"validation (live runs; accuracy: throughput ±{THROUGHPUT_TOLERANCE:.0%}, "
        f"p99 ±{P99_TOLERANCE:.0%})",
        caption=f"pred: the run's own arrivals, replayed (fresh Poisson arrivals: p99 {fresh})",
    )
    for col in ("point", "nodes", "children", "rate/s"):
        table.add_column(col, justify="right" if col != "point" else "left")
    for col in ("thr pred", "thr meas", "err", "p99 pred", "p99 meas", "err"):
        table.add_column(col, justify="right")
    for c in checks:
        te, pe = c.throughput_error, c.p99_error
        table.add_row(
            c.label,
            str(c.nodes),
            str(c.concurrency),
            f"{c.rate:.1f}",
            f"{c.predicted_throughput:.1f}",
            _s(c.measured_throughput, ""),
            _pct(te, THROUGHPUT_TOLERANCE),
            _s(c.predicted_p99),
            _s(c.measured_p99),
            _pct(pe, P99_TOLERANCE),
        )
    console.print(table)
    if not all(c.within for c in checks):
        console.print(
            "[red]a prediction is outside its stated accuracy: the recommendation is "
            "unverified[/red]"
        )


def _pct(err: float | None, tol: float) -> str:
    if err is None:
        return "[red]n/a[/red]"
    text = f"{err:+.0%}"
    return text if abs(err) <= tol else f"[red]{text}[/red]"


def _err(v: float) -> str:
    return "?" if not math.isfinite(v) else f"{v:.3g}"


def _ms(v: object) -> str:
    return f"{float(v) * 1000:.1f} ms" if isinstance(v, (int, float)) else "-"
