"""--fix renames old names and unambiguous typos in place, keeping comments and formatting;
--diff shows the same change and writes nothing."""

from __future__ import annotations

import io
from pathlib import Path

from tests.conftest import run_cli
from tuner.audit.options import AuditOptions
from tuner.commands.audit import audit

OLD = """\
# Worker settings (old style)
CELERYD_CONCURRENCY = 2   # one per CPU
CELERYD_PREFETCH_MULTIPLIER = 1
CELERY_ACKS_LATE = True
CELERY_TASK_RESULT_EXPIRES = 3600
BROKER_URL = "redis://localhost:6379/0"
"""


def _run(path: Path, **kw: object) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = audit([str(path)], AuditOptions(cpus=2, **kw), out=out, err=err)  # type: ignore[arg-type]
    return code, out.getvalue(), err.getvalue()


def test_fix_renames_every_old_name_together_and_keeps_comments(tmp_path: Path) -> None:
    path = tmp_path / "celeryconfig.py"
    path.write_text(OLD)
    code, out, err = _run(path, fix=True, select=("CT501",))
    assert "Fixed 1 finding." in err  # one CT501 finding lists all five names
    fixed = path.read_text()
    assert fixed == (
        OLD.replace("CELERYD_CONCURRENCY", "worker_concurrency")
        .replace("CELERYD_PREFETCH_MULTIPLIER", "worker_prefetch_multiplier")
        .replace("CELERY_ACKS_LATE", "task_acks_late")
        .replace("CELERY_TASK_RESULT_EXPIRES", "result_expires")
        .replace("BROKER_URL", "broker_url")
    )
    assert code == 0 and "All clear" in out
    # The result is valid Python that compiles.
    compile(fixed, str(path), "exec")


def test_diff_shows_fixes_and_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "celeryconfig.py"
    text = "worker_send_task_event = True  # typo\nworker_num_processes = 4\n"
    path.write_text(text)
    code, out, _ = _run(path, diff=True)
    assert code == 1
    assert "-worker_send_task_event = True  # typo" in out
    assert "+worker_send_task_events = True  # typo" in out
    assert "+worker_concurrency = 4" in out
    assert path.read_text() == text


def test_ambiguous_typo_is_not_renamed(tmp_path: Path) -> None:
    path = tmp_path / "celeryconfig.py"
    text = "worker_zzz_qqq = 4\n"
    path.write_text(text)
    _run(path, fix=True)
    assert path.read_text() == text


def test_fix_does_not_rename_when_the_target_is_already_set(tmp_path: Path) -> None:
    path = tmp_path / "celeryconfig.py"
    text = "worker_concurrency = 2\nworker_num_processes = 4\n"
    path.write_text(text)
    _run(path, fix=True)
    assert path.read_text() == text


def test_fix_keeps_crlf_and_non_ascii(tmp_path: Path) -> None:
    path = tmp_path / "celeryconfig.py"
    path.write_bytes("# réglages\r\nCELERYD_CONCURRENCY = 2  # «deux»\r\n".encode())
    _run(path, fix=True)
    assert path.read_bytes() == "# réglages\r\nworker_concurrency = 2  # «deux»\r\n".encode()


def test_fix_through_the_cli(tmp_path: Path) -> None:
    path = tmp_path / "celeryconfig.py"
    path.write_text("CELERYD_CONCURRENCY = 2\n")
    proc = run_cli("audit", "--fix", "--select", "CT5", str(path), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert path.read_text() == "worker_concurrency = 2\n"


def test_a_suppressed_old_name_blocks_all_old_name_renames(tmp_path: Path) -> None:
    path = tmp_path / "celeryconfig.py"
    text = "CELERYD_CONCURRENCY = 2  # celery-tune: ignore[CT501]\nCELERY_ACKS_LATE = True\n"
    path.write_text(text)
    _run(path, fix=True)
    assert path.read_text() == text  # renaming only one would mix styles (CT103)
