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


# --------------------------------------------------------------------------- only real comments


def _audit_file(tmp_path: Path, name: str, text: str) -> list[tuple[str, int]]:
    path = tmp_path / name
    path.write_text(text)
    result = engine.run([str(path)], AuditOptions(cpus=2))
    return [(f.code, f.line) for f in result.findings]


def test_python_strings_and_docstrings_do_not_suppress(tmp_path: Path) -> None:
    # The syntax in a docstring, a string, an f-string: documentation, not suppressions (this
    # repository's own tuner/audit/suppress.py and tuner/optimize/output.py were reported).
    text = (
        '"""Use ``# celery-tune: ignore[CODE]`` on a line."""\n'
        + BASE
        + 'NOTE = "# celery-tune: ignore[CT101]"\n'
        + "worker_num_processes = 4\n"
        + "codes = ['CT101']\n"
        + "line = f\"x  # celery-tune: ignore[{','.join(codes)}]\"\n"
        + "DOC = '''\n# celery-tune: ignore-file[CT101]\n'''\n"
    )
    assert _audit_file(tmp_path, "celeryconfig.py", text) == [("CT101", 5)]


def test_python_comment_after_a_string_with_a_hash(tmp_path: Path) -> None:
    text = BASE + (
        'broker_url = "redis://h:6379/0#x"; worker_num_processes = 4'
        "  # celery-tune: ignore[CT101]\n"
    )
    assert _audit_file(tmp_path, "celeryconfig.py", text) == []


def test_python_that_does_not_tokenize_falls_back_to_shell_reading(tmp_path: Path) -> None:
    from tuner.audit.suppress import parse

    lines = ['x = "# celery-tune: ignore[CT101]"', "y = (  # celery-tune: ignore[CT102]"]
    assert [(s.line, s.codes) for s in parse(lines, "python")] == [(2, ["CT102"])]


def test_shell_quotes_hide_the_syntax(tmp_path: Path) -> None:
    text = (
        "echo '# celery-tune: ignore[CT107]'\n"
        'echo "a # celery-tune: ignore[CT107]"\n'
        "echo a\\# celery-tune: ignore[CT107]\n"
        "celery worker -A proj  # celery-tune: ignore[CT107]\n"
        "celery worker -A proj\n"
    )
    assert _audit_file(tmp_path, "run.sh", text) == [("CT107", 5)]


def test_procfile_and_yaml_comments(tmp_path: Path) -> None:
    proc = "worker: celery worker -A proj  # celery-tune: ignore[CT107]\nw2: celery worker -A p\n"
    assert _audit_file(tmp_path, "Procfile", proc) == [("CT107", 2)]
    compose = (
        "services:\n"
        "  worker:\n"
        "    # it's the worker\n"
        '    command: "celery worker -A proj # celery-tune: ignore[CT107]"\n'
        "  other:\n"
        "    command: celery worker -A proj  # celery-tune: ignore[CT107]\n"
    )
    assert [c for c in _audit_file(tmp_path, "docker-compose.yml", compose) if c[0] == "CT107"] == [
        ("CT107", 4)
    ]


def test_systemd_has_whole_line_comments_only(tmp_path: Path) -> None:
    from tuner.audit.suppress import parse

    unit = [
        "[Service]",
        "# celery-tune: ignore-file[CT107]",
        "ExecStart=/usr/bin/celery worker -A p # celery-tune: ignore[CT107]",
    ]
    assert [(s.line, s.whole_file) for s in parse(unit, "systemd")] == [(2, True)]
