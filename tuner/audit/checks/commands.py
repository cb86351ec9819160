"""Checks on the form of ``celery worker`` command lines."""

from __future__ import annotations

from tuner.audit.context import Context
from tuner.audit.model import CommandLine
from tuner.audit.readers import worker_options as wo


def _legacy(ctx: Context, path: str, commands: list[CommandLine]) -> None:
    """CT107 for a removed command (``celeryd-multi``) once per command and file: the branches
    of one init script (start, restart) are one thing to rewrite, named in the first finding."""
    by_name: dict[tuple[str, str], list[CommandLine]] = {}
    for cmd in commands:
        if cmd.legacy:
            by_name.setdefault((cmd.legacy, cmd.subcommand or ""), []).append(cmd)
    for (legacy, subcommand), found in by_name.items():
        lines = sorted({c.span.line for c in found[1:]} - {found[0].span.line})
        also = f" (also on line{'s' if len(lines) > 1 else ''} {', '.join(map(str, lines))})"
        ctx.report(
            "CT107",
            path,
            found[0].span,
            f"`{legacy}` was removed; Celery 5 runs `celery -A proj {subcommand}`"
            f"{also if lines else ''}",
        )


def check_commands(ctx: Context) -> None:
    for source in ctx.sources:
        _legacy(ctx, source.path, source.commands)
        for cmd in source.commands:
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
                if cmd.subcommand == "worker" and opt.flag in wo.WORKER:
                    # After `worker` the reader knows every worker option, so an unknown one
                    # stood before it, where the `celery` group rejects it (click: "No such
                    # option '--concurrency'"): `celery worker` itself does have it.
                    message = (
                        f"`{opt.flag}` before `worker`: the `celery` command itself has no such "
                        'option, so Celery 5 exits with "No such option"; write it after '
                        f"`worker` (`celery ... worker {opt.flag} ...`)"
                    )
                else:
                    message = f"`celery {cmd.subcommand}` has no option `{opt.flag}`"
                ctx.report("CT108", source.path, opt.span, message)
            beat = cmd.get("beat")
            if beat is not None:
                ctx.report(
                    "CT307",
                    source.path,
                    beat.span,
                    f"`{beat.flag}` embeds beat in this worker: with more than one such worker, "
                    "every schedule runs more than once",
                )
