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
    env = {**os.environ, "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home")}
    env.pop("PYTHONPATH", None)
    proc = subprocess.run(
        [sys.executable, "-m", "pre_commit", "try-repo", str(ROOT), "celery-tune-audit",
         "--all-files", "--verbose"],
        cwd=repo, capture_output=True, text=True, env=env, timeout=600,
    )  # fmt: skip
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    assert "celeryconfig.py:1:1: CT101" in out
    assert "Procfile:1:" in out and "CT107" in out
    assert "notes.txt" not in out
