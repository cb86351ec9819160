"""The pre-commit hook works end to end through ``pre-commit try-repo`` in a real git repo."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytest.importorskip("pre_commit")


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)


def _try_repo(repo: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home")}
    env.pop("PYTHONPATH", None)
    return subprocess.run(
        [sys.executable, "-m", "pre_commit", "try-repo", str(ROOT), "celery-tune-audit",
         "--all-files", "--verbose"],
        cwd=repo, capture_output=True, text=True, env=env, timeout=600,
    )  # fmt: skip


@pytest.mark.slow
def test_try_repo_runs_the_hook(tmp_path: Path) -> None:
    repo = tmp_path / "project"
    repo.mkdir()
    _git(repo, "init", "-q")
    (repo / "celeryconfig.py").write_text(
        "worker_send_task_event = True\ntask_time_limit = 60\n"
        "broker_connection_retry_on_startup = True\n"
    )
    (repo / "Procfile").write_text("worker: celery worker -A proj\n")
    (repo / "notes.txt").write_text("celery worker -A proj is fine here: not a hook target\n")
    _git(repo, "add", ".")
    proc = _try_repo(repo, tmp_path)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    assert "celeryconfig.py:1:1: CT101" in out
    assert "Procfile:1:" in out and "CT107" in out
    assert "notes.txt" not in out


@pytest.mark.slow
def test_hook_sees_every_file_in_one_process(tmp_path: Path) -> None:
    """Cross-file findings survive: the settings finding that depends on the Procfile's pool is
    reported although the files are many more than one pre-commit batch."""
    from pre_commit import xargs  # type: ignore[import-untyped]

    repo = tmp_path / "project"
    (repo / "proj").mkdir(parents=True)
    _git(repo, "init", "-q")
    (repo / "celeryconfig.py").write_text(
        "task_time_limit = 60\nworker_max_tasks_per_child = 100\n"
        "broker_connection_retry_on_startup = True\n"
    )
    (repo / "Procfile").write_text("worker: celery -A proj worker -P threads\n")
    for i in range(80):
        (repo / "proj" / f"tasks_{i:02d}.py").write_text("from celery import shared_task\n")
    (repo / "k8s.yaml").write_text("apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n")
    (repo / "run.sh").write_text("#!/bin/sh\ngunicorn proj.wsgi\n")
    _git(repo, "add", ".")
    files = sorted(p.relative_to(repo).as_posix() for p in repo.rglob("*") if p.is_file()
                   and ".git" not in p.parts)  # fmt: skip
    # Without require_serial, pre-commit on a 2-CPU machine would split these into batches.
    batches = xargs.partition(("celery-tune", "audit"), files, target_concurrency=2)
    assert len(batches) > 1
    proc = _try_repo(repo, tmp_path)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    # One process: one summary, counting every audited file (not the two without Celery).
    summaries = [line for line in out.splitlines() if line.startswith("Found ")]
    assert len(summaries) == 1 and summaries[0].endswith(" in 82 files."), out
    assert (
        "celeryconfig.py:2:1: CT104 [warning] `worker_max_tasks_per_child` only works with "
        "prefork; the threads pool set at Procfile:1 ignores it"
    ) in out
