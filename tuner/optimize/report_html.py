"""``report.html``: a page a person can act on.

The first screen (above the fold at 1280x800) says what to change (the diff against ``--config``,
else against Celery's defaults, and the command line), the measured gain with its confidence
interval or why the current config is kept, the traps avoided, and the environment, the noise
and how many trials and rounds stand behind each claim (:mod:`tuner.optimize.readout`).  Below
it: the pick against each baseline, p99 and throughput across the space, the history, the
parameter importances (only from enough trials, with their count and a caveat) and every trial.

Self-contained and offline: plotly.js is inlined once in the head, no URL is fetched.  Every
string that comes from the user or the study (labels, paths, errors, settings) is escaped.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

import optuna

from tuner.optimize import readout as ro
from tuner.optimize import report_figures as figs


def e(value: object) -> str:
    return html.escape(str(value), quote=True)


STYLE = """
*{box-sizing:border-box}
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1d1d1f}
main{max-width:1260px;margin:0 auto;padding:10px 16px}
header.top{display:flex;gap:1em;align-items:baseline;border-bottom:1px solid #ddd;
 padding-bottom:4px}
header.top h1{font-size:17px;margin:0}header.top span{color:#555}
.verdict{margin:8px 0;padding:8px 12px;border-radius:6px;font-size:18px;font-weight:600}
.verdict .sub{font-size:13px;font-weight:400;margin-top:3px;color:#333}
.kind-change{background:#e6f4ea;border-left:6px solid #1e8e3e}
.kind-keep{background:#e8f0fe;border-left:6px solid #1a73e8}
.kind-nothing,.kind-unconfirmed{background:#fce8e6;border-left:6px solid #d93025}
.cols{display:grid;grid-template-columns:minmax(0,56fr) minmax(0,44fr);gap:14px}
h2{font-size:15px;margin:8px 0 4px}h2 small{font-weight:400;color:#555}
h3{font-size:13px;margin:6px 0 2px}
pre{background:#f6f8fa;border:1px solid #e1e4e8;border-radius:4px;padding:6px 8px;margin:0;
 font-size:12px;white-space:pre-wrap;overflow-wrap:anywhere;overflow:auto}
pre.diff{max-height:250px}.add{color:#116329;background:#dafbe1;display:block}
.del{color:#82071e;background:#ffebe9;display:block}.hunk{color:#6f42c1;display:block}
ul.facts{margin:0;padding-left:18px}ul.facts li{margin:2px 0}
.warn{color:#9a6700}.muted{color:#666;font-size:12px}
nav.below{margin-top:8px;font-size:13px;border-top:1px solid #ddd;padding-top:4px}
section.below{margin-top:22px;border-top:2px solid #eee}
table{border-collapse:collapse;font-size:12px}td,th{border:1px solid #ccc;padding:2px 6px;
 text-align:left;vertical-align:top}
.caveat{background:#fff8c5;border:1px solid #d4a72c;padding:6px 10px;border-radius:4px}
"""


def _diff_html(text: str) -> str:
    out = []
    for line in text.splitlines():
        cls = ""
        if line.startswith("+") and not line.startswith("+++"):
            cls = "add"
        elif line.startswith("-") and not line.startswith("---"):
            cls = "del"
        elif line.startswith("@@"):
            cls = "hunk"
        out.append(f"<span class={cls}>{e(line)}</span>" if cls else e(line) + "\n")
    return "".join(out)


def _verdict_html(data: Mapping[str, Any], counts: Mapping[str, Any]) -> str:
    kind = str(data.get("kind") or "nothing")
    sub = []
    rounds = data.get("rounds")
    if kind == "change":
        others = data.get("other_metrics") or []
        if others:
            sub.append("also measured: " + "; ".join(str(o) for o in others))
        sub.append(
            f"{rounds} interleaved confirmation rounds, paired t interval of the ratio "
            "(shared over every comparison made); a change is called only when it excludes 1"
        )
    elif kind == "keep":
        if data.get("gains"):
            sub.append("the search's pick against it: " + "; ".join(map(str, data["gains"])))
        if data.get("why"):
            sub.append(f"why: the pick {data['why']}")
        if rounds:
            sub.append(f"{rounds} interleaved confirmation rounds")
    elif kind == "unconfirmed":
        sub.append("rerun with --confirm 8 (the default) to measure it against your config")
    sub_html = "".join(f"<div class=sub>{e(s)}</div>" for s in sub)
    return (
        f"<div class='verdict kind-{e(kind)}' data-fold=verdict id=verdict>"
        f"{e(data.get('text', ''))}{sub_html}</div>"
    )


def _change_html(data: Mapping[str, Any], report: Mapping[str, Any]) -> str:
    against = data.get("against") or "Celery's defaults"
    if report.get("input_config"):
        where = f"against your config <code>{e(against)}</code> (config.diff)"
    else:
        where = "against Celery's defaults (no --config given)"
    parts = [f"<h2>What to change <small>{where}</small></h2>"]
    if data.get("keep"):
        parts.append("<p><b>Nothing.</b> Your current settings stay as they are.</p>")
    elif data.get("diff"):
        parts.append(f"<pre class=diff id=diff>{_diff_html(str(data['diff']))}</pre>")
        if data.get("file"):
            parts.append(
                f"<div class=muted>Every setting, with the evidence and how to merge it: "
                f"{e(data['file'])} in this directory.</div>"
            )
    elif report.get("pick"):
        parts.append("<p>No setting changes: the pick runs with the settings you have.</p>")
    else:
        parts.append("<p>Nothing: no configuration is recommended (see the verdict).</p>")
    if data.get("command"):
        title = "Command line (as measured)" if data.get("keep") else "Command line"
        parts.append(f"<h3>{title}</h3><pre class=cmd id=command>{e(data['command'])}</pre>")
    return f"<div data-fold=change>{''.join(parts)}</div>"


def _traps_html(readout: Mapping[str, Any]) -> str:
    items = []
    for trap in readout.get("traps") or []:
        why = f" <span class=muted>({e(trap['why'])})</span>" if trap.get("why") else ""
        items.append(f"<li>{e(trap.get('text', ''))}{why}</li>")
    for item in readout.get("ruled_out") or []:
        items.append(f"<li>Ruled out before the search: {e(item['what'])}: {e(item['why'])}</li>")
    worse = readout.get("much_worse")
    if worse:
        items.append(f"<li>{e(worse['text'])}</li>")
    if not items:
        items.append(
            "<li class=muted>No known trap was tried, and nothing tried was much worse than the "
            "pick.</li>"
        )
    return f"<div data-fold=traps><h2>Traps avoided</h2><ul class=facts>{''.join(items)}</ul></div>"


def _evidence_html(readout: Mapping[str, Any]) -> str:
    env = readout.get("environment") or {}
    items = []
    if env.get("text"):
        items.append(f"<li><b>Environment:</b> {e(env['text'])}</li>")
    if env.get("loaded"):
        items.append(f"<li class=warn>{e(env['loaded'])}</li>")
    noise = readout.get("noise")
    if noise:
        items.append(f"<li><b>Noise:</b> {e(noise['text'])}</li>")
    counts = readout.get("counts") or {}
    if counts.get("text"):
        items.append(f"<li><b>Behind it:</b> {e(counts['text'])}</li>")
    return f"<div data-fold=evidence><h2>Evidence</h2><ul class=facts>{''.join(items)}</ul></div>"


def first_screen(report: Mapping[str, Any]) -> str:
    readout = report.get("readout") or ro.compute(report)
    return (
        "<section id=first-screen>"
        + _verdict_html(readout.get("verdict") or {}, readout.get("counts") or {})
        + "<div class=cols><div>"
        + _change_html(readout.get("change") or {}, report)
        + "</div><div>"
        + _traps_html(readout)
        + _evidence_html(readout)
        + "</div></div></section>"
    )


# -- below the fold -------------------------------------------------------------------------


def _figure_html(fig: Any, div_id: str) -> str:
    return str(
        fig.to_html(
            full_html=False, include_plotlyjs=False, div_id=div_id,
            config={"displaylogo": False, "responsive": True},
        )
    )  # fmt: skip


def _verdicts_table(report: Mapping[str, Any]) -> str:
    confirmation = report.get("confirmation") or {}
    verdicts = confirmation.get("verdicts") or {}
    if not verdicts:
        if confirmation.get("error"):
            return f"<p>Confirmation failed: {e(confirmation['error'])}</p>"
        return "<p>No confirmation was run (--confirm 0): nothing was re-measured.</p>"
    head = "<tr><th>against</th><th>verdict</th>" + "".join(
        f"<th>{m} ratio (CI)</th>" for m in ("throughput", "p99")
    )
    rows = []
    for label, v in verdicts.items():
        cells = [ro.shown_label(label, report.get("input_config")), v.get("winner", "")]
        for metric in ("throughput", "p99"):
            r = (v.get("ratios") or {}).get(metric) or {}
            ci = r.get("ci")
            if r.get("estimate") is None:
                cells.append("-")
            elif isinstance(ci, list):
                cells.append(f"x{ro.fmt(r['estimate'])} ({ro.fmt(ci[0])}-{ro.fmt(ci[1])})")
            else:
                cells.append(f"x{ro.fmt(r['estimate'])} (no interval)")
        rows.append("<tr>" + "".join(f"<td>{e(c)}</td>" for c in cells) + "</tr>")
    level = confirmation.get("alpha")
    note = (
        f"<p class=muted>{e(confirmation.get('rounds'))} rounds; intervals at "
        f"{(1 - level) * 100:.1f}% (the 4% error budget shared over every comparison); "
        "winner: tuned = the recommendation is better beyond the noise.</p>"
        if isinstance(level, (int, float))
        else ""
    )
    medians = []
    for config in confirmation.get("configs") or []:
        m = config.get("median") or {}
        medians.append(
            f"<tr><td>{e(ro.shown_label(config.get('label')))}</td>"
            f"<td>{e(ro.fmt(m.get('throughput')))}</td><td>{e(ro.fmt(m.get('p99')))}</td>"
            f"<td>{len(config.get('runs') or [])}</td></tr>"
        )
    median_table = (
        "<h3>Medians of the confirmation rounds</h3><table><tr><th>configuration</th>"
        "<th>throughput tasks/s</th><th>p99 s</th><th>rounds</th></tr>"
        + "".join(medians)
        + "</table>"
        if medians
        else ""
    )
    return f"<table>{head}</tr>{''.join(rows)}</table>{note}{median_table}"


def _importance_html(study: optuna.Study, report: Mapping[str, Any]) -> str:
    n = len(figs.complete_trials(study))
    minimum = figs.IMPORTANCE_MIN_TRIALS
    metric = ro.objectives(report)[0]
    if n < minimum:
        return (
            f"<p class=caveat id=importance-caveat>Not shown: {n} complete trials, fewer than "
            f"{minimum}. Importances are fitted (fANOVA, a random forest) to the trials' "
            "values; from so few noisy points they rank noise, not settings.</p>"
        )
    values = figs.importances(study)
    if not values:
        return f"<p class=caveat>Could not be estimated from the {n} complete trials.</p>"
    caveat = (
        f"<p class=caveat id=importance-caveat>Estimated from {n} complete trials (fANOVA on "
        f"{e(metric)}). They say which settings the search's values varied with, not what "
        "causes a gain: one noisy trial can move them, and settings the search barely varied "
        "look unimportant.</p>"
    )
    return caveat + _figure_html(figs.importance_figure(values, metric), "fig-importance")


def _fidelity_html(report: Mapping[str, Any]) -> str:
    fidelity = report.get("fidelity")
    if not isinstance(fidelity, Mapping):
        return ""
    parts = []
    if fidelity.get("rule"):
        parts.append(f"rule: {fidelity['rule']}")
    if fidelity.get("trials") is not None:
        parts.append(
            f"{fidelity.get('screened_out', 0)} of {fidelity['trials']} trials screened out "
            f"early, {fidelity.get('full', '?')} measured in full"
        )
    measured, saved = fidelity.get("seconds_measured"), fidelity.get("seconds_saved")
    if measured is not None or saved is not None:
        parts.append(f"{ro.fmt(measured)} s measured, {ro.fmt(saved)} s saved")
    body = "".join(f"<li>{e(p)}</li>" for p in parts)
    return (
        "<section class=below id=fidelity><h2>Screening (multi-fidelity)</h2>"
        f"<ul class=facts>{body}</ul></section>"
    )


def _trials_table(report: Mapping[str, Any]) -> str:
    rows = []
    for t in report.get("trials") or []:
        metrics = t.get("metrics") or {}
        kind = ro.trial_kind(t)
        label = t.get("baseline") or (t.get(kind) if isinstance(t.get(kind), str) else "")
        fidelity = t.get("fidelity")
        cells = [
            str(t.get("number")),
            str(t.get("state")),
            kind + (f": {label}" if label else ""),
            ro.describe_choice(ro.trial_choice(t)),
            ro.fmt(metrics.get("throughput")),
            ro.fmt(metrics.get("p99")),
            "yes" if t.get("feasible") else "no",
            ", ".join(f"{k}={v}" for k, v in fidelity.items())
            if isinstance(fidelity, Mapping)
            else "",
            str(t.get("error") or ""),
        ]
        rows.append("<tr>" + "".join(f"<td>{e(c)}</td>" for c in cells) + "</tr>")
    head = "".join(
        f"<th>{h}</th>"
        for h in (
            "#",
            "state",
            "kind",
            "configuration",
            "throughput/s",
            "p99 s",
            "feasible",
            "fidelity",
            "error",
        )
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _environment_table(report: Mapping[str, Any]) -> str:
    env = report.get("environment") or {}
    rows = "".join(f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in env.items())
    return f"<table>{rows}</table>"


def _notes(report: Mapping[str, Any]) -> str:
    notes = [str(n) for n in report.get("notes") or []]
    if not notes:
        return ""
    return "<ul class=facts>" + "".join(f"<li>{e(n)}</li>" for n in notes) + "</ul>"


def below(study: optuna.Study, report: Mapping[str, Any]) -> str:
    sections: list[tuple[str, str, str]] = []
    verdicts = _verdicts_table(report)
    fig = figs.verdicts_figure(report)
    if fig is not None:
        verdicts = _figure_html(fig, "fig-verdicts") + verdicts
    sections.append(("verdicts", "The pick against each baseline", verdicts))
    fig = figs.space_figure(report)
    if fig is not None:
        sections.append(
            (
                "space",
                "p99 and throughput across the space",
                "<p class=muted>One trial per point (the search's single measurements, not the "
                "confirmation's); colour: better is yellow; star: the pick; diamond: a baseline; "
                "x: a trap; open symbol: infeasible.</p>" + _figure_html(fig, "fig-space"),
            )
        )
    fig = figs.history_figure(report)
    if fig is not None:
        sections.append(("history", "History", _figure_html(fig, "fig-history")))
    fig = figs.pareto_figure(study, report)
    if fig is not None:
        sections.append(("pareto", "Pareto front", _figure_html(fig, "fig-pareto")))
    sections.append(("importance", "Parameter importances", _importance_html(study, report)))
    nav = " · ".join(f"<a href='#{k}'>{e(t)}</a>" for k, t, _ in sections)
    nav += " · <a href='#trials'>every trial</a> · <a href='#environment'>environment</a>"
    body = "".join(
        f"<section class=below id={k}><h2>{e(t)}</h2>{content}</section>"
        for k, t, content in sections
    )
    body += _fidelity_html(report)
    body += f"<section class=below id=trials><h2>Every trial</h2>{_trials_table(report)}</section>"
    body += (
        f"<section class=below id=environment><h2>Environment and notes</h2>"
        f"{_environment_table(report)}{_notes(report)}</section>"
    )
    return f"<nav class=below>Below: {nav}</nav>{body}"


def plotly_js() -> str:
    from plotly.offline import get_plotlyjs

    return str(get_plotlyjs())


def render(
    study: optuna.Study, report: Mapping[str, Any], *, extra_head: Sequence[str] = ()
) -> str:
    """The whole page."""
    workload = e(report.get("workload", ""))
    objective = e(report.get("objective_text", ""))
    study_name = e((report.get("study") or {}).get("name", ""))
    return (
        "<!DOCTYPE html>\n<html lang=en><head><meta charset='utf-8'>"
        "<meta name=viewport content='width=device-width'>"
        f"<title>celery-tune optimize: {workload}</title><style>{STYLE}</style>"
        f"<script>{plotly_js()}</script>{''.join(extra_head)}</head><body><main>"
        f"<header class=top><h1>celery-tune optimize</h1><span>workload <b>{workload}</b>; "
        f"objective: {objective}; study {study_name}</span></header>"
        f"{first_screen(report)}{below(study, report)}"
        "</main></body></html>\n"
    )
