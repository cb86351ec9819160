"""Shared helpers for the reader tests: what a span covers, and span sanity."""

from __future__ import annotations

import re

from tuner.audit.model import CommandLine, Option, SourceFile, Span

LINE_END = re.compile(r"\r\n|\r|\n")


def lines_of(text: str) -> list[str]:
    return LINE_END.split(text)


def under(text: str, span: Span) -> str:
    """The text a span covers."""
    starts = [0]
    for m in LINE_END.finditer(text):
        starts.append(m.end())
    begin = starts[span.line - 1] + span.column - 1
    end = starts[span.end_line - 1] + span.end_column - 1
    return text[begin:end]


def assert_within(text: str, span: Span) -> None:
    lines = lines_of(text)
    assert 1 <= span.line <= len(lines), span
    assert 1 <= span.end_line <= len(lines), span
    assert 1 <= span.column <= len(lines[span.line - 1]) + 1, span
    assert 1 <= span.end_column <= len(lines[span.end_line - 1]) + 1, span
    assert (span.line, span.column) <= (span.end_line, span.end_column), span


def all_spans(commands: list[CommandLine]) -> list[Span]:
    spans = []
    for c in commands:
        spans.append(c.span)
        spans += [o.span for o in (*c.options, *c.misplaced, *c.unknown)]
    return spans


def assert_source_ok(text: str, source: SourceFile) -> None:
    for span in all_spans(source.commands):
        assert_within(text, span)
    if source.error is not None:
        lines = lines_of(text)
        assert 1 <= source.error.line <= len(lines)
        assert 1 <= source.error.column <= len(lines[source.error.line - 1]) + 1


def option(cmd: CommandLine, flag: str) -> Option:
    found = [o for o in (*cmd.options, *cmd.misplaced, *cmd.unknown) if o.flag == flag]
    assert found, f"no {flag} in {cmd}"
    return found[-1]


def values(cmd: CommandLine) -> dict[str, object]:
    """dest -> parsed value of the options (the last occurrence wins)."""
    return {o.dest: o.value.value for o in cmd.options}
