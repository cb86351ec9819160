"""Run the audit: read every path, interpret, check, filter, suppress."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

from tuner.audit import rulebook, suppress
from tuner.audit.checks import ALL
from tuner.audit.context import Context
from tuner.audit.cpus import Cpus
from tuner.audit.model import NamespaceHint, SourceFile, Span
from tuner.audit.options import AuditOptions
from tuner.audit.settings import infer_namespace, read_settings
from tuner.audit.sources import read_source
from tuner.audit.workers import build_projects, build_workers
from tuner.finding import Finding
from tuner.records import dataclass, field


@dataclass
class AuditResult:
    findings: list[Finding]
    sources: list[SourceFile]
    input_errors: int = 0
    texts: dict[str, list[str]] = field(default_factory=dict)
    # Before suppression comments: what --fix needs to keep old-name renames all-or-nothing.
    unsuppressed: list[Finding] = field(default_factory=list)


def _module_of(path: str) -> str:
    return os.path.normpath(path).removesuffix(".py").replace(os.sep, ".")


def namespace_for(
    source: SourceFile,
    hints: list[NamespaceHint],
    explicit: str | None,
    plain_refs: set[str] | None = None,
) -> str | None:
    if source.kind != "python" or source.error is not None:
        return None
    if explicit:
        return None if source.has_app and not source.django_like else explicit
    module = _module_of(source.path)
    for hint in hints:
        target = (hint.target or "").strip("'\"").split(":")[0]
        if target and (module == target or module.endswith("." + target)):
            return hint.namespace
        if target.startswith("django.conf") and source.django_like:
            return hint.namespace
    return infer_namespace(source, hints, plain_refs or set())


def plain_refs_of(sources: Sequence[SourceFile]) -> set[str]:
    """What the run loads with ``config_from_object`` and no namespace."""
    namespaced = {h.target for s in sources for h in s.namespaces if h.target}
    return {r for s in sources for r in s.config_refs} - namespaced


def _input_finding(ctx: Context, source: SourceFile) -> None:
    if source.error is not None:
        e = source.error
        ctx.report("CT001", source.path, Span(e.line, e.column, e.line, e.column), e.message)
    elif source.skipped is not None:
        e = source.skipped
        ctx.report("CT004", source.path, Span(e.line, e.column, e.line, e.column), e.message)
    elif not any(line.strip() for line in source.lines):
        ctx.report("CT003", source.path, Span(1, 1, 1, 1), "empty file: nothing to audit")


# Rules that compare with the target's CPU count (--cpus, [tool.celery-tune] cpus, a container
# limit), which the audit never takes from the machine it runs on.
NEEDS_TARGET_CPUS = ("CT201", "CT206")


def run(
    paths: Sequence[str], options: AuditOptions, data: Mapping[str, bytes] | None = None
) -> AuditResult:
    """Audit ``paths``; ``data`` holds the bytes of those already read (walk, stdin)."""
    known = data or {}
    sources = [read_source(p, known.get(p)) for p in paths]
    hints = [h for s in sources for h in s.namespaces]
    plain = plain_refs_of(sources)
    namespaces = {s.path: namespace_for(s, hints, options.namespace, plain) for s in sources}
    settings = {
        s.path: read_settings(s, namespaces[s.path])
        for s in sources
        if s.kind == "python" and s.error is None
    }
    projects = build_projects(sources, settings)
    # The target's CPUs are what the user states; the machine running the audit (a CI runner, a
    # laptop) says nothing about production, so without --cpus CPU comparisons need a CPU limit
    # written next to the command.
    cpus = Cpus(options.cpus, "from --cpus or [tool.celery-tune]") if options.cpus else None
    workers = build_workers(sources, projects, cpus)
    ctx = Context(sources, settings, namespaces, projects, workers, options.workload)
    ctx.celery_version = options.target_version
    for source in sources:
        _input_finding(ctx, source)
    for check in ALL:
        check(ctx)

    unique: dict[tuple[str, str, int, int], Finding] = {}
    for f in ctx.findings:
        unique.setdefault((f.code, f.path, f.line, f.column), f)
    findings = [f for f in unique.values() if options.enabled(f.code, f.name)]
    texts = {s.path: s.lines for s in sources}
    selected = list(findings)
    findings, unused = suppress.apply(findings, texts, {s.path: s.kind for s in sources})
    unused_ctx = Context(sources, settings, namespaces, projects, workers, options.workload)
    for path, sup, code in unused:
        rule = rulebook.lookup(code)
        if rule is not None and not options.enabled(rule.code, rule.name):
            continue  # a rule not selected cannot be matched: its suppression is not unused
        if rule is not None and rule.code in NEEDS_TARGET_CPUS and options.cpus is None:
            # Judged only against the target's CPUs: without --cpus the suppression (one that
            # `celery-tune optimize` writes, say) may be needed on the target, so not unused.
            continue
        unused_ctx.report("CT002", path, suppress.span_of(sup), suppress.unused_message(code))
    findings += [f for f in unused_ctx.findings if options.enabled(f.code, f.name)]
    findings.sort(key=lambda f: f.sort_key)
    errors = sum(1 for s in sources if s.error is not None)
    return AuditResult(findings, sources, errors, texts, selected)


def rule_count() -> int:
    return len(rulebook.all_rules())
