"""The expected findings of every sample config, pinned (code, line), audited one file at a time
with --cpus 2, the default cpu workload and the default rule set."""

from __future__ import annotations

from pathlib import Path

import pytest

from tuner.audit import engine
from tuner.audit.options import AuditOptions

EXPECTED: dict[str, set[tuple[str, int]]] = {
    "benchmark_celeryconfig.py": {
        ("CT112", 3),  # memory:// broker in a worker config
        ("CT109", 8),  # worker_max_tasks_per_child = 0 crashes the prefork pool
    },
    "production_celeryconfig.py": {
        ("CT402", 5),  # password in broker URL (the backend's same password named in it)
        ("CT102", 9),  # worker_pool = "gil_aware"
        ("CT101", 10),  # worker_num_processes -> worker_concurrency
        ("CT301", 16),  # 2 h time limit > Redis visibility timeout 1 h
        ("CT106", 17),  # soft limit == hard limit
        ("CT401", 19),  # pickle serializer and pickle accepted (line 20): one finding
    },
    "django_settings.py": {
        # BROKER_URL (9) and CELERY_ALWAYS_EAGER (14) are old names that Celery reads even with
        # namespace CELERY, without a warning for Django settings: not reported.
        ("CT201", 11),  # 8 children for 2 CPUs
        ("CT101", 17),  # CELERY_WORKER_SEND_TASK_EVENT -> ..._EVENTS
    },
    "Procfile": {
        ("CT107", 2),  # celery worker -A shop
        ("CT201", 2),  # --concurrency 16
        ("CT202", 3),  # -P threads for CPU work
        ("CT104", 3),  # --max-tasks-per-child ignored by threads
    },
    "docker-compose.yml": {
        ("CT206", 6),  # --autoscale=12,2 on 2 CPUs
    },
    "k8s-worker.yaml": {
        ("CT201", 13),  # --concurrency=8 under a 1500m CPU limit
    },
    "celery.service": {
        ("CT201", 12),  # --concurrency=8 from CELERYD_OPTS
        ("CT106", 12),  # --soft-time-limit=300 not below --time-limit=300
    },
    "tuned_celeryconfig.py": set(),
}


def test_every_sample_is_pinned(samples: Path) -> None:
    assert {p.name for p in samples.iterdir() if p.is_file()} == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_sample_findings(samples: Path, name: str) -> None:
    result = engine.run([str(samples / name)], AuditOptions(workload="cpu", cpus=2))
    found = {(f.code, f.line) for f in result.findings}
    assert found == EXPECTED[name], "\n".join(
        f"{f.path}:{f.line}:{f.column}: {f.code} {f.message}" for f in result.findings
    )


OPT_IN: dict[str, set[tuple[str, int]]] = {
    "benchmark_celeryconfig.py": {("CT303", 1)},  # no time limit
    "Procfile": {("CT205", 2), ("CT307", 2)},  # --prefetch-multiplier 8; -B
    "django_settings.py": {("CT302", 13)},  # late acks, no reject_on_worker_lost decision
    # prefetch 2 with late acks; result_expires = None
    "production_celeryconfig.py": {("CT203", 12), ("CT304", 21)},
}


@pytest.mark.parametrize("name", sorted(OPT_IN))
def test_opt_in_findings_need_selecting(samples: Path, name: str) -> None:
    options = AuditOptions(workload="cpu", cpus=2, extend_select=("ALL",))
    found = {(f.code, f.line) for f in engine.run([str(samples / name)], options).findings}
    assert found == EXPECTED[name] | OPT_IN[name]


def test_command_line_wins_over_the_config(tmp_path: Path) -> None:
    config = tmp_path / "celeryconfig.py"
    config.write_text(
        "worker_concurrency = 2\ntask_time_limit = 60\nbroker_connection_retry_on_startup = True\n"
    )
    procfile = tmp_path / "Procfile"
    procfile.write_text("worker: celery -A proj --config celeryconfig worker -c 12\n")
    result = engine.run([str(config), str(procfile)], AuditOptions(workload="cpu", cpus=2))
    over = [f for f in result.findings if f.code == "CT201"]
    assert [(f.path, f.line) for f in over] == [(str(procfile), 1)]


def test_config_and_command_line_are_judged_together(tmp_path: Path) -> None:
    config = tmp_path / "celeryconfig.py"
    config.write_text(
        "task_acks_late = True\ntask_reject_on_worker_lost = False\n"
        "task_time_limit = 60\nbroker_connection_retry_on_startup = True\n"
    )
    procfile = tmp_path / "Procfile"
    procfile.write_text("worker: celery -A proj worker --prefetch-multiplier 3 -c 2\n")
    result = engine.run(
        [str(config), str(procfile)], AuditOptions(workload="cpu", cpus=2, extend_select=("CT2",))
    )
    assert {(f.code, f.path, f.line) for f in result.findings} == {("CT203", str(procfile), 1)}
