"""``report.json`` (every trial, the baselines, the confirmation, the environment, the verdict)
and ``report.html``: self-contained (plotly.js inlined once), readable offline.
"""

from __future__ import annotations

import html
import json
import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

REPORT_VERSION = 1


def clean(value: object) -> object:
    """JSON-safe: NaN and infinities become None, tuples lists, unknown objects strings."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean(v) for v in value]
    if value is None or isinstance(value, (str, int, bool)):
        return value
    return str(value)


def trial_record(trial: FrozenTrial) -> dict[str, object]:
    """One trial as report.json shows it."""
    duration = trial.duration.total_seconds() if trial.duration is not None else None
    constraints = trial.system_attrs.get("constraints")
    return {
        "number": trial.number,
        "state": trial.state.name,
        "baseline": trial.user_attrs.get("baseline"),
        "params": dict(trial.params),
        "config": trial.user_attrs.get("config"),
        "values": list(trial.values) if trial.values is not None else None,
        "metrics": trial.user_attrs.get("metrics"),
        "constraints": trial.user_attrs.get("constraints", constraints),
        "feasible": feasible(trial),
        "error": trial.user_attrs.get("error"),
        "host": trial.user_attrs.get("host"),
        "intermediate_values": {str(k): v for k, v in sorted(trial.intermediate_values.items())},
        "fidelity": trial.user_attrs.get("fidelity"),
        "started": trial.datetime_start.isoformat() if trial.datetime_start else None,
        "finished": trial.datetime_complete.isoformat() if trial.datetime_complete else None,
        "duration_seconds": duration,
    }


def feasible(trial: FrozenTrial) -> bool:
    """Complete, and every constraint (``trial.set_constraint``) at or below zero."""
    if trial.state != TrialState.COMPLETE:
        return False
    return all(v <= 0 for v in trial.constraints.values())


def build(
    study: optuna.Study,
    *,
    summary: Mapping[str, object],
    confirmation: Mapping[str, object] | None,
    improvement: Mapping[str, object] | None,
    environment: Mapping[str, object],
    files: Sequence[str] = (),
) -> dict[str, object]:
    """The whole report as a JSON-ready dict."""
    trials = study.get_trials(deepcopy=False)
    counts: dict[str, int] = {}
    for t in trials:
        counts[t.state.name] = counts.get(t.state.name, 0) + 1
    baselines = [trial_record(t) for t in trials if t.user_attrs.get("baseline")]
    front = pareto_front(study)
    report = {
        "version": REPORT_VERSION,
        "study": {
            "name": study.study_name,
            "directions": [d.name.lower() for d in study.directions],
            "metric_names": study.metric_names,
            "trial_counts": counts,
        },
        **summary,
        "pareto_front": [t.number for t in front] if len(study.directions) > 1 else None,
        "trials": [trial_record(t) for t in trials],
        "baselines": baselines,
        "confirmation": confirmation,
        "improvement": improvement,
        "environment": environment,
        "files": list(files),
    }
    return clean(report)  # type: ignore[return-value]


def pareto_front(study: optuna.Study) -> list[FrozenTrial]:
    """Feasible, complete, non-dominated trials."""
    if len(study.directions) < 2:
        return []
    return [t for t in study.best_trials if feasible(t)]


def dumps(report: Mapping[str, object]) -> str:
    return json.dumps(report, indent=2, sort_keys=False, allow_nan=False) + "\n"


# -- HTML ---------------------------------------------------------------------------------------


def _figures(study: optuna.Study, report: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """(title, plotly figure) pairs; a figure that cannot be drawn yet is skipped."""
    import optuna.visualization as vis

    names = list(report.get("objectives") or ["objective"])
    figures: list[tuple[str, Any]] = []
    complete = [t for t in study.get_trials(deepcopy=False) if t.state == TrialState.COMPLETE]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if complete:
            if len(study.directions) == 1:
                fig = vis.plot_optimization_history(study, target_name=names[0])
                figures.append(("Optimisation history", fig))
            else:
                for i, name in enumerate(names):
                    fig = vis.plot_optimization_history(
                        study, target=_value_of(i), target_name=name
                    )
                    figures.append((f"Optimisation history: {name}", fig))
                fig = vis.plot_pareto_front(study, target_names=names)
                figures.append(("Pareto front", fig))
        if len(complete) >= 2:
            try:
                if len(study.directions) == 1:
                    fig = vis.plot_param_importances(study, target_name=names[0])
                else:
                    fig = vis.plot_param_importances(
                        study, target=_value_of(0), target_name=names[0]
                    )
                figures.append(("Parameter importances", fig))
            except (ValueError, RuntimeError, ZeroDivisionError):
                pass
    comparison = _comparison_figure(report)
    if comparison is not None:
        figures.append(("Baseline comparison (confirmation runs)", comparison))
    return figures


def _value_of(index: int) -> Callable[[FrozenTrial], float]:
    def target(trial: FrozenTrial) -> float:
        return float(trial.values[index])

    return target


def _comparison_figure(report: Mapping[str, Any]) -> Any:
    confirmation = report.get("confirmation") or {}
    configs = confirmation.get("configs") or []
    if not configs:
        return None
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=1, cols=2, subplot_titles=("throughput (tasks/s)", "p99 (s)"))
    labels = [c["label"] for c in configs]
    for col, metric in ((1, "throughput"), (2, "p99")):
        mids, lows, highs = [], [], []
        for c in configs:
            values = [r.get(metric) for r in c.get("runs", []) if r.get(metric) is not None]
            mid = sorted(values)[len(values) // 2] if values else None
            mids.append(mid)
            lows.append(mid - min(values) if values and mid is not None else 0)
            highs.append(max(values) - mid if values and mid is not None else 0)
        fig.add_bar(
            x=labels,
            y=mids,
            error_y={"type": "data", "array": highs, "arrayminus": lows},
            name=metric,
            row=1,
            col=col,
        )
    fig.update_layout(showlegend=False)
    return fig


def _table(report: Mapping[str, Any]) -> str:
    rows = []
    for t in report.get("trials", []):
        metrics = t.get("metrics") or {}
        params = ", ".join(f"{k}={v}" for k, v in (t.get("params") or {}).items())
        cells = [
            str(t["number"]),
            t["state"] + (" (baseline: " + t["baseline"] + ")" if t.get("baseline") else ""),
            _num(metrics.get("throughput")),
            _num(metrics.get("p99")),
            "yes" if t.get("feasible") else "no",
            params,
            t.get("error") or "",
        ]
        rows.append("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>")
    head = "".join(
        f"<th>{h}</th>"
        for h in ("#", "state", "throughput/s", "p99 s", "feasible", "params", "error")
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _num(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    return "" if value is None else str(value)


def _summary(report: Mapping[str, Any]) -> str:
    items = []
    pick = report.get("pick") or {}
    if pick:
        status = html.escape(str(pick.get("status") or ""))
        source = html.escape(str(pick.get("source") or f"trial {pick.get('trial')}"))
        items.append(f"<p><b>Pick:</b> {source} ({status})</p>")
        settings = pick.get("settings") or {}
        body = "".join(
            f"<tr><td><code>{html.escape(k)}</code></td><td>{html.escape(repr(v))}</td></tr>"
            for k, v in settings.items()
        )
        items.append(f"<table>{body}</table>")
        if pick.get("command"):
            items.append(f"<pre>{html.escape(pick['command'])}</pre>")
    else:
        unconfirmed = report.get("unconfirmed_pick") or {}
        why = f": {unconfirmed['why']}" if unconfirmed.get("why") else ""
        items.append(f"<p><b>Nothing is recommended</b>{html.escape(why)}</p>")
    for verdict in (report.get("improvement") or {}).get("by_baseline", {}).values():
        items.append(f"<p>{html.escape(str(verdict.get('verdict', '')))}</p>")
    constraints = (report.get("confirmation") or {}).get("constraints") or {}
    for label, state in constraints.items():
        if state.get("broken"):
            shown = "the search's pick" if label == "tuned" else label
            broke = ", ".join(str(b) for b in state["broken"])
            items.append(f"<p>Not recommended: {html.escape(shown)} broke {html.escape(broke)}</p>")
    for note in report.get("notes") or []:
        items.append(f"<p class=note>{html.escape(str(note))}</p>")
    return "\n".join(items)


STYLE = """
body{font-family:system-ui,sans-serif;margin:2em;max-width:1200px}
table{border-collapse:collapse;font-size:90%}td,th{border:1px solid #ccc;padding:2px 6px}
.note{color:#555}pre{background:#f4f4f4;padding:.5em;white-space:pre-wrap}
"""


def render_html(study: optuna.Study, report: Mapping[str, Any]) -> str:
    """The HTML report; plotly.js is embedded once, so it works with no network."""
    parts = []
    first = True
    for title, fig in _figures(study, report):
        div = fig.to_html(full_html=False, include_plotlyjs=first)
        first = False
        parts.append(f"<h2>{html.escape(title)}</h2>\n{div}")
    workload = html.escape(str(report.get("workload", "")))
    objective = html.escape(str(report.get("objective_text", "")))
    return (
        "<!DOCTYPE html>\n<html><head><meta charset='utf-8'>"
        f"<title>celery-tune optimize: {workload}</title><style>{STYLE}</style></head><body>"
        f"<h1>celery-tune optimize</h1><p>Workload <b>{workload}</b>; objective: {objective}</p>"
        f"{_summary(report)}\n{''.join(parts)}\n<h2>Trials</h2>{_table(report)}"
        "</body></html>\n"
    )
