from __future__ import annotations

from pathlib import Path

from tuner.audit import engine
from tuner.audit.options import AuditOptions


def _audit(tmp_path: Path, text: str, **kw: object) -> list[tuple[str, int]]:
    path = tmp_path / "celeryconfig.py"
    path.write_text(text)
    result = engine.run([str(path)], AuditOptions(cpus=2, **kw))  # type: ignore[arg-type]
    return [(f.code, f.line) for f in result.findings]


BASE = "task_time_limit = 60\nbroker_connection_retry_on_startup = True\n"


def test_line_suppression_silences_only_that_code_on_that_line(tmp_path: Path) -> None:
    found = _audit(tmp_path, BASE + "worker_num_processes = 4\nworker_prefetch_multiplier = 0\n")
    assert ("CT101", 3) in found and ("CT204", 4) in found
    found = _audit(
        tmp_path,
        BASE
        + "worker_num_processes = 4  # celery-tune: ignore[CT101]\n"
        + "worker_prefetch_multiplier = 0  # celery-tune: ignore[CT101]\n",
    )
    assert ("CT101", 3) not in found
    assert ("CT204", 4) in found
    assert ("CT002", 4) in found  # the second comment silences nothing


def test_suppression_by_name_and_file_level(tmp_path: Path) -> None:
    found = _audit(
        tmp_path,
        "# celery-tune: ignore-file[unknown-setting]\n"
        + BASE
        + "worker_num_processes = 4\nworker_foo_bar = 1\n",
    )
    assert not [c for c, _ in found if c in ("CT101", "CT002")]


def test_unknown_code_in_suppression_is_reported(tmp_path: Path) -> None:
    found = _audit(tmp_path, BASE + "x = 1  # celery-tune: ignore[CT999]\n")
    assert found == [("CT002", 3)]


def test_select_and_ignore(tmp_path: Path) -> None:
    text = BASE + "worker_num_processes = 4\nworker_prefetch_multiplier = 0\n"
    assert {c for c, _ in _audit(tmp_path, text, select=("CT2",))} == {"CT204"}
    assert "CT204" not in {c for c, _ in _audit(tmp_path, text, ignore=("unlimited-prefetch",))}
