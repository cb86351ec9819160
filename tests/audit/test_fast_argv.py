"""The click-free fast path of ``celery-tune audit`` parses exactly as click does, or not at all."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import click
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import ROOT, SAMPLES, run_cli
from tuner.cli import audit_argv
from tuner.cli.audit import audit as click_audit


def _click_params(args: list[str]) -> dict[str, object] | None:
    """What click passes to the audit command, or None when click refuses the command line."""
    try:
        ctx = click_audit.make_context("audit", list(args))
    except (click.ClickException, click.exceptions.Exit):
        return None
    return dict(ctx.params)


def test_options_mirror_the_click_command() -> None:
    """Every click option is parsed here with the same name and kind, or left to click."""
    seen = set()
    for param in click_audit.params:
        if isinstance(param, click.Argument):
            assert param.name == "paths" and param.nargs == -1
            continue
        assert isinstance(param, click.Option)
        for flag in param.opts:
            if flag in ("-h", "--help"):
                continue
            seen.add(flag)
            if flag in audit_argv.CLICK_ONLY:
                continue
            assert flag in audit_argv.OPTIONS, f"{flag} is missing from audit_argv.OPTIONS"
            name, kind, choices = audit_argv.OPTIONS[flag]
            assert name == param.name
            if param.is_flag:
                assert kind == "flag"
            elif param.multiple:
                assert kind == "multiple"
            elif isinstance(param.type, click.Choice):
                assert kind == "choice" and tuple(param.type.choices) == choices
            elif isinstance(param.type, click.types.FloatParamType):
                assert kind == "float"
            else:
                assert kind == "str" and param.type is click.STRING
    assert seen == set(audit_argv.OPTIONS) | set(audit_argv.CLICK_ONLY)


TOKENS = [
    "--format", "--format=json", "json", "sarif", "text", "JSON", "--select", "CT1",
    "--select=CT2,CT3", "--ignore", "ct201", "--fail-on", "info", "error", "--fail-on=warn",
    "--workload", "io", "--workload=gpu", "--cpus", "2", "1.5", "-1", "x", "--cpus=4", "--cpus=",
    "inf", "1e3", " 3 ", "--namespace", "CELERY", "--namespace=", "--fix", "--fix=1", "--diff",
    "--stdin-filename", "Procfile", "--stdin-filename=a.py", "--force-exclude", "--config",
    "pyproject.toml", "-", "--", "-h", "--help", "--cpu", "--formats", "-x", "a.py", "b dir",
    "sample_configs", "", "=", "--=x",
]  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(TOKENS), max_size=8))
def test_fast_parse_equals_click_or_defers(args: list[str]) -> None:
    fast = audit_argv.parse(args)
    if fast is None:
        return  # click decides (and reports any error)
    assert fast == _click_params(args), args


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["a.py"],
        ["--cpus", "2", "a.py", "--format", "json", "b.py"],
        ["--select", "CT1", "--select=CT2", "--ignore", "CT201", "-", "--stdin-filename", "x"],
        ["--fix", "--diff", "--force-exclude", "--", "--fix", "-h"],
        ["--namespace", "", "--fail-on", "info", "--workload=io"],
    ],
)
def test_ordinary_command_lines_take_the_fast_path(args: list[str]) -> None:
    fast = audit_argv.parse(args)
    assert fast is not None
    assert fast == _click_params(args)


@pytest.mark.parametrize(
    "args",
    [["--help"], ["-h"], ["--cpu", "2"], ["--cpus", "x"], ["--fix=yes"], ["--config", "p.toml"],
     ["--format"], ["--format", "xml"], ["--namespace", "--fix"]],
)  # fmt: skip
def test_anything_else_goes_to_click(args: list[str]) -> None:
    assert audit_argv.parse(args) is None


def test_unreadable_path_goes_to_click(tmp_path: Path) -> None:
    secret = tmp_path / "celeryconfig.py"
    secret.write_text("x = 1\n")
    secret.chmod(0)
    try:
        if os.access(secret, os.R_OK):
            pytest.skip("running as root: every file is readable")
        assert audit_argv.parse([str(secret)]) is None
    finally:
        secret.chmod(0o644)


def test_the_audit_start_up_path_does_not_import_click() -> None:
    script = (
        "import sys\n"
        "from tuner.main import main\n"
        "code = main(['audit', '--cpus', '2', sys.argv[1]])\n"
        "print('click' in sys.modules, file=sys.stderr)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script, str(SAMPLES / "production_celeryconfig.py")],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.stderr.strip().splitlines()[-1] == "False", proc.stderr
    # ... while --help still goes through click.
    proc = run_cli("audit", "--help")
    assert proc.returncode == 0 and proc.stdout.startswith("Usage: celery-tune audit")


def test_errors_are_clicks(tmp_path: Path) -> None:
    proc = run_cli("audit", "--cpu", "2", "x.py", cwd=tmp_path)
    assert proc.returncode == 2
    assert "No such option '--cpu'. Did you mean '--cpus'?" in proc.stderr
    proc = run_cli("audit", "--cpus", "two", "x.py", cwd=tmp_path)
    assert proc.returncode == 2 and "'two' is not a valid float" in proc.stderr
