"""``celery-tune audit``: the command function (no click), returning the exit code."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, BinaryIO, TextIO

from tuner.audit import engine, output, walk
from tuner.audit.options import AuditOptions, OptionsError, merge_pyproject, validate
from tuner.finding import SEVERITY_RANK, Finding

if TYPE_CHECKING:
    from pathlib import Path


def exit_code(findings: Sequence[Finding], input_errors: int, fail_on: str) -> int:
    if input_errors:
        return 2
    threshold = SEVERITY_RANK[fail_on]
    return 1 if any(SEVERITY_RANK[f.severity] >= threshold for f in findings) else 0


def audit(
    paths: Sequence[str],
    options: AuditOptions,
    *,
    out: TextIO | None = None,
    err: TextIO | None = None,
    stdin: BinaryIO | None = None,
    stdin_filename: str | None = None,
    force_exclude: bool = False,
) -> int:
    """Audit ``paths`` (files, folders to walk, ``-`` for stdin; none: the current folder);
    print the report to ``out``; return 0 clean, 1 findings, 2 error."""
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        validate(options)
    except OptionsError as exc:
        err.write(f"celery-tune: error: {exc}\n")
        return 2
    if not paths and stdin_filename is not None:
        paths = ["-"]
    if list(paths).count("-") > 1:
        err.write("celery-tune: error: `-` (stdin) can be given only once\n")
        return 2
    if "-" in paths and (options.fix or options.diff):
        err.write("celery-tune: error: --fix and --diff cannot be used with stdin (`-`)\n")
        return 2
    rules = walk.Rules(options.exclude, options.extend_exclude, options.exclude_base)
    found = walk.discover(paths, rules, force_exclude=force_exclude)
    names: list[str] = []
    data: dict[str, bytes] = {}
    for item in found.files:
        name = item.path
        if name == "-":
            name = stdin_filename or "-"
            data[name] = (stdin or sys.stdin.buffer).read()
        elif item.data is not None:
            data[name] = item.data
        names.append(name)
    if not names and found.folders:
        where = ", ".join(found.folders)
        err.write(f"celery-tune: warning: no Celery config or worker command found in {where}\n")
    result = engine.run(names, options, data)
    if options.fix or options.diff:
        from tuner.audit import fix  # difflib, tempfile: only when fixing

        fixes = fix.plan(result.findings, result.unsuppressed)
        if options.diff:
            out.write(fix.diff(fixes))
            fixed = sum(len(f.applied) for f in fixes)
            err.write(f"{fixed} fix{'es' if fixed != 1 else ''} would be applied.\n")
            return 1 if fixes else exit_code([], result.input_errors, options.fail_on)
        for file_fix in fixes:
            fix.write(file_fix)
        fixed = sum(len(f.applied) for f in fixes)
        if fixed:
            err.write(f"Fixed {fixed} finding{'s' if fixed != 1 else ''}.\n")
        result = engine.run(names, options)
    code = exit_code(result.findings, result.input_errors, options.fail_on)
    out.write(output.render(options.output_format, result.findings, len(names), code))
    return code


def _split(values: Sequence[str]) -> tuple[str, ...]:
    return tuple(v.strip() for value in values for v in value.split(",") if v.strip())


def from_args(
    paths: Sequence[str],
    *,
    output_format: str = "text",
    select: Sequence[str] = (),
    extend_select: Sequence[str] = (),
    ignore: Sequence[str] = (),
    fail_on: str | None = None,
    workload: str | None = None,
    cpus: float | None = None,
    namespace: str | None = None,
    celery_version: str | None = None,
    fix: bool = False,
    diff: bool = False,
    pyproject: Path | None = None,
    stdin_filename: str | None = None,
    force_exclude: bool = False,
) -> int:
    """``celery-tune audit`` from its parsed command line (click's, or the fast parser's in
    :mod:`tuner.cli.audit_argv`): options from the command line win over ``[tool.celery-tune]``."""
    given = {
        "select": bool(select),
        "extend_select": bool(extend_select),
        "ignore": bool(ignore),
        "fail_on": fail_on is not None,
        "workload": workload is not None,
        "cpus": cpus is not None,
        "namespace": namespace is not None,
        "celery_version": celery_version is not None,
    }
    options = AuditOptions(
        select=_split(select),
        extend_select=_split(extend_select),
        ignore=_split(ignore),
        fail_on=fail_on or "warning",  # type: ignore[arg-type]
        workload=workload,
        cpus=cpus,
        namespace=namespace,
        celery_version=celery_version,
        output_format=output_format,
        fix=fix,
        diff=diff,
    )
    try:
        options = merge_pyproject(
            options, pyproject or default_pyproject(), {k for k, v in given.items() if v}
        )
    except OptionsError as exc:
        sys.stderr.write(f"celery-tune: error: {exc}\n")
        return 2
    return audit(paths, options, stdin_filename=stdin_filename, force_exclude=force_exclude)


def default_pyproject() -> Path | None:
    """The nearest pyproject.toml from the current folder up (as ``find_pyproject(Path.cwd())``,
    with :mod:`pathlib` imported only when there is one)."""
    import os

    folder = os.getcwd()
    while True:
        candidate = os.path.join(folder, "pyproject.toml")
        if os.path.isfile(candidate):
            from pathlib import Path

            return Path(candidate)
        parent = os.path.dirname(folder)
        if parent == folder:
            return None
        folder = parent
