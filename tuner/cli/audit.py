"""Click wiring for ``celery-tune audit``."""

from __future__ import annotations

from pathlib import Path

import click

from tuner.audit.options import FAIL_ON, FORMATS, WORKLOADS, AuditOptions, OptionsError
from tuner.audit.options import merge_pyproject as _merge
from tuner.commands.audit import audit as run_audit
from tuner.commands.audit import default_pyproject


def _split(values: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(v.strip() for value in values for v in value.split(",") if v.strip())


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("paths", nargs=-1, type=click.Path())
@click.option(
    "--format", "output_format", type=click.Choice(FORMATS), default="text", show_default=True
)
@click.option("--select", multiple=True, help="Only these rule codes, prefixes or names.")
@click.option("--ignore", multiple=True, help="Skip these rule codes, prefixes or names.")
@click.option("--fail-on", type=click.Choice(FAIL_ON), help="Lowest severity that fails [warning].")
@click.option("--workload", type=click.Choice(WORKLOADS), help="cpu (default) enables CPU rules.")
@click.option("--cpus", type=float, help="CPUs the worker may use (default: detect here).")
@click.option("--namespace", help="Settings namespace, as config_from_object(namespace=...).")
@click.option("--fix", is_flag=True, help="Apply safe fixes in place.")
@click.option("--diff", is_flag=True, help="Show the safe fixes as a diff; change nothing.")
@click.option(
    "--config",
    "pyproject",
    type=click.Path(dir_okay=False, path_type=Path),
    help="pyproject.toml to read [tool.celery-tune] from (default: nearest).",
)
@click.option(
    "--stdin-filename",
    help="Name for the file read from stdin (`-`): decides its reader and the path in findings.",
)
@click.option(
    "--force-exclude",
    is_flag=True,
    help="Apply exclusions and content sniffing to files named here too (pre-commit).",
)
def audit(
    paths: tuple[str, ...],
    output_format: str,
    select: tuple[str, ...],
    ignore: tuple[str, ...],
    fail_on: str | None,
    workload: str | None,
    cpus: float | None,
    namespace: str | None,
    fix: bool,
    diff: bool,
    pyproject: Path | None,
    stdin_filename: str | None,
    force_exclude: bool,
) -> int:
    """Statically audit Celery config modules, Django settings and worker command lines.

    PATHS are files, folders to walk (default: the current folder; .gitignore and `exclude` are
    respected) or `-` for stdin.  Never imports or runs the audited code.  Exit codes: 0 clean,
    1 findings, 2 error.
    """
    given = {
        "select": bool(select),
        "ignore": bool(ignore),
        "fail_on": fail_on is not None,
        "workload": workload is not None,
        "cpus": cpus is not None,
        "namespace": namespace is not None,
    }
    options = AuditOptions(
        select=_split(select),
        ignore=_split(ignore),
        fail_on=fail_on or "warning",  # type: ignore[arg-type]
        workload=workload or "cpu",
        cpus=cpus,
        namespace=namespace,
        output_format=output_format,
        fix=fix,
        diff=diff,
    )
    try:
        options = _merge(
            options, pyproject or default_pyproject(), {k for k, v in given.items() if v}
        )
    except OptionsError as exc:
        click.echo(f"celery-tune: error: {exc}", err=True)
        return 2
    return run_audit(paths, options, stdin_filename=stdin_filename, force_exclude=force_exclude)
