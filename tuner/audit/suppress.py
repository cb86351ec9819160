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


def parse(lines: list[str], kind: str = "python") -> list[Suppression]:
    """The suppressions in real comments only: for Python the tokenizer's COMMENT tokens (never a
    docstring or a string that mentions the syntax), for systemd units whole-line ``#``/``;``
    comments (systemd has no inline comments), and for shell-like files (shell scripts,
    Procfiles, Dockerfiles, YAML, other text) a ``#`` that starts a word outside quotes."""
    if not any("celery-tune" in text for text in lines):
        return []
    if kind == "python":
        comments = _python_comments(lines)
        if comments is None:  # not tokenizable: the shell-like reading is the closest
            comments = _shell_comments(lines)
    elif kind == "systemd":
        comments = [
            (number, len(text) - len(text.lstrip()), text.lstrip())
            for number, text in enumerate(lines, start=1)
            if text.lstrip().startswith(("#", ";"))
        ]
    else:
        comments = _shell_comments(lines, yaml=kind in ("compose", "kubernetes"))
    found = []
    for number, offset, comment in comments:
        if "celery-tune" not in comment:
            continue
        for m in PATTERN.finditer(comment):
            codes = [c.strip() for c in m.group(2).split(",") if c.strip()]
            start, end = offset + m.start() + 1, offset + m.end() + 1
            found.append(Suppression(number, start, end, m.group(1) == "ignore-file", codes))
    return found


Comment = tuple[int, int, str]  # line number, 0-based column, the comment's text from its ``#``


def _python_comments(lines: list[str]) -> list[Comment] | None:
    import io
    import tokenize

    text = "".join(line if line.endswith("\n") else line + "\n" for line in lines)
    try:
        return [
            (tok.start[0], tok.start[1], tok.string)
            for tok in tokenize.generate_tokens(io.StringIO(text).readline)
            if tok.type == tokenize.COMMENT
        ]
    except (tokenize.TokenError, SyntaxError):
        return None


def _shell_comments(lines: list[str], yaml: bool = False) -> list[Comment]:
    """A ``#`` at the start of a word, outside single and double quotes and not escaped, starts a
    comment (POSIX shell).  In YAML a quote only opens a scalar where one starts (``key: '...'``,
    ``- "..."``), so ``it's`` in a plain scalar is no quote.  Each line is read on its own: a
    quote left open by a stray apostrophe must not hide the comments of every line after it."""
    found: list[Comment] = []
    for number, text in enumerate(lines, start=1):
        quote = ""
        i = 0
        while i < len(text):
            ch = text[i]
            if quote:
                if ch == quote and quote == "'" and yaml and text[i + 1 : i + 2] == "'":
                    i += 1  # YAML's '' inside single quotes
                elif ch == quote:
                    quote = ""
                elif ch == "\\" and quote == '"':
                    i += 1
            elif ch == "\\" and not yaml:
                i += 1
            elif ch in "'\"" and (
                not yaml or text[:i].rstrip()[-1:] in ("", ":", "-", "[", "{", ",")
            ):
                quote = ch
            elif ch == "#" and (i == 0 or text[i - 1] in " \t"):
                found.append((number, i, text[i:].rstrip("\r\n")))
                break
            i += 1
    return found


def _matches(code_or_name: str, finding: Finding) -> bool:
    return code_or_name.upper() == finding.code or code_or_name.lower() == finding.name


def apply(
    findings: list[Finding], lines_by_path: dict[str, list[str]], kinds: dict[str, str]
) -> tuple[list[Finding], list[tuple[str, Suppression, str]]]:
    """Drop suppressed findings (``kinds`` maps a path to its file kind, which says what a
    comment is there).  Returns the kept findings and the unused (path, suppression,
    code) triples."""
    table = {path: parse(lines, kinds.get(path, "text")) for path, lines in lines_by_path.items()}
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
