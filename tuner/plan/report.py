"""``report.html``: the plan's evidence, self-contained (plotly.js inlined once, no network).

Three figures: the scaling curve (measured saturated throughput against children, and against
nodes, with the USL fit); predicted p99 against offered rate for each candidate fleet, with the
SLO line and the target rate; the validation points, predicted against measured.
"""

from __future__ import annotations

import html
import json
import math
from typing import Any

from tuner.plan.output import Outcome, document

STYLE = """
body{font-family:system-ui,sans-serif;margin:2em;max-width:1200px}
table{border-collapse:collapse;font-size:90%}td,th{border:1px solid #ccc;padding:2px 6px}
.note{color:#555}pre{background:#f4f4f4;padding:.5em;white-space:pre-wrap}.bad{color:#b00}
"""


def figures(o: Outcome) -> list[tuple[str, Any]]:
    import plotly.graph_objects as go

    m = o.model
    u = m.usl
    out: list[tuple[str, Any]] = []
    scaling = go.Figure()
    pts = m.concurrency_points
    scaling.add_trace(
        go.Scatter(
            x=[p.concurrency for p in pts],
            y=[p.throughput for p in pts],
            mode="markers",
            name="measured, 1 node",
            marker={"size": 10},
        )
    )
    if m.node_points:
        scaling.add_trace(
            go.Scatter(
                x=[p.nodes * p.concurrency for p in m.node_points],
                y=[p.throughput for p in m.node_points],
                mode="markers",
                name="measured, several nodes (children in total)",
                marker={"size": 10, "symbol": "diamond"},
            )
        )
    top = max(p.concurrency for p in pts) * 1.5
    xs = [1 + i * (top - 1) / 60 for i in range(61)]
    scaling.add_trace(
        go.Scatter(
            x=xs,
            y=[u.throughput(x) for x in xs],
            mode="lines",
            name=f"USL fit: sigma={u.sigma:.3f}, kappa={u.kappa:.4f}",
        )
    )
    scaling.update_layout(
        xaxis_title="children (concurrency)", yaxis_title="saturated throughput, tasks/s"
    )
    out.append((f"Scaling on this machine ({m.cpus:g} CPUs)", scaling))

    curves = go.Figure()
    best = o.recommendation.best
    for p in o.recommendation.candidates:
        if not p.curve:
            continue
        pick = best is not None and (p.nodes, p.concurrency) == (best.nodes, best.concurrency)
        curves.add_trace(
            go.Scatter(
                x=[r for r, _ in p.curve],
                y=[v if math.isfinite(v) else None for _, v in p.curve],
                mode="lines+markers",
                name=f"{p.nodes} x {p.concurrency}" + (" (pick)" if pick else ""),
                line={"width": 4 if pick else 1.5},
            )
        )
    curves.add_hline(y=o.target.p99_slo, line_dash="dash", annotation_text="p99 SLO")
    curves.add_vline(x=o.target.rate, line_dash="dot", annotation_text="target rate")
    curves.update_layout(xaxis_title="offered rate, tasks/s", yaxis_title="predicted p99, s")
    out.append(("Predicted p99 against rate, per candidate fleet (nodes x children)", curves))

    if o.validation:
        val = go.Figure()
        checks = o.validation
        labels = [f"{c.label} ({c.rate:.1f}/s)" for c in checks]
        val.add_trace(go.Bar(x=labels, y=[c.predicted_p99 for c in checks], name="p99 predicted"))
        val.add_trace(go.Bar(x=labels, y=[c.measured_p99 for c in checks], name="p99 measured"))
        val.add_trace(
            go.Scatter(
                x=labels,
                y=[c.predicted_throughput for c in checks],
                name="throughput predicted",
                yaxis="y2",
                mode="markers",
                marker={"size": 12, "symbol": "x"},
            )
        )
        val.add_trace(
            go.Scatter(
                x=labels,
                y=[c.measured_throughput for c in checks],
                name="throughput measured",
                yaxis="y2",
                mode="markers",
                marker={"size": 12},
            )
        )
        val.update_layout(
            barmode="group",
            yaxis_title="p99, s",
            yaxis2={"title": "tasks/s", "overlaying": "y", "side": "right"},
        )
        out.append(("Validation: predicted against measured (live runs)", val))
    return out


def render_html(o: Outcome) -> str:
    parts = []
    first = True
    for title, fig in figures(o):
        div = fig.to_html(full_html=False, include_plotlyjs=first)
        first = False
        parts.append(f"<h2>{html.escape(title)}</h2>\n{div}")
    doc = document(o)
    best = o.recommendation.best
    if best is None:
        summary = f"<p class='bad'>No recommendation: {html.escape(o.recommendation.reason)}</p>"
    else:
        verdict = {None: "not validated", True: "verified", False: "UNVERIFIED"}[o.verified]
        summary = (
            f"<p><b>{best.nodes} node(s) x {best.concurrency} children</b> for "
            f"{o.target.rate:g} tasks/s at p99 &le; {o.target.p99_slo:g} s: predicted p99 "
            f"{best.p99:.3f} s, utilisation {best.utilisation:.0%}, SLO holds up to "
            f"{(best.headroom_rate or 0):.1f} tasks/s ({verdict}).</p>"
        )
    return (
        "<!DOCTYPE html>\n<html><head><meta charset='utf-8'>"
        f"<title>celery-tune plan: {html.escape(o.model.workload)}</title>"
        f"<style>{STYLE}</style></head><body><h1>celery-tune plan</h1>{summary}"
        f"{''.join(parts)}\n<h2>The plan (JSON)</h2><pre>"
        f"{html.escape(json.dumps(doc, indent=2))}</pre></body></html>\n"
    )
