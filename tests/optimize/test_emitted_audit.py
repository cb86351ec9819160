"""The emitted files pass ``celery-tune audit`` with no finding, each on its own (the module and
the command line are alternatives: flags on a command line override a config).

Where an audit heuristic (CT2xx) disagrees with what was measured, the line says so and carries a
suppression; anything else must not be flagged at all.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from tuner.audit.options import AuditOptions
from tuner.commands.audit import audit
from tuner.optimize import emit
from tuner.optimize.output import render_command, render_config, render_django
from tuner.optimize.results import PICK_LABEL, Pick
from tuner.optimize.setup import OptimizeOptions, resolve
from tuner.optimize.space import DEFAULTS, Choice


def _pick(**kw: object) -> Pick:
    from tuner.optimize.baselines import worker_config

    choice: Choice = {**DEFAULTS, **kw}  # type: ignore[dict-item]
    return Pick(None, worker_config(choice, PICK_LABEL), choice)


def _audit(
    tmp_path: Path, name: str, text: str, workload: str, namespace: str | None = None
) -> tuple[int, str]:
    """``celery-tune audit FILE`` on one emitted file, failing on any finding at all."""
    path = tmp_path / name
    path.write_text(text)
    out = io.StringIO()
    options = AuditOptions(workload=workload, cpus=2, fail_on="info", namespace=namespace)
    code = audit([str(path)], options, out=out, err=io.StringIO())
    return code, out.getvalue()


@pytest.mark.parametrize(
    ("workload", "choice", "codes"),
    [
        ("cpu", {"pool": "prefork", "concurrency": 2, "prefetch_multiplier": 4}, []),
        (
            "cpu",
            {
                "pool": "prefork",
                "concurrency": 6,
                "prefetch_multiplier": 16,
                "max_tasks_per_child": 1,
                "acks_late": True,
            },
            ["CT201", "CT203", "CT205", "CT207"],
        ),
        ("cpu", {"pool": "threads", "concurrency": 8, "prefetch_multiplier": 1}, ["CT202"]),
        ("cpu", {"pool": "solo", "concurrency": None, "prefetch_multiplier": 2}, []),
        (
            "cpu",
            {
                "pool": "tuner.pools.prefork:AffinityPool",
                "concurrency": 2,
                "max_tasks_per_child": 500,
            },
            [],
        ),
        (
            "cpu",
            {"pool": "tuner.pools:AffinityPool", "concurrency": 2, "max_tasks_per_child": 500},
            [],
        ),
        ("io", {"pool": "threads", "concurrency": 8, "prefetch_multiplier": 16}, []),
    ],
)
def test_emitted_config_audits_clean(
    tmp_path: Path, workload: str, choice: dict[str, object], codes: list[str]
) -> None:
    setup = resolve(OptimizeOptions(workload=workload, cpus=2, probe=False))
    chosen = _pick(**choice)
    text, remaining = render_config(setup, chosen, ["header"], "throughput x1.30 vs defaults")
    assert remaining == []
    for code in codes:
        assert f"ignore[{code}" in text or f",{code}" in text
    if not codes:
        assert "celery-tune: ignore[" not in text  # no line-level suppression needed
    else:
        assert "measured here: throughput x1.30 vs defaults" in text
    # No invented time limit: the file says why the audit's CT303 does not apply to it.
    assert "task_time_limit" not in text.split('"""')[-1]
    assert "ignore-file[CT303]" in text
    status, report = _audit(tmp_path, emit.MODULE_FILE, text, workload)
    assert status == 0, report
    # Also clean for a user who turns the opt-in time-limit rule on: the file says why it does
    # not apply to a file merged into their config (their own config is where it is reported).
    out = io.StringIO()
    selected = AuditOptions(workload=workload, cpus=2, fail_on="info", extend_select=("CT303",))
    assert audit([str(tmp_path / emit.MODULE_FILE)], selected, out=out, err=io.StringIO()) == 0
    django, remaining = render_django(setup, chosen, ["header"], "throughput x1.30 vs defaults")
    assert remaining == []
    assert "CELERY_WORKER_PREFETCH_MULTIPLIER = " in django
    status, report = _audit(tmp_path, emit.DJANGO_MODULE_FILE, django, workload, "CELERY")
    assert status == 0, report
    command, remaining = render_command(setup, chosen, "throughput x1.30 vs defaults")
    assert remaining == []
    assert command.startswith(emit.command_line(chosen.choice))
    assert ("celery-tune: ignore" in command) == bool(set(codes) - {"CT203"})
    status, report = _audit(tmp_path, emit.COMMAND_FILE, command, workload)
    assert status == 0, report
