"""``# celery-tune: ignore[CODE, ...]`` on a line and ``# celery-tune: ignore-file[CODE]`` anywhere.

A suppression that silences nothing is itself reported (CT002), like ruff's RUF100.
"""

from __future__ import annotations

import re

from tuner.audit import rulebook
from tuner.audit.model import Span
from tuner.finding import Finding
from tuner.records import dataclass, field

PATTERN = re.compile(r"#\s*celery-tune:\s*(ignore-file|ignore)\[([^\]]*)\]")


@dataclass
class Suppression:
    line: int
    column: int
    end_column: int
    whole_file: bool
    codes: list[str]
    used: set[str] = field(default_factory=set)


def parse(lines: list[str]) -> list[Suppression]:
    found = []
    for number, text in enumerate(lines, start=1):
        if "celery-tune" not in text:
            continue
        for m in PATTERN.finditer(text):
            codes = [c.strip() for c in m.group(2).split(",") if c.strip()]
            found.append(
                Suppression(number, m.start() + 1, m.end() + 1, m.group(1) == "ignore-file", codes)
            )
    return found


def _matches(code_or_name: str, finding: Finding) -> bool:
    return code_or_name.upper() == finding.code or code_or_name.lower() == finding.name


def apply(
    findings: list[Finding], lines_by_path: dict[str, list[str]]
) -> tuple[list[Finding], list[tuple[str, Suppression, str]]]:
    """Drop suppressed findings.  Returns the kept findings and the unused (path, suppression,
    code) triples."""
    table = {path: parse(lines) for path, lines in lines_by_path.items()}
    kept: list[Finding] = []
    for f in findings:
        silenced = False
        for s in table.get(f.path, ()):
            if not (s.whole_file or f.line <= s.line <= max(f.line, f.end_line)):
                continue
            for code in s.codes:
                if _matches(code, f):
                    s.used.add(code)
                    silenced = True
        if not silenced:
            kept.append(f)
    unused = [
        (path, s, code)
        for path, sups in table.items()
        for s in sups
        for code in s.codes
        if code not in s.used
    ]
    return kept, unused


def unused_message(code: str) -> str:
    if rulebook.lookup(code) is None:
        return f"`{code}` in a suppression is not a celery-tune rule"
    return f"unused suppression: no {code} finding here"


def span_of(s: Suppression) -> Span:
    return Span(s.line, s.column, s.line, s.end_column)
