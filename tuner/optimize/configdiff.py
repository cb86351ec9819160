"""``config.diff``: the chosen settings as a unified diff against the user's ``--config`` file.

Only lines that change appear, in the file's own form:

* a Python config module: each setting it already assigns is edited in place, keeping the name as
  written (new names, old UPPERCASE names, or Django's ``CELERY_`` namespace); settings it lacks are
  appended at the end in the same form;
* a file holding a ``celery worker`` command line (Procfile, systemd unit, Dockerfile, ...): the
  worker options are edited in place or added to the command, and the settings no worker option
  can carry are listed in the diff's preamble (they belong in the config module).

The file is read statically with the audit's readers; nothing is imported or run.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from tuner.audit.model import CommandLine, SourceFile, Span

# Setting -> the ``celery worker`` option that sets it.
FLAGS = {
    "worker_concurrency": "--concurrency",
    "worker_prefetch_multiplier": "--prefetch-multiplier",
    "worker_max_tasks_per_child": "--max-tasks-per-child",
    "worker_max_memory_per_child": "--max-memory-per-child",
    "worker_pool": "--pool",
    "worker_disable_prefetch": "--disable-prefetch",
}
POOL_ALIASES = ("prefork", "processes", "threads", "solo", "gevent", "eventlet")


def _offsets(lines: Sequence[str], span: Span) -> tuple[int, int]:
    """Character offsets of ``span`` in the text made of ``lines`` (each with its newline)."""
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))
    return starts[span.line - 1] + span.column - 1, starts[span.end_line - 1] + span.end_column - 1


def _edit(text: str, edits: list[tuple[int, int, str]]) -> str:
    for start, end, new in sorted(edits, reverse=True):
        text = text[:start] + new + text[end:]
    return text


def _unified(path: str, old: str, new: str, preamble: Sequence[str] = ()) -> str | None:
    if old == new and not preamble:
        return None
    name = Path(path).name
    diff = difflib.unified_diff(
        old.splitlines(keepends=True),
        new.splitlines(keepends=True),
        fromfile=f"a/{name}",
        tofile=f"b/{name}",
    )
    body = "".join(line if line.endswith("\n") else line + "\n" for line in diff)
    head = "".join(f"# {line}\n" for line in preamble)
    return head + body


def config_diff(
    path: str, settings: Mapping[str, object], command: str | None = None
) -> str | None:
    """The diff that applies ``settings`` (new-style names) to ``path``; None if nothing changes
    or the file cannot be read."""
    from tuner.audit.sources import read_source

    source = read_source(path)
    if source.error is not None:
        return None
    text = Path(path).read_text(encoding="utf-8")
    if source.kind == "python":
        return python_diff(path, text, source, settings)
    commands = [c for c in source.commands if c.subcommand == "worker"]
    if not commands:
        return None
    return command_diff(path, text, commands[0], settings)


def python_diff(
    path: str, text: str, source: SourceFile, settings: Mapping[str, object]
) -> str | None:
    from tuner.audit import catalog
    from tuner.audit.engine import namespace_for
    from tuner.audit.settings import read_settings

    namespace = namespace_for(source, source.namespaces, None)
    found = [s for s in read_settings(source, namespace) if s.name is not None]
    old_style = sum(1 for s in found if s.style == "old") > sum(
        1 for s in found if s.style == "new"
    )

    def written(setting: str) -> str:
        if namespace:
            return namespace.rstrip("_") + "_" + setting.upper()
        if old_style:
            return catalog.old_name(setting) or setting
        return setting

    lines = text.splitlines(keepends=True)
    edits: list[tuple[int, int, str]] = []
    added: list[str] = []
    last = {s.name: s for s in found if s.status in ("valid", "not-read")}
    for setting, value in settings.items():
        s = last.get(setting)
        if s is None:
            added.append(f"{written(setting)} = {value!r}")
            continue
        if s.occ.value.judgeable and s.occ.value.value == value and s.status == "valid":
            continue
        start, end = _offsets(lines, s.occ.span)
        old = text[start:end]
        key = re.escape(s.occ.key)
        match = re.match(rf"(?s)(.*?{key}['\"]?\s*[=:]\s*)(.*)$", old)
        if match is None:
            added.append(f"{written(setting)} = {value!r}")
            continue
        name = s.occ.key if s.status == "valid" else written(setting)
        head = match.group(1).replace(s.occ.key, name, 1)
        edits.append((start, end, f"{head}{value!r}"))
    new = _edit(text, edits)
    if added:
        if new and not new.endswith("\n"):
            new += "\n"
        new += "\n# Chosen by celery-tune optimize (see celeryconfig_tuned.py for the evidence).\n"
        new += "".join(line + "\n" for line in added)
    return _unified(path, text, new)


def _flag_text(setting: str, value: object) -> str:
    flag = FLAGS[setting]
    if setting == "worker_disable_prefetch":
        return flag
    return f"{flag} {value}"


def _removal(text: str, lines: Sequence[str], span: Span) -> tuple[int, int, str]:
    """An edit that removes an option and the space before it."""
    start, end = _offsets(lines, span)
    if start > 0 and text[start - 1] == " ":
        start -= 1
    return start, end, ""


def command_diff(
    path: str, text: str, command: CommandLine, settings: Mapping[str, object]
) -> str | None:
    lines = text.splitlines(keepends=True)
    edits: list[tuple[int, int, str]] = []
    options = {}
    for o in command.options:
        setting = o.setting or ("worker_pool" if o.dest == "pool" else None)
        if setting:
            options[setting] = o
    rest: list[str] = []
    additions: list[str] = []
    for setting, value in settings.items():
        opt = options.get(setting)
        pool_class = setting == "worker_pool" and value not in POOL_ALIASES
        if setting not in FLAGS or pool_class:
            rest.append(f"{setting} = {value!r}")  # -P takes aliases only: a class goes in config
            if opt is not None:
                edits.append(_removal(text, lines, opt.span))
            continue
        if value is None or value is False:
            # Celery's default (no limit, prefetch on): an option on the line would override it.
            if opt is not None:
                edits.append(_removal(text, lines, opt.span))
            continue
        new = _flag_text(setting, value)
        if opt is None:
            additions.append(new)
        elif not (opt.value.judgeable and str(opt.value.value) == str(value)):
            start, end = _offsets(lines, opt.span)
            edits.append((start, end, new))
    if additions:
        _, end = _offsets(lines, command.span)
        edits.append((end, end, " " + " ".join(additions)))
    preamble = []
    if rest:
        preamble = [
            "No worker option sets these: put them in your config module (or merge",
            "celeryconfig_tuned.py as its docstring says):",
            *(f"    {line}" for line in rest),
        ]
    return _unified(path, text, _edit(text, edits), preamble)
