"""``report.json`` (every trial, the baselines, the confirmation, the environment, the verdict)
and ``report.html``: self-contained (plotly.js inlined once), readable offline.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from tuner.optimize import readout

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
        "seed": trial.user_attrs.get("seed"),
        "trap": trial.user_attrs.get("trap"),
        "fidelity": trial.user_attrs.get("fidelity"),
        "choice": trial.user_attrs.get("choice"),
        "params": dict(trial.params),
        "config": trial.user_attrs.get("config"),
        "values": list(trial.values) if trial.values is not None else None,
        "metrics": trial.user_attrs.get("metrics"),
        "constraints": trial.user_attrs.get("constraints", constraints),
        "feasible": feasible(trial),
        "error": trial.user_attrs.get("error"),
        "host": trial.user_attrs.get("host"),
        "intermediate_values": {str(k): v for k, v in sorted(trial.intermediate_values.items())},
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
    cleaned: dict[str, object] = clean(report)  # type: ignore[assignment]
    cleaned["readout"] = clean(readout.compute(cleaned))
    return cleaned


def pareto_front(study: optuna.Study) -> list[FrozenTrial]:
    """Feasible, complete, non-dominated trials."""
    if len(study.directions) < 2:
        return []
    return [t for t in study.best_trials if feasible(t)]


def dumps(report: Mapping[str, object]) -> str:
    return json.dumps(report, indent=2, sort_keys=False, allow_nan=False) + "\n"


# -- HTML ---------------------------------------------------------------------------------------


def render_html(study: optuna.Study, report: Mapping[str, Any]) -> str:
    """The HTML report (see :mod:`tuner.optimize.report_html`); plotly.js is embedded once."""
    from tuner.optimize.report_html import render

    return render(study, report)
