"""Effective worker views: which config a command line runs with, and what wins.

Python sources that reference each other (``config_from_object('celeryconfig')``, a Django
namespace hint, ``-A proj``) form one *project*: what one worker reads.  A command line is paired
with the project it names (``--config``/``-A``) or, when the run holds exactly one project, with
that one.  A command-line option overrides the config, as in Celery.  When a command line has no
known config, anything it does not set is unknown (never assumed to be Celery's default).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from typing import Literal

from tuner.audit import catalog
from tuner.audit.cpus import Cpus
from tuner.audit.model import CommandLine, Option, SourceFile, Span, Value
from tuner.audit.settings import Setting
from tuner.records import dataclass, field


@dataclass(frozen=True)
class Entry:
    """Where an effective setting's value comes from."""

    setting: str
    value: Value
    path: str
    span: Span
    source: Literal["config", "cmdline"]
    flag: str = ""
    # Shell arithmetic over the CPU count (``$(expr 2 \* $(nproc) + 1)``) left unevaluated because
    # the CPU count it would see is unknown: the rules can still judge it relative to that count.
    cpu_formula: str = ""


@dataclass
class Project:
    files: list[SourceFile]
    settings: list[tuple[SourceFile, Setting]] = field(default_factory=list)

    @property
    def anchor(self) -> tuple[str, Span]:
        """Where a finding about a missing setting goes: the Celery() call, else line 1."""
        for source in self.files:
            if source.has_app:
                for occ in source.occurrences:
                    if occ.origin == "Celery()":
                        return source.path, occ.span
        return self.files[0].path, Span(1, 1, 1, 1)


@dataclass
class Worker:
    project: Project | None
    command: CommandLine | None = None
    command_path: str = ""
    entries: dict[str, Entry] = field(default_factory=dict)
    cpus: Cpus | None = None

    @property
    def config_known(self) -> bool:
        return self.project is not None

    def get(self, setting: str) -> Entry | None:
        return self.entries.get(setting)

    def value(self, setting: str) -> Value | None:
        """The effective value, Celery's default when the config is known and silent, else None."""
        entry = self.entries.get(setting)
        if entry is not None:
            return entry.value
        if self.config_known:
            info = catalog.get(setting)
            return Value("known", info.default if info else None, "default")
        return None

    def anchor(self) -> tuple[str, Span]:
        if self.command is not None:
            return self.command_path, self.command.span
        assert self.project is not None
        return self.project.anchor


PACKAGE_FILES = ("__init__", "celery", "settings")


def module_names(path: str) -> set[str]:
    """Every module name a file can be referred to by (``-A proj``, ``--config proj.settings``,
    ``config_from_object('celeryconfig')``): its dotted path suffixes, and for ``proj/celery.py``,
    ``proj/settings.py`` or ``proj/__init__.py`` the package's too."""
    parts = os.path.normpath(path).removesuffix(".py").split(os.sep)
    names = {".".join(parts[i:]) for i in range(len(parts))}
    if parts[-1] in PACKAGE_FILES and len(parts) > 1:
        names |= {".".join(parts[i:-1]) for i in range(len(parts) - 1)}
    return {n for n in names if n}


def _module(ref: str) -> str:
    return ref.strip("'\"").split(":")[0]


def build_projects(sources: list[SourceFile], settings: dict[str, list[Setting]]) -> list[Project]:
    """Group Python sources that reference each other into projects (union-find)."""
    pythons = [s for s in sources if s.kind == "python" and s.error is None]
    parent = list(range(len(pythons)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    index: dict[str, list[int]] = {}
    for j, src in enumerate(pythons):
        for name in module_names(src.path):
            index.setdefault(name, []).append(j)
    django = [j for j, src in enumerate(pythons) if src.django_like]
    for i, src in enumerate(pythons):
        refs = list(src.config_refs) + [h.target or "" for h in src.namespaces]
        linked = [j for r in refs if r for j in index.get(_module(r), [])]
        if src.namespaces:
            linked += django
        for j in linked:
            if j != i:
                parent[find(i)] = find(j)
    groups: dict[int, Project] = {}
    for i, src in enumerate(pythons):
        project = groups.setdefault(find(i), Project(files=[]))
        project.files.append(src)
        project.settings.extend((src, s) for s in settings.get(src.path, []))
    return [p for p in groups.values() if p.settings or any(f.has_app for f in p.files)]


def _config_entries(project: Project) -> dict[str, Entry]:
    entries: dict[str, Entry] = {}
    # Module-level config first; app.conf writes override it, as in Celery.
    ordered = sorted(project.settings, key=lambda item: item[1].occ.origin != "module")
    for src, s in ordered:
        if s.name is None or s.status != "valid":
            continue
        entries[s.name] = Entry(s.name, s.occ.value, src.path, s.occ.span, "config")
    return entries


def _pair(
    command: CommandLine, projects: list[Project], index: dict[str, Project]
) -> Project | None:
    for module in (command.config_module, command.app):
        if module and _module(module) in index:
            return index[_module(module)]
    return projects[0] if len(projects) == 1 else None


def _cmdline_entry(opt: Option, path: str, command: CommandLine, cpus: Cpus | None) -> Entry:
    """An option as an entry.  Shell arithmetic over the CPU count (``-c $(nproc)``) is
    evaluated against the audit's CPU count, unless the command runs in a container with a CPU
    limit: ``nproc`` there counts the node's CPUs, which the file does not say."""
    value = opt.value
    flag = opt.flag
    formula = ""
    if (
        opt.setting == "worker_concurrency"
        and not value.judgeable
        and value.env is None  # a shell's own substitution, not a variable left unset
        and value.text
    ):
        from tuner.audit.readers.arith import cpu_expression

        text = opt.source_text or value.text
        at = cpu_expression(text)
        shown = value.text if text == value.text else f"{value.text} (= {text})"
        if at is not None and cpus is not None and command.cpu_limit is None:
            count = at(max(1, math.ceil(cpus.count)))
            if count is not None:
                value = Value("known", count, text)
                flag = f"{opt.flag} {shown}"
        elif at is not None:
            formula = text
            flag = f"{opt.flag} {shown}"
    return Entry(opt.setting or "", value, path, opt.span, "cmdline", flag, formula)


def build_workers(
    sources: Iterable[SourceFile], projects: list[Project], cpus: Cpus | None
) -> list[Worker]:
    workers: list[Worker] = []
    paired: set[int] = set()
    index: dict[str, Project] = {}
    for known in projects:
        for f in known.files:
            for name in module_names(f.path):
                index.setdefault(name, known)
    for source in sources:
        for command in source.commands:
            if command.subcommand not in ("worker", "multi"):
                continue
            project = _pair(command, projects, index)
            entries = _config_entries(project) if project else {}
            if project is not None:
                paired.add(id(project))
            for opt in command.options:
                if opt.setting:
                    entries[opt.setting] = _cmdline_entry(opt, source.path, command, cpus)
            # The CPU limit written next to the command is the most specific fact there is; one
            # that cannot be read (``cpus: ${LIMIT}``) leaves the worker's CPUs unknown.
            worker_cpus = cpus
            limit = command.cpu_limit
            if limit is not None:
                worker_cpus = None
                if limit.judgeable and isinstance(limit.value, (int, float)):
                    worker_cpus = Cpus(float(limit.value), "the container's CPU limit")
            workers.append(Worker(project, command, source.path, entries, worker_cpus))
    for project in projects:
        if id(project) not in paired:
            workers.append(Worker(project, None, "", _config_entries(project), cpus))
    return workers
