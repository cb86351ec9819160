"""A click-free parser for ordinary ``celery-tune audit`` command lines: the start-up fast path.

Importing click (and what it pulls in: ``uuid``, ``platform``, ``datetime``, ``gettext`` ...) costs
more than a one-file audit itself.  This parser accepts only command lines it can parse exactly as
click would, with the same values; for anything else (``--help``, an unknown, misspelled or
malformed option, a value click would reject, ``--config``, shell completion) it returns None and
:mod:`tuner.main` hands the command line to click, so help texts and error messages stay click's.

``OPTIONS`` mirrors the options of :func:`tuner.cli.audit.audit`; a test compares the two and
checks this parser against click on generated command lines.  An option missing here is not an
error: such command lines just take the click path.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from tuner.audit.options import FAIL_ON, FORMATS, WORKLOADS

# flag -> (parameter name, kind, choices); kinds: flag, multiple, choice, float, str.
OPTIONS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "--format": ("output_format", "choice", FORMATS),
    "--select": ("select", "multiple", ()),
    "--extend-select": ("extend_select", "multiple", ()),
    "--ignore": ("ignore", "multiple", ()),
    "--fail-on": ("fail_on", "choice", FAIL_ON),
    "--workload": ("workload", "choice", WORKLOADS),
    "--cpus": ("cpus", "float", ()),
    "--namespace": ("namespace", "str", ()),
    "--celery-version": ("celery_version", "str", ()),
    "--fix": ("fix", "flag", ()),
    "--diff": ("diff", "flag", ()),
    "--stdin-filename": ("stdin_filename", "str", ()),
    "--force-exclude": ("force_exclude", "flag", ()),
}
# Options of the click command this parser leaves to click (their type checks touch the disk).
CLICK_ONLY = ("--config",)
DEFAULTS: dict[str, object] = {
    "output_format": "text",
    "select": (),
    "extend_select": (),
    "ignore": (),
    "fail_on": None,
    "workload": None,
    "cpus": None,
    "namespace": None,
    "celery_version": None,
    "fix": False,
    "diff": False,
    "stdin_filename": None,
    "force_exclude": False,
}
COMPLETE_VAR = "_CELERY_TUNE_COMPLETE"


def _readable_or_absent(path: str) -> bool:
    """click.Path() (exists=False) refuses only an existing path it cannot read."""
    try:
        os.stat(path)
    except (OSError, ValueError):
        return True
    return os.access(path, os.R_OK)


def parse(args: Sequence[str]) -> dict[str, object] | None:
    """The parameters click would pass to the ``audit`` command, or None to let click parse."""
    if COMPLETE_VAR in os.environ:
        return None
    values: dict[str, object] = dict(DEFAULTS)
    multiple: dict[str, list[str]] = {}
    paths: list[str] = []
    rest = list(args)
    i = 0
    while i < len(rest):
        arg = rest[i]
        i += 1
        if arg == "--":
            paths.extend(rest[i:])
            break
        if not arg.startswith("-") or arg == "-":
            paths.append(arg)
            continue
        flag, eq, inline = arg.partition("=")
        spec = OPTIONS.get(flag)
        if spec is None:
            return None  # --help, -h, --config, unknown or misspelled: click decides
        name, kind, choices = spec
        if kind == "flag":
            if eq:
                return None
            values[name] = True
            continue
        if eq:
            value = inline
        elif i < len(rest) and not (rest[i].startswith("-") and rest[i] != "-"):
            value = rest[i]
            i += 1
        else:
            return None
        if kind == "multiple":
            multiple.setdefault(name, []).append(value)
        elif kind == "choice":
            if value not in choices:
                return None
            values[name] = value
        elif kind == "float":
            try:
                values[name] = float(value)
            except ValueError:
                return None
        else:
            values[name] = value
    for name, items in multiple.items():
        values[name] = tuple(items)
    if not all(_readable_or_absent(p) for p in paths):
        return None
    values["paths"] = tuple(paths)
    values["pyproject"] = None
    return values
