"""A finding that depends on another file names that file and line, so a reader of one file can
find the other half of the problem ("the threads pool set at Procfile:1 ignores it")."""

from __future__ import annotations

import pytest

from tuner.audit import engine
from tuner.audit.options import AuditOptions
from tuner.finding import Finding


def audit_files(files: dict[str, str], cpus: float) -> list[Finding]:
    """Audit in-memory files (the paths only name them)."""
    data = {path: text.encode() for path, text in files.items()}
    # Every rule, opt-in ones included: this is about how messages name the other file.
    return engine.run(
        list(files), AuditOptions(workload="cpu", cpus=cpus, select=("ALL",)), data
    ).findings


CASES = [
    # (files, code, path of the finding, text the message must hold)
    (
        {"celeryconfig.py": "x = 1\nworker_max_tasks_per_child = 100\n",
         "Procfile": "worker: celery -A proj worker -P threads\n"},
        "CT104", "celeryconfig.py", "the threads pool set at Procfile:1 ignores it",
    ),
    (
        {"celeryconfig.py": "worker_concurrency = 4\n",
         "Procfile": "worker: celery -A proj worker -P solo\n"},
        "CT104", "celeryconfig.py", "solo pool set at Procfile:1:",
    ),
    (
        {"celeryconfig.py": "\ntask_acks_late = True\ntask_reject_on_worker_lost = True\n",
         "Procfile": "worker: celery -A proj worker --prefetch-multiplier 4\n"},
        "CT203", "Procfile", "late acks set at celeryconfig.py:2 with a prefetch multiplier of 4",
    ),
    (
        {"celeryconfig.py": "task_soft_time_limit = 600\n",
         "Procfile": "\nworker: celery -A proj worker --time-limit 300\n"},
        "CT106", "celeryconfig.py", "hard limit 300s set at Procfile:2:",
    ),
    (
        {"celeryconfig.py": "broker_url = 'redis://localhost:6379/0'\n",
         "Procfile": "worker: celery -A proj worker --time-limit 7200\n"},
        "CT301", "Procfile", "visibility_timeout is 3600s set at celeryconfig.py:1:",
    ),
    (
        {"celeryconfig.py": "worker_pool = 'prefork'\n",
         "Procfile": "worker: celery -A proj worker -c 64\n"},
        "CT201", "Procfile", "64 prefork children (the pool set at celeryconfig.py:1) for 2 CPUs",
    ),
    (
        {"celeryconfig.py": "task_reject_on_worker_lost = True\n",
         "proj/celery.py": "from celery import Celery\napp = Celery('proj')\n"
                           "app.config_from_object('celeryconfig')\n"
                           "app.conf.task_acks_late = False\n"},
        "CT113", "celeryconfig.py", "(task_acks_late = False set at proj/celery.py:4)",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("files", "code", "path", "text"), CASES)
def test_cross_file_finding_names_the_other_file(
    files: dict[str, str], code: str, path: str, text: str
) -> None:
    findings = [f for f in audit_files(files, cpus=2) if f.code == code and f.path == path]
    assert findings, audit_files(files, cpus=2)
    assert any(text in f.message for f in findings), [f.message for f in findings]


def test_same_file_findings_do_not_name_themselves() -> None:
    files = {"Procfile": "worker: celery -A proj worker -P threads --max-tasks-per-child 5\n"}
    (finding,) = [f for f in audit_files(files, cpus=2) if f.code == "CT104"]
    assert finding.message.endswith("the threads pool ignores it"), finding.message
