"""What every check sees, and the one way to report a finding."""

from __future__ import annotations

import re
from collections.abc import Iterator

from tuner.audit import rulebook
from tuner.audit.model import SourceFile, Span, Value
from tuner.audit.options import WORKLOADS
from tuner.audit.settings import Setting, is_test_only
from tuner.audit.workers import Entry, Project, Worker
from tuner.finding import Edit, Finding
from tuner.records import dataclass, field

# What a pool name means for the rules.
POOL_ALIASES = {
    "prefork": "prefork",
    "processes": "prefork",
    "threads": "threads",
    "solo": "solo",
    "gevent": "gevent",
    "eventlet": "eventlet",
    "custom": "custom",
}
SECRET_IN_URL = re.compile(r"(://[^:/@\s]*:)([^@\s]+)@")
# Rules about how a worker runs: they do not apply to a test-only settings module.
WORKER_PREFIXES = ("CT104", "CT105", "CT106", "CT109", "CT112", "CT113", "CT2", "CT3")
# celery-tune's AffinityPool under its path and under the alias it had before (the same class).
PREFORK_CLASSES = (
    "celery.concurrency.prefork:TaskPool",
    "tuner.pools.prefork:AffinityPool",
    "tuner.pools:AffinityPool",
)


def mask(text: str) -> str:
    """Never echo a password written into a URL."""
    return SECRET_IN_URL.sub(r"\1****@", text)


def pool_kind(name: object) -> str:
    """prefork, threads, solo, gevent, eventlet, custom, or invalid."""
    if not isinstance(name, str):
        return "invalid"
    if name in POOL_ALIASES:
        return POOL_ALIASES[name]
    normalized = name.replace(".TaskPool", ":TaskPool").replace(".AffinityPool", ":AffinityPool")
    if normalized in PREFORK_CLASSES:
        return "prefork"
    if ":" in name or "." in name:
        return "custom"
    return "invalid"


@dataclass
class Context:
    sources: list[SourceFile]
    settings: dict[str, list[Setting]]
    namespaces: dict[str, str | None]
    projects: list[Project]
    workers: list[Worker]
    workload: str | None
    findings: list[Finding] = field(default_factory=list)
    # The Celery version the audited project runs (``--celery-version``), when given.
    celery_version: tuple[int, int] | None = None
    _test_only: dict[str, str | None] = field(default_factory=dict)
    _by_path: dict[str, SourceFile] = field(default_factory=dict)

    def test_only(self, path: str) -> str | None:
        """Why the file at ``path`` is a test-only settings module (see ``is_test_only``)."""
        if path not in self._test_only:
            if not self._by_path:  # one index, not a scan per path (1,000 files in one call)
                for s in reversed(self.sources):
                    self._by_path[s.path] = s  # the first source of a path wins, as next() did
            source = self._by_path.get(path)
            self._test_only[path] = (
                None
                if source is None or source.kind != "python"
                else is_test_only(source, self.settings.get(path, []))
            )
        return self._test_only[path]

    def report(
        self,
        code: str,
        path: str,
        span: Span,
        message: str,
        *,
        setting: str | None = None,
        value: Value | str | None = None,
        edit: Edit | None = None,
        extra_edits: tuple[Edit, ...] = (),
    ) -> None:
        rule = rulebook.all_rules()[code]
        if len(rule.workloads) < len(WORKLOADS) and self.workload not in rule.workloads:
            return  # workload-specific advice (the CPU-bound rules) needs the workload stated
        if code.startswith(WORKER_PREFIXES) and self.test_only(path):
            return  # no worker reads a test settings module: worker rules do not apply
        shown = value.describe() if isinstance(value, Value) else value
        if shown is not None:
            shown = mask(shown)
        message = mask(message)
        self.findings.append(
            Finding(
                code=code,
                path=path,
                line=span.line,
                column=span.column,
                message=message,
                name=rule.name,
                severity=rule.severity,
                category=rule.category,
                end_line=span.end_line,
                end_column=span.end_column,
                setting=setting,
                value=shown,
                fix=rule.fix,
                url=rule.url,
                edit=edit,
                extra_edits=extra_edits if edit is not None else (),
            )
        )

    def report_entry(self, code: str, entry: Entry, message: str) -> None:
        self.report(code, entry.path, entry.span, message, setting=entry.setting, value=entry.value)

    def entries(self) -> Iterator[Entry]:
        """Every place a valid setting gets a value: config files and command-line options."""
        for source in self.sources:
            for s in self.settings.get(source.path, []):
                if s.name is not None and s.status == "valid":
                    yield Entry(s.name, s.occ.value, source.path, s.occ.span, "config")
            for command in source.commands:
                for opt in command.options:
                    if opt.setting:
                        yield Entry(
                            opt.setting, opt.value, source.path, opt.span, "cmdline", opt.flag
                        )


def where(entry: Entry) -> str:
    """How to name a setting in a message: the flag for a command line, else the setting."""
    return entry.flag if entry.source == "cmdline" else entry.setting


def elsewhere(entry: Entry | None, here: str) -> str:
    """`` set at Procfile:2`` when a finding at ``here`` depends on an entry in another file,
    else ``""``: a reader of one file must be able to find the other half of the problem."""
    if entry is None or entry.path == here:
        return ""
    return f" set at {entry.path}:{entry.span.line}"
