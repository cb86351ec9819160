"""Bad input: one clear line naming the file, line and problem; never a traceback; the other
files are still audited; exit code 2."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import run_cli


def _make(tmp_path: Path, kind: str) -> tuple[Path, str]:
    p = tmp_path / "celeryconfig.py"
    if kind == "binary":
        p.write_bytes(b"\x7fELF\x02\x01\x01\x00\x00\x00\x00")
        return p, "binary file"
    if kind == "not-utf8":
        p.write_bytes(b"broker_url = 'caf\xe9'\n")
        return p, "not valid utf-8"
    if kind == "huge":
        with p.open("w") as f:
            f.write(("x = 1\n" * 1_750_000)[: 10 * 1024 * 1024])
        return p, "MiB"
    if kind == "nested":
        p.write_text("x = " + "(" * 5000 + "1" + ")" * 5000 + "\n")
        return p, "nest"
    if kind == "deep-binop":
        # CPython itself cannot compile this (RecursionError): it is bad input, not a crash.
        p.write_text("x = " + "1 + " * 100_000 + "1\n")
        return p, "nested"
    if kind == "syntax":
        p.write_text("worker_concurrency = 4\nbroker_url = 'redis://\n")
        return p, "syntax error"
    if kind == "missing":
        return tmp_path / "nope.py", "no such file"
    if kind == "loop":
        a, b = tmp_path / "a.py", tmp_path / "b.py"
        os.symlink(b, a)
        os.symlink(a, b)
        return a, "symlink loop"
    if kind == "bad-yaml":
        y = tmp_path / "docker-compose.yml"
        y.write_text("services:\n  worker:\n    command: [celery, -A\n")
        return y, "yaml"
    raise AssertionError(kind)


KINDS = [
    "binary", "not-utf8", "huge", "nested", "deep-binop", "syntax", "missing",
    "loop", "bad-yaml",
]  # fmt: skip


@pytest.mark.parametrize("kind", KINDS)
def test_bad_input_gives_one_clear_line(tmp_path: Path, samples: Path, kind: str) -> None:
    path, words = _make(tmp_path, kind)
    good = samples / "production_celeryconfig.py"
    proc = run_cli("audit", "--cpus", "2", str(path), str(good), cwd=tmp_path)
    assert "Traceback" not in proc.stderr + proc.stdout
    about_bad = [line for line in proc.stdout.splitlines() if line.startswith(str(path) + ":")]
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert len(about_bad) == 1, proc.stdout
    assert " CT001 [error] " in about_bad[0]
    assert words.lower() in about_bad[0].lower()
    # ... and the other file was still audited.
    assert f"{good}:" in proc.stdout and "CT101" in proc.stdout


def test_syntax_error_names_the_line(tmp_path: Path) -> None:
    path, _ = _make(tmp_path, "syntax")
    proc = run_cli("audit", str(path), cwd=tmp_path)
    assert f"{path}:2:" in proc.stdout


def test_empty_file_is_one_info_line(tmp_path: Path) -> None:
    path = tmp_path / "celeryconfig.py"
    path.write_text("")
    proc = run_cli("audit", str(path), cwd=tmp_path)
    assert proc.returncode == 0
    assert proc.stdout.splitlines()[0] == f"{path}:1:1: CT003 [info] empty file: nothing to audit"


def test_stdin_twice_is_a_usage_error(tmp_path: Path) -> None:
    proc = run_cli("audit", "-", "-", cwd=tmp_path)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1
    assert "stdin" in proc.stderr and "Traceback" not in proc.stderr


def test_fix_on_stdin_is_a_usage_error(tmp_path: Path) -> None:
    proc = run_cli("audit", "--fix", "-", "--stdin-filename", "celeryconfig.py", cwd=tmp_path)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1
    assert "--fix" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    ("text", "why"),
    [
        # django-admin startproject / cookiecutter templates (corpus: Tirzono/django-dokku-template)
        ("from {{ project_name }}.settings import *\nbroker_url = 'redis://'\n", "template"),
        ("{% if use_celery %}\nbroker_url = 'redis://'\n{% endif %}\n", "template"),
        # Python 2 sources (corpus: CognitionGuidedSurgery/msml-celery, pystars/bumerang)
        ("BROKER_URL = 'redis://'\nprint 'loaded'\n", "Python 2"),
        ("try:\n    import x\nexcept ImportError, e:\n    pass\n", "Python 2"),
        ("FILE_UPLOAD_PERMISSIONS = 0644\n", "Python 2"),
    ],
)
def test_templates_and_python2_are_passed_over_as_info(tmp_path: Path, text: str, why: str) -> None:
    (tmp_path / "celeryconfig.py").write_text(text)
    proc = run_cli("audit", "celeryconfig.py", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr  # an info does not fail the run
    assert "CT004 [info]" in proc.stdout and why in proc.stdout
    assert "CT001" not in proc.stdout


def test_a_real_syntax_error_is_still_an_input_error(tmp_path: Path) -> None:
    (tmp_path / "celeryconfig.py").write_text("broker_url = 'redis://'\nworker_concurrency = (4\n")
    proc = run_cli("audit", "celeryconfig.py", cwd=tmp_path)
    assert proc.returncode == 2
    assert "CT001 [error]" in proc.stdout and "CT004" not in proc.stdout
