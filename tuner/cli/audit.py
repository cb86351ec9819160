"""Click wiring for ``celery-tune audit``."""

from __future__ import annotations

from pathlib import Path

import click

from tuner.audit.options import FAIL_ON, FORMATS, WORKLOADS
from tuner.commands.audit import from_args


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("paths", nargs=-1, type=click.Path())
@click.option(
    "--format", "output_format", type=click.Choice(FORMATS), default="text", show_default=True
)
@click.option(
    "--select", multiple=True, help="Only these rule codes, prefixes, names or ALL [default set]."
)
@click.option(
    "--extend-select", multiple=True, help="Add these rules to the selection (opt-in rules)."
)
@click.option("--ignore", multiple=True, help="Skip these rule codes, prefixes or names.")
@click.option("--fail-on", type=click.Choice(FAIL_ON), help="Lowest severity that fails [warning].")
@click.option(
    "--workload",
    type=click.Choice(WORKLOADS),
    help="What the tasks are bound by; cpu turns the CPU-bound rules on [not stated: off].",
)
@click.option(
    "--cpus", type=float, help="The target's CPUs, for CT201/CT206 (never this machine's)."
)
@click.option("--namespace", help="Settings namespace, as config_from_object(namespace=...).")
@click.option("--celery-version", help="The Celery version the project runs (5.6), for advice.")
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
    extend_select: tuple[str, ...],
    ignore: tuple[str, ...],
    fail_on: str | None,
    workload: str | None,
    cpus: float | None,
    namespace: str | None,
    celery_version: str | None,
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
    return from_args(
        paths,
        output_format=output_format,
        select=select,
        extend_select=extend_select,
        ignore=ignore,
        fail_on=fail_on,
        workload=workload,
        cpus=cpus,
        namespace=namespace,
        celery_version=celery_version,
        fix=fix,
        diff=diff,
        pyproject=pyproject,
        stdin_filename=stdin_filename,
        force_exclude=force_exclude,
    )
