"""What gets written: the config module (plain and Django forms), the command line and, with
``--config``, a diff against it, each with its evidence and audited clean; and the reports.
Every file is written atomically, ``report.json`` last.  When nothing is recommended, emitted
files left by an earlier run in the output directory are removed, so none is mistaken for a
recommendation."""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import optuna

from tuner.optimize import emit, report
from tuner.optimize.baselines import DEFAULT_LABEL
from tuner.optimize.confirm import medians
from tuner.optimize.measure import Plan
from tuner.optimize.results import PICK_LABEL, Confirmation, Pick, improvement
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
        shown = "the best alternative" if chosen.challenger else "the search's best"
        lines.append(
            f"Re-measured, {shown} (trial {chosen.replaced.number}) is not "
            f"recommended: {confirmation.reason}."
        )
    if confirmation is not None and confirmation.confirmed:
        mid = medians(confirmation.chosen_runs)
        p99 = f", p99 {_fmt(mid['p99'])} s" if mid.get("p99") is not None else ""
        lines.append(
            f"Confirmed over {confirmation.rounds} interleaved rounds (medians): throughput "
            f"{_fmt(mid.get('throughput'))} tasks/s{p99}; every constraint met."
        )
        for verdict in confirmation.verdicts.values():
            lines.append(verdict.describe() + ".")
        for label, broken in confirmation.broken.items():
            shown = "the search's pick" if label == PICK_LABEL else label
            lines.append(f"Not recommended: {shown} broke {', '.join(broken)}.")
    else:
        metrics = chosen.metrics
        lines.append(
            "NOT CONFIRMED (--confirm 0): the best single trial of the search: throughput "
            f"{_fmt(metrics.get('throughput'))} tasks/s, p99 {_fmt(metrics.get('p99'))} s."
        )
    if chosen.choice.get("optimization"):
        lines.append(
            f"Measured with -O {chosen.choice['optimization']}: no setting holds it, so start the "
            f"worker with -O {chosen.choice['optimization']} (see {emit.COMMAND_FILE})."
        )
    lines += [
        "",
        "Time limits are not tuned and not set here (the synthetic tasks say nothing about",
        "yours): keep task_time_limit and task_soft_time_limit in your own config.",
    ]
    return lines


def emitted(setup: Setup, chosen: Pick) -> tuple[dict[str, object], dict[str, str]]:
    """Every setting the chosen configuration ran with, and a comment for some of them.

    The searched settings come from its choice; the others (``--fixed`` settings and, for a trial
    or the input baseline, the user's own worker/task settings) from its WorkerConfig's extras.
    Nothing is added that was not measured: no time limit is invented.
    """
    extra = dict(chosen.config.extra)
    settings = emit.celery_settings(chosen.choice, extra)
    comments: dict[str, str] = {}
    fixed = setup.space.extra
    source = setup.input.path if setup.input else "your config"
    for key in extra:
        comments[key] = "--fixed" if key in fixed and fixed[key] == extra[key] else f"from {source}"
    if chosen.baseline == DEFAULT_LABEL and "worker_concurrency" in settings:
        comments["worker_concurrency"] = (
            "Celery's default as measured: os.cpu_count() of the measuring machine"
        )
    if chosen.choice.get("pool") in GREEN_POOLS:
        comments["worker_concurrency"] = f"start with -P {chosen.choice['pool']}"
    return settings, comments


def audit_findings(
    text: str, setup: Setup, name: str = emit.MODULE_FILE, namespace: str | None = None
) -> list[Finding]:
    """Audit findings for one emitted file on its own (the audit is static: nothing runs)."""
    from tuner.audit.engine import run
    from tuner.audit.options import AuditOptions

    # The measurable heuristics and the whole-config rules are judged even where opt-in, so that
    # a user who selects them sees why the measurement overrules them, or why they do not apply.
    options = AuditOptions(
        workload=setup.workload.kind,
        cpus=setup.cpus,
        namespace=namespace,
        extend_select=(*MEASURABLE, *FILE_LEVEL),
    )
    with tempfile.TemporaryDirectory(prefix="celery-tune-emit-") as tmp:
        path = Path(tmp) / name
        path.write_text(text, encoding="utf-8")
        result = run([str(path)], options)
        return list(result.findings)


def _line_settings(text: str, settings: Mapping[str, object]) -> dict[int, str]:
    out = {}
    for number, line in enumerate(text.splitlines(), start=1):
        key = line.split(" = ", 1)[0]
        if key in settings and line.startswith(key + " = "):
            out[number] = key
    return out


# Audit rules about a whole config that do not apply to a file merged into the user's config.
FILE_LEVEL = {
    "CT303": "time limits are not tuned: they stay in your own config (audit it for them)",
    "CT306": "broker settings are not tuned: they stay in your own config",
}


def _render(
    setup: Setup,
    settings: Mapping[str, object],
    header: Sequence[str],
    comments: dict[str, str],
    evidence: str,
    name: str,
    django: bool,
) -> tuple[str, list[dict[str, object]]]:
    names = {k: emit.django_name(k) for k in settings} if django else None
    apply = emit.DJANGO_APPLY_LINES if django else emit.APPLY_LINES

    def render(suppress: Mapping[str, Sequence[str]], files: Mapping[str, str]) -> str:
        return emit.render_module(
            settings, header, comments, suppress, apply=apply, names=names,
            file_suppress=files, export_dict=not django,
        )  # fmt: skip

    namespace = emit.DJANGO_PREFIX.rstrip("_") if django else None
    text = render({}, {})
    try:
        findings = audit_findings(text, setup, name, namespace)
    except ImportError:  # pragma: no cover - the audit is part of the package
        return text, []
    assigned = {names[k] if names else k: k for k in settings}
    by_line = {n: assigned[k] for n, k in _line_settings(text, assigned).items()}
    suppress: dict[str, list[str]] = {}
    files: dict[str, str] = {}
    for f in findings:
        key = by_line.get(f.line)
        if key is not None and f.code in MEASURABLE:
            suppress.setdefault(key, []).append(f.code)
            comments[key] = f"measured here: {evidence}"
        elif f.code in FILE_LEVEL:
            files[f.code] = FILE_LEVEL[f.code]
    if suppress or files:
        text = render(suppress, files)
        findings = audit_findings(text, setup, name, namespace)
    return text, [f.as_json() for f in findings]


def render_config(
    setup: Setup, chosen: Pick, header: Sequence[str], evidence: str
) -> tuple[str, list[dict[str, object]]]:
    """The module text, with audit heuristics the measurement overrules suppressed (and said
    why), and the audit findings that remain (expected: none)."""
    settings, comments = emitted(setup, chosen)
    return _render(setup, settings, header, comments, evidence, emit.MODULE_FILE, False)


def render_django(
    setup: Setup, chosen: Pick, header: Sequence[str], evidence: str
) -> tuple[str, list[dict[str, object]]]:
    """The same settings for a Django settings module (``CELERY_`` namespace)."""
    settings, comments = emitted(setup, chosen)
    return _render(setup, settings, header, comments, evidence, emit.DJANGO_MODULE_FILE, True)


def render_command(
    setup: Setup, chosen: Pick, evidence: str
) -> tuple[str, list[dict[str, object]]]:
    """``worker-command.txt``: the command line, audited on its own like the module, and the
    settings a worker option cannot carry."""
    command = emit.command_line(chosen.choice, command_app(setup))
    settings, _ = emitted(setup, chosen)
    rest = emit.not_on_command_line(settings)
    notes = []
    if rest:
        notes.append(
            "# no worker option sets these; they are in "
            f"{emit.MODULE_FILE} (merge it as its docstring says):"
        )
        notes += [f"#   {k} = {v!r}" for k, v in rest.items()]
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


def load_average() -> list[float] | None:
    """The 1, 5 and 15 minute load averages, or None where the platform has none."""
    import os

    try:
        return [round(v, 2) for v in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def environment(
    setup: Setup, storage_url: str, load_before: Sequence[float] | None = None
) -> dict[str, object]:
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
            "load_average": {
                "before": list(load_before) if load_before is not None else None,
                "after": load_average(),
            },
        }
    )
    return env


STALE = (
    emit.MODULE_FILE,
    emit.DJANGO_MODULE_FILE,
    emit.COMMAND_FILE,
    emit.DIFF_FILE,
    "celery_tuned.toml",  # written by earlier versions
)


def write_outputs(
    setup: Setup,
    study: optuna.Study,
    plan: Plan,
    chosen: Pick | None,
    confirmation: Confirmation | None,
    summary: dict[str, object],
    storage_url: str,
    load_before: Sequence[float] | None = None,
) -> list[Path]:
    """Write every output file atomically; report.json last.  Emitted files of an earlier run
    that this run does not rewrite are removed (``chosen`` None: nothing is recommended)."""
    from tuner.optimize.configdiff import config_diff

    files: dict[str, str] = {}
    if chosen is not None:
        header = evidence_lines(setup, chosen, confirmation, plan)
        evidence = short_evidence(confirmation)
        text, remaining = render_config(setup, chosen, header, evidence)
        django_text, django_remaining = render_django(setup, chosen, header, evidence)
        command_text, command_remaining = render_command(setup, chosen, evidence)
        remaining += django_remaining + command_remaining
        settings, _ = emitted(setup, chosen)
        command = emit.command_line(chosen.choice, command_app(setup))
        files[emit.MODULE_FILE] = text
        files[emit.DJANGO_MODULE_FILE] = django_text
        files[emit.COMMAND_FILE] = command_text
        if setup.input is not None:
            diff = config_diff(setup.input.path, settings, command)
            if diff is not None:
                files[emit.DIFF_FILE] = diff
            summary["config_diff"] = diff
        confirmed = confirmation is not None and confirmation.confirmed
        summary["pick"] = {
            "trial": chosen.trial.number if chosen.trial is not None else None,
            "source": chosen.source,
            "baseline": chosen.baseline,
            "replaced_trial": chosen.replaced.number if chosen.replaced is not None else None,
            "challenger": chosen.challenger,
            "choice": chosen.choice,
            "settings": settings,
            "command": command,
            "metrics": chosen.metrics,
            "status": "confirmed" if confirmed else "not confirmed (--confirm 0)",
            "confirmed": medians(confirmation.chosen_runs)
            if confirmation is not None and confirmed
            else None,
        }
        summary["apply"] = list(emit.APPLY_LINES)
        summary["audit"] = {"findings": remaining, "clean": not remaining}
    for name in STALE:  # an earlier run's, not rewritten now: never mistaken for this run's
        if name not in files:
            (setup.out_dir / name).unlink(missing_ok=True)
    names = [*files, "report.html", "report.json"]
    data = report.build(
        study,
        summary=summary,
        confirmation=confirmation.as_dict() if confirmation is not None else None,
        improvement=improvement(confirmation),
        environment=environment(setup, storage_url, load_before),
        files=names,
    )
    files["report.html"] = report.render_html(study, data)
    files["report.json"] = report.dumps(data)
    return emit.write_atomic(setup.out_dir, files)
