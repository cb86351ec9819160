"""Click wiring for ``celery-tune rules``."""

from __future__ import annotations

import click

from tuner.commands.rules import rules as run_rules


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("code", required=False)
@click.option("--json", "as_json", is_flag=True, help="List the rules as JSON.")
def rules(code: str | None, as_json: bool) -> int:
    """List the audit rules, or explain one (by code or name)."""
    return run_rules(code, as_json=as_json)
