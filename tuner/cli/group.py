"""The click group behind ``celery-tune``: subcommands are imported only when run."""

from __future__ import annotations

import importlib
from collections.abc import Sequence

import click

from tuner import __version__
from tuner.commands import error_line

# name -> "module:attribute" of a click.Command
COMMANDS: dict[str, str] = {
    "audit": "tuner.cli.audit:audit",
    "rules": "tuner.cli.rules:rules",
    "bench": "tuner.cli.bench:bench",
    "optimize": "tuner.cli.optimize:optimize",
    "profile": "tuner.cli.profile:profile",
    "plan": "tuner.cli.plan:plan",
}

HELP = {
    "audit": "Statically audit Celery configs and worker command lines.",
    "rules": "List the audit rules, or explain one.",
    "bench": "Measure worker configurations against a live workload.",
    "optimize": "Search for a better worker configuration with live trials.",
    "profile": "Measure with py-spy where worker time goes (GIL held, GIL wait, idle).",
    "plan": "Size a fleet for a rate and a p99 goal, from measurements (USL + simulation).",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attr = target.split(":")
        command = getattr(importlib.import_module(module_name), attr)
        assert isinstance(command, click.Command)
        return command

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        name = args[0] if args else ""
        if name and name not in COMMANDS and not name.startswith("-"):
            from tuner.hints import did_you_mean

            raise click.UsageError(f"no such command {name!r}{did_you_mean(name, COMMANDS)}", ctx)
        return super().resolve_command(ctx, args)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # Short help without importing every command module.
        with formatter.section("Commands"):
            formatter.write_dl([(name, HELP[name]) for name in COMMANDS])


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="celery-tune")
def cli() -> None:
    """Audit and tune Celery workers for CPU-bound work, with evidence."""


def show_usage_error(exc: click.UsageError) -> None:
    """Click's usage error, with the project's one error prefix."""
    ctx = exc.ctx
    if ctx is not None:
        click.echo(ctx.get_usage(), err=True)
        hint = f"Try '{ctx.command_path} {ctx.help_option_names[0]}' for help."
        click.echo(hint, err=True)
    click.echo(error_line(exc.format_message()), err=True, nl=False)


def run(args: Sequence[str] | None) -> int:
    """Parse ``args`` (None: ``sys.argv[1:]``) with click and run the subcommand; return the
    exit code."""
    try:
        result = cli.main(
            args=list(args) if args is not None else None,
            prog_name="celery-tune",
            standalone_mode=False,
        )
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        return 130
    except click.UsageError as exc:
        show_usage_error(exc)
        return 2
    except click.ClickException as exc:
        click.echo(error_line(exc.format_message()), err=True, nl=False)
        return 2
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    return int(result) if isinstance(result, int) else 0
