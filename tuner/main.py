"""The ``celery-tune`` entry point.

Subcommands are imported lazily, so ``celery-tune audit`` never pays for (or imports) what
``bench``, ``optimize`` or ``profile`` need.  An ordinary ``celery-tune audit ...`` command line
does not even import click: :mod:`tuner.cli.audit_argv` parses it exactly as click would, and
anything it is not sure of (``--help``, errors, unknown options) goes to click.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence


def _fast_audit(args: list[str]) -> int | None:
    """Run ``celery-tune audit`` without click, or return None to let click parse ``args``."""
    from tuner.cli.audit_argv import parse

    parsed = parse(args)
    if parsed is None:
        return None
    from tuner.commands.audit import from_args

    paths = parsed.pop("paths")
    assert isinstance(paths, tuple)
    try:
        return from_args(paths, **parsed)  # type: ignore[arg-type]
    except (EOFError, KeyboardInterrupt):
        # As click does: a newline, then "Aborted." (below in _click_main's terms).
        sys.stderr.write("\nAborted.\n")
        return 130
    except OSError as exc:
        import errno

        if exc.errno != errno.EPIPE:
            raise
        from click.utils import _PacifyFlushWrapper

        sys.stdout = _PacifyFlushWrapper(sys.stdout)
        sys.stderr = _PacifyFlushWrapper(sys.stderr)
        return 1


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["audit"]:
        code = _fast_audit(args[1:])
        if code is not None:
            return code
    from tuner.cli.group import run

    return run(argv)
