"""Checks on the form of ``celery worker`` command lines."""

from __future__ import annotations

from tuner.audit.context import Context


def check_commands(ctx: Context) -> None:
    for source in ctx.sources:
        for cmd in source.commands:
            if cmd.legacy:
                ctx.report(
                    "CT107",
                    source.path,
                    cmd.span,
                    f"`{cmd.legacy}` was removed; Celery 5 runs `celery -A proj {cmd.subcommand}`",
                )
            for opt in cmd.misplaced:
                if cmd.subcommand == "flower":
                    # flower/command.py: warn_about_celery_args_used_in_flower_command, and
                    # apply_options keeps only Flower's own options.
                    ctx.report(
                        "CT107",
                        source.path,
                        opt.span,
                        f"`{opt.flag}` after `flower`: Flower 1.x (the Flower of Celery 5) logs "
                        "a warning and ignores it, so it runs without it; write it before "
                        f"`flower` (`celery {opt.flag} ... flower`)",
                    )
                    continue
                ctx.report(
                    "CT107",
                    source.path,
                    opt.span,
                    f'`{opt.flag}` after the subcommand: Celery 5 exits with "No such option"; '
                    f"write it before `{cmd.subcommand}` "
                    f"(`celery {opt.flag} ... {cmd.subcommand}`)",
                )
            for opt in cmd.unknown:
                ctx.report(
                    "CT108",
                    source.path,
                    opt.span,
                    f"`celery {cmd.subcommand}` has no option `{opt.flag}`",
                )
            beat = cmd.get("beat")
            if beat is not None:
                ctx.report(
                    "CT307",
                    source.path,
                    beat.span,
                    f"`{beat.flag}` embeds beat in this worker: with more than one such worker, "
                    "every schedule runs more than once",
                )
