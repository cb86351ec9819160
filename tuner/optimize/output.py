"""What gets written: the config module, TOML and command line with their evidence, audited
clean, and the reports.  Every file is written atomically, ``report.json`` last."""

from __future__ import annotations

import math
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import optuna

from tuner.optimize import emit, report
from tuner.optimize.baselines import DEFAULT_LABEL
from tuner.optimize.confirm import medians
from tuner.optimize.measure import Plan
from tuner.optimize.results import Confirmation, Pick, improvement
from tuner.optimize.setup import Setup
from tuner.optimize.space import GREEN_POOLS

if TYPE_CHECKING:
    from tuner.finding import Finding

# Performance heuristics of the audit that a measurement on the target can overrule.
MEASURABLE = ("CT201", "CT202", "CT203", "CT205", "CT207")


def _fmt(value: object, digits: int = 3) -> str:
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return str(value)


def evidence_lines(
    setup: Setup, chosen: Pick, confirmation: Confirmation | None, plan: Plan
) -> list[str]:
    o = setup.options
    lines = [
        "Worker settings chosen by `celery-tune optimize`.",
        "",
        f"Workload: {setup.workload.name} ({setup.workload.kind}); broker: "
        f"{setup.broker.describe()}; {setup.cpus} CPU(s).",
        f"Objective: {setup.goal.describe()}.",
        f"Measured with {' + '.join(plan.phases)} load, {o.trial_seconds:g} s per run"
        + (f", open-loop rate {plan.rate:.1f}/s" if plan.rate else "")
        + ".",
        f"Pick: {chosen.source}, from study {setup.study_name!r}.",
    ]
    if chosen.replaced is not None and confirmation is not None:
        lines.append(
            f"Re-measured, the search's best (trial {chosen.replaced.number}) is not "
            f"recommended: {confirmation.reason}."
        )
    if confirmation is not None and confirmation.runs:
        mid = medians(confirmation.chosen_runs)
        lines.append(
            f"Confirmed over {confirmation.rounds} interleaved rounds (medians): throughput "
            f"{_fmt(mid.get('throughput'))} tasks/s, p99 {_fmt(mid.get('p99'))} s."
        )
        for verdict in confirmation.verdicts.values():
            lines.append(verdict.describe() + ".")
    else:
        metrics = chosen.metrics
        lines.append(
            f"Not confirmed (single trial): throughput {_fmt(metrics.get('throughput'))} "
            f"tasks/s, p99 {_fmt(metrics.get('p99'))} s."
        )
    lines += [
        "",
        "Load it after your own config, e.g.:",
        f"    app.config_from_object({emit.MODULE_NAME!r})",
    ]
    return lines


def time_limit(chosen: Pick) -> int:
    """A safety-net hard time limit: 10x the p99 run time measured, at least 60 s."""
    run_p99 = chosen.metrics.get("run_p99")
    if isinstance(run_p99, (int, float)) and math.isfinite(run_p99):
        return max(60, math.ceil(10 * run_p99))
    return 60


def emitted(setup: Setup, chosen: Pick) -> tuple[dict[str, object], dict[str, str]]:
    """The settings to write and a comment for some of them."""
    settings = emit.celery_settings(chosen.choice, {})
    comments: dict[str, str] = {}
    carried = setup.input.carried if setup.input else {}
    if carried:
        settings.update(carried)
        for key in carried:
            comments[key] = f"from {setup.input.path if setup.input else 'your config'}"
    else:
        settings["task_time_limit"] = time_limit(chosen)
        comments["task_time_limit"] = (
            "a safety net, not tuned: 10x the p99 task run time measured; set it for your tasks"
        )
    settings["broker_connection_retry_on_startup"] = True
    comments["broker_connection_retry_on_startup"] = "explicit: the default changes in Celery 6"
    if chosen.choice.get("pool") in GREEN_POOLS:
        comments["worker_concurrency"] = f"start with -P {chosen.choice['pool']}"
    return settings, comments


def audit_findings(text: str, setup: Setup, name: str = emit.MODULE_FILE) -> list[Finding]:
    """Audit findings for one emitted file on its own (the audit is static: nothing runs)."""
    from tuner.audit.engine import run
    from tuner.audit.options import AuditOptions

    with tempfile.TemporaryDirectory(prefix="celery-tune-emit-") as tmp:
        path = Path(tmp) / name
        path.write_text(text, encoding="utf-8")
        # The measurable heuristics are judged even where opt-in, so that a user who selects
        # them sees why the measurement overrules them.
        options = AuditOptions(
            workload=setup.workload.kind, cpus=setup.cpus, extend_select=MEASURABLE
        )
        result = run([str(path)], options)
        return list(result.findings)


def _line_settings(text: str, settings: Mapping[str, object]) -> dict[int, str]:
    out = {}
    for number, line in enumerate(text.splitlines(), start=1):
        key = line.split(" = ", 1)[0]
        if key in settings and line.startswith(key + " = "):
            out[number] = key
    return out


def render_config(
    setup: Setup, chosen: Pick, header: Sequence[str], evidence: str
) -> tuple[str, list[dict[str, object]]]:
    """The module text, with audit heuristics the measurement overrules suppressed (and said
    why), and the audit findings that remain (expected: none)."""
    settings, comments = emitted(setup, chosen)
    text = emit.render_module(settings, header, comments)
    try:
        findings = audit_findings(text, setup)
    except ImportError:  # pragma: no cover - the audit is part of the package
        return text, []
    by_line = _line_settings(text, settings)
    suppress: dict[str, list[str]] = {}
    for f in findings:
        key = by_line.get(f.line)
        if key is not None and f.code in MEASURABLE:
            suppress.setdefault(key, []).append(f.code)
            comments[key] = f"measured here: {evidence}"
    if suppress:
        text = emit.render_module(settings, header, comments, suppress)
        findings = audit_findings(text, setup)
    return text, [f.as_json() for f in findings]


def render_command(
    setup: Setup, chosen: Pick, evidence: str
) -> tuple[str, list[dict[str, object]]]:
    """``worker-command.txt``: the command line, audited on its own like the module."""
    command = emit.command_line(chosen.choice, command_app(setup))
    notes = []
    if chosen.choice.get("acks_late"):
        notes.append("# also set task_acks_late = True in your config: no worker option sets it")
    text = "\n".join([command, *notes]) + "\n"
    try:
        findings = audit_findings(text, setup, emit.COMMAND_FILE)
    except ImportError:  # pragma: no cover
        return text, []
    codes = sorted({f.code for f in findings if f.line == 1 and f.code in MEASURABLE})
    if codes:
        line = f"{command}  # celery-tune: ignore[{','.join(codes)}]  measured here: {evidence}"
        text = "\n".join([line, *notes]) + "\n"
        findings = audit_findings(text, setup, emit.COMMAND_FILE)
    return text, [f.as_json() for f in findings]


def short_evidence(confirmation: Confirmation | None) -> str:
    if confirmation is None or not confirmation.verdicts:
        return "best trial of the search (see report.json)"
    verdict = confirmation.verdicts.get(DEFAULT_LABEL) or next(iter(confirmation.verdicts.values()))
    parts = [f"{m} {r.describe()}" for m, r in verdict.ratios.items() if m in ("throughput", "p99")]
    return f"{', '.join(parts)} vs {verdict.baseline} (report.json)"


def command_app(setup: Setup) -> str:
    if setup.options.command_app:
        return setup.options.command_app
    if setup.workload.app:
        return setup.workload.app.split(":")[0]
    return "proj"


def environment(setup: Setup, storage_url: str) -> dict[str, object]:
    import platform
    import socket
    import sys

    from tuner import __version__
    from tuner.bench.runner import describe_env
    from tuner.optimize.storages import mask

    env = describe_env(setup.broker, float(setup.cpus))
    env.update(
        {
            "optuna": optuna.__version__,
            "celery_tune": __version__,
            "hostname": socket.gethostname(),
            "argv": sys.argv,
            "storage": mask(storage_url),
            "machine": platform.machine(),
        }
    )
    return env


def write_outputs(
    setup: Setup,
    study: optuna.Study,
    plan: Plan,
    chosen: Pick | None,
    confirmation: Confirmation | None,
    summary: dict[str, object],
    storage_url: str,
) -> list[Path]:
    """Write every output file atomically; report.json last."""
    files: dict[str, str] = {}
    if chosen is not None:
        header = evidence_lines(setup, chosen, confirmation, plan)
        evidence = short_evidence(confirmation)
        text, remaining = render_config(setup, chosen, header, evidence)
        command_text, command_remaining = render_command(setup, chosen, evidence)
        remaining += command_remaining
        settings, _ = emitted(setup, chosen)
        command = emit.command_line(chosen.choice, command_app(setup))
        files[emit.MODULE_FILE] = text
        files[emit.TOML_FILE] = emit.render_toml(settings, header)
        files[emit.COMMAND_FILE] = command_text
        summary["pick"] = {
            "trial": chosen.trial.number if chosen.trial is not None else None,
            "source": chosen.source,
            "baseline": chosen.baseline,
            "replaced_trial": chosen.replaced.number if chosen.replaced is not None else None,
            "choice": chosen.choice,
            "settings": settings,
            "command": command,
            "metrics": chosen.metrics,
            "confirmed": medians(confirmation.chosen_runs)
            if confirmation is not None and confirmation.runs
            else None,
        }
        summary["audit"] = {"findings": remaining, "clean": not remaining}
    names = [*files, "report.html", "report.json"]
    data = report.build(
        study,
        summary=summary,
        confirmation=confirmation.as_dict() if confirmation is not None else None,
        improvement=improvement(confirmation),
        environment=environment(setup, storage_url),
        files=names,
    )
    files["report.html"] = report.render_html(study, data)
    files["report.json"] = report.dumps(data)
    return emit.write_atomic(setup.out_dir, files)
