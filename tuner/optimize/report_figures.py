"""The report's plotly figures, each built from report.json's data (the study only for the
Pareto front and the importances).  A figure with nothing to draw is None."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from tuner.optimize.readout import (
    HIGHER_IS_BETTER,
    UNITS,
    describe_choice,
    objectives,
    shown_label,
    trial_choice,
    trial_kind,
)

# Importances from fewer complete trials than this are not shown: a random forest fitted to a
# handful of noisy points ranks the noise.
IMPORTANCE_MIN_TRIALS = 8
SPACE_METRICS = ("throughput", "p99")
KIND_STYLE = {
    "baseline": ("diamond", "#1f77b4"),
    "trap": ("x", "#d62728"),
    "seed": ("triangle-up", "#9467bd"),
    "search": ("circle", "#7f7f7f"),
}


def _num(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def _label(trial: Mapping[str, Any]) -> str:
    """Hover text of one trial (plotly escapes nothing in hover text: HTML-escaped here)."""
    import html

    kind = trial_kind(trial)
    extra = ""
    if kind == "baseline":
        extra = f" [{shown_label(trial.get('baseline'))}]"
    elif kind in ("trap", "seed"):
        value = trial.get(kind)
        extra = f" [{kind}: {value if isinstance(value, str) else kind}]"
    return html.escape(
        f"trial {trial.get('number')}: {describe_choice(trial_choice(trial))}{extra}"
    )


def verdicts_figure(report: Mapping[str, Any]) -> Any:
    """The recommendation against each baseline: ratio and interval per metric, log scale."""
    found = (report.get("confirmation") or {}).get("verdicts") or {}
    verdicts = {k: v for k, v in found.items() if not v.get("same_config")}
    metrics = [
        m
        for m in ("throughput", "p99", "efficiency")
        if any(m in (v.get("ratios") or {}) for v in verdicts.values())
    ]
    if not metrics:
        return None
    from plotly.subplots import make_subplots

    titles = [
        f"{m}: pick / baseline ({'above' if HIGHER_IS_BETTER.get(m, True) else 'below'} 1 = "
        "pick better)"
        for m in metrics
    ]
    fig = make_subplots(rows=1, cols=len(metrics), subplot_titles=titles, shared_yaxes=True)
    for col, metric in enumerate(metrics, start=1):
        ys, xs, lows, highs = [], [], [], []
        for label, v in verdicts.items():
            r = (v.get("ratios") or {}).get(metric)
            estimate = _num((r or {}).get("estimate"))
            if r is None or estimate is None:
                continue
            ci = r.get("ci") or [estimate, estimate]
            ys.append(shown_label(label))
            xs.append(estimate)
            lows.append(estimate - (_num(ci[0]) or estimate))
            highs.append((_num(ci[1]) or estimate) - estimate)
        fig.add_scatter(
            x=xs, y=ys, mode="markers", marker={"size": 11, "color": "#1f77b4"},
            error_x={"type": "data", "array": highs, "arrayminus": lows, "thickness": 2},
            name=metric, row=1, col=col,
        )  # fmt: skip
        fig.add_vline(x=1.0, line_dash="dot", line_color="#888", row=1, col=col)
        fig.update_xaxes(type="log", title_text="ratio (log scale)", row=1, col=col)
    fig.update_layout(showlegend=False, height=120 + 60 * len(verdicts), margin={"t": 50})
    return fig


def _coords(trial: Mapping[str, Any]) -> tuple[float, float, str]:
    """(concurrency, prefetch multiplier, note) of a trial for the space panels."""
    choice = trial_choice(trial)
    config = trial.get("config") or {}
    concurrency = _num(choice.get("concurrency"))
    if concurrency is None:
        concurrency = _num(config.get("concurrency")) if isinstance(config, Mapping) else None
    note = ""
    if choice.get("pool") == "solo" or concurrency is None:
        concurrency = 1.0
        note = " (solo: one at a time)"
    prefetch = _num(choice.get("prefetch_multiplier"))
    if choice.get("disable_prefetch") or prefetch is None or prefetch <= 0:
        prefetch = 1.0
        note += " (prefetch disabled)" if choice.get("disable_prefetch") else ""
    return concurrency, prefetch, note


def space_figure(report: Mapping[str, Any]) -> Any:
    """p99 and throughput by concurrency x prefetch multiplier, one column of panels per pool."""
    trials = [t for t in report.get("trials") or [] if t.get("state") == "COMPLETE"]
    metrics = [
        m for m in SPACE_METRICS if any(_num((t.get("metrics") or {}).get(m)) for t in trials)
    ]
    pools: list[str] = []
    for t in trials:
        pool = str(trial_choice(t).get("pool", "?"))
        if pool not in pools:
            pools.append(pool)
    if not metrics or not pools:
        return None
    import html

    from plotly.subplots import make_subplots

    pick_trial = (report.get("pick") or {}).get("trial")
    fig = make_subplots(
        rows=len(metrics), cols=len(pools), shared_xaxes=False, shared_yaxes=True,
        subplot_titles=[f"{html.escape(p)}: {m}" for m in metrics for p in pools],
        horizontal_spacing=0.06, vertical_spacing=0.14,
    )  # fmt: skip
    for row, metric in enumerate(metrics, start=1):
        axis = "coloraxis" if row == 1 else f"coloraxis{row}"
        for col, pool in enumerate(pools, start=1):
            chosen = [t for t in trials if str(trial_choice(t).get("pool", "?")) == pool]
            xs, ys, cs, texts, symbols, lines = [], [], [], [], [], []
            for t in chosen:
                value = _num((t.get("metrics") or {}).get(metric))
                if value is None:
                    continue
                x, y, note = _coords(t)
                feasible = bool(t.get("feasible", True))
                xs.append(x)
                ys.append(y)
                cs.append(value)
                unit = UNITS.get(metric, "")
                flag = "" if feasible else " INFEASIBLE"
                mark = " PICK" if t.get("number") == pick_trial else ""
                texts.append(f"{_label(t)}{note}<br>{metric} {value:.3g}{unit}{flag}{mark}")
                symbol = KIND_STYLE[trial_kind(t)][0]
                if t.get("number") == pick_trial:
                    symbol = "star"
                symbols.append(symbol if feasible else f"{symbol}-open")
                lines.append(3 if t.get("number") == pick_trial else 1)
            if not xs:
                continue
            fig.add_scatter(
                x=xs, y=ys, mode="markers", text=texts, hoverinfo="text", name=pool,
                marker={"color": cs, "coloraxis": axis, "size": 14, "symbol": symbols,
                        "line": {"width": lines, "color": "#000"}},
                row=row, col=col,
            )  # fmt: skip
            fig.update_xaxes(title_text="concurrency", row=row, col=col)
        fig.update_yaxes(title_text="prefetch multiplier", type="log", row=row, col=1)
        scale = "Viridis" if HIGHER_IS_BETTER.get(metric, True) else "Viridis_r"
        top = 1 - (row - 1) / len(metrics)
        fig.update_layout(
            {
                axis: {
                    "colorscale": scale,
                    "colorbar": {
                        "title": {"text": f"{metric}{UNITS.get(metric, '')}"},
                        "len": 0.9 / len(metrics),
                        "y": top - 0.5 / len(metrics),
                    },
                }
            }
        )
    fig.update_layout(showlegend=False, height=330 * len(metrics), margin={"t": 40})
    return fig


def history_figure(report: Mapping[str, Any]) -> Any:
    """Each objective per trial in order, by kind (baseline, trap, seed, search), with the best
    feasible value so far."""
    names = objectives(report)
    trials = [t for t in report.get("trials") or [] if t.get("state") == "COMPLETE"]
    if not trials:
        return None
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=len(names), cols=1, shared_xaxes=True,
                        subplot_titles=[f"{n} per trial" for n in names])  # fmt: skip
    for row, metric in enumerate(names, start=1):
        for kind, (symbol, color) in KIND_STYLE.items():
            chosen = [t for t in trials if trial_kind(t) == kind]
            points = [(t, _num((t.get("metrics") or {}).get(metric))) for t in chosen]
            shown = [(t, v) for t, v in points if v is not None]
            if not shown:
                continue
            fig.add_scatter(
                x=[t.get("number") for t, _ in shown], y=[v for _, v in shown], mode="markers",
                marker={"symbol": [symbol if t.get("feasible") else f"{symbol}-open"
                                   for t, _ in shown], "color": color, "size": 10},
                text=[_label(t) for t, _ in shown], hoverinfo="text+y", name=kind,
                legendgroup=kind, showlegend=row == 1, row=row, col=1,
            )  # fmt: skip
        best: float | None = None
        xs, ys = [], []
        up = HIGHER_IS_BETTER.get(metric, True)
        for t in sorted(trials, key=lambda t: int(t.get("number") or 0)):
            value = _num((t.get("metrics") or {}).get(metric))
            if value is None or not t.get("feasible"):
                continue
            if best is None or (value > best if up else value < best):
                best = value
            xs.append(t.get("number"))
            ys.append(best)
        if xs:
            fig.add_scatter(
                x=xs, y=ys, mode="lines", line={"shape": "hv", "color": "#2ca02c"},
                name="best feasible so far", legendgroup="best", showlegend=row == 1,
                row=row, col=1,
            )  # fmt: skip
        fig.update_yaxes(title_text=f"{metric}{UNITS.get(metric, '')}", row=row, col=1)
    fig.update_xaxes(title_text="trial", row=len(names), col=1)
    fig.update_layout(height=300 * len(names), margin={"t": 40})
    return fig


def pareto_figure(study: optuna.Study, report: Mapping[str, Any]) -> Any:
    if len(study.directions) < 2:
        return None
    import optuna.visualization as vis

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return vis.plot_pareto_front(study, target_names=objectives(report))
        except (ValueError, RuntimeError):
            return None


def complete_trials(study: optuna.Study) -> list[FrozenTrial]:
    return [t for t in study.get_trials(deepcopy=False) if t.state == TrialState.COMPLETE]


def _value_of(index: int) -> Callable[[FrozenTrial], float]:
    def target(trial: FrozenTrial) -> float:
        return float(trial.values[index])

    return target


def importances(study: optuna.Study) -> dict[str, float] | None:
    """fANOVA importances of the first objective, or None below the trial threshold or when
    they cannot be computed."""
    if len(complete_trials(study)) < IMPORTANCE_MIN_TRIALS:
        return None
    target = _value_of(0) if len(study.directions) > 1 else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            found = optuna.importance.get_param_importances(study, target=target, normalize=True)
        except (ValueError, RuntimeError, ZeroDivisionError):
            return None
    return {str(k): float(v) for k, v in found.items()}


def importance_figure(values: Mapping[str, float], metric: str) -> Any:
    import html

    import plotly.graph_objects as go

    names = list(reversed(list(values)))
    fig = go.Figure(
        go.Bar(x=[values[n] for n in names], y=[html.escape(n) for n in names], orientation="h")
    )
    fig.update_layout(
        xaxis_title=f"share of {metric}'s variance explained (fANOVA)",
        height=80 + 30 * len(names), margin={"t": 20},
    )  # fmt: skip
    return fig
