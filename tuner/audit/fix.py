"""Apply safe fixes in place, or show them as a unified diff.

Fixes are exact-span replacements of a setting's name, so comments, quotes and formatting stay as
they were.  Old-name renames (CT501) are one finding per module, fixed as a whole (as
``celery upgrade settings`` does): renaming only some of them would mix old and new names, which
Celery refuses to start with.
"""

from __future__ import annotations

import difflib
import io
import os
import re
import tempfile
import tokenize
from collections import defaultdict
from collections.abc import Sequence

from tuner.audit.sources import decode, is_python
from tuner.finding import Edit, Finding
from tuner.records import dataclass

LINE_END = re.compile(r"\r\n|\r|\n")


@dataclass(frozen=True)
class FileFix:
    path: str
    before: str
    after: str
    applied: tuple[Finding, ...]
    encoding: str = "utf-8"


def _offsets(text: str) -> list[int]:
    starts = [0]
    starts.extend(m.end() for m in LINE_END.finditer(text))
    return starts


def _apply(text: str, edits: Sequence[Edit]) -> str:
    starts = _offsets(text)
    out, last = [], 0
    for e in sorted(edits):
        begin = starts[e.line - 1] + e.column - 1
        end = starts[e.end_line - 1] + e.end_column - 1
        if begin < last:
            continue  # overlapping edit: keep the first
        out.append(text[last:begin])
        out.append(e.replacement)
        last = end
    out.append(text[last:])
    return "".join(out)


def plan(findings: Sequence[Finding], all_findings: Sequence[Finding]) -> list[FileFix]:
    """What fixing ``findings`` would change.  ``all_findings`` (before suppression) is kept for
    callers; each finding's edits are applied together or not at all."""
    by_path: dict[str, list[Finding]] = defaultdict(list)
    for f in findings:
        if f.edit is not None:
            by_path[f.path].append(f)
    fixes = []
    for path, chosen in sorted(by_path.items()):
        if not chosen:
            continue
        with open(path, "rb") as fh:
            data = fh.read()
        text, problem = decode(path, data)
        if text is None or problem is not None:
            continue
        encoding = "utf-8"
        if is_python(path):
            encoding = tokenize.detect_encoding(io.BytesIO(data).readline)[0]
        edits = [e for f in chosen if f.edit is not None for e in (f.edit, *f.extra_edits)]
        after = _apply(text, edits)
        if after != text:
            fixes.append(FileFix(path, text, after, tuple(chosen), encoding))
    return fixes


def diff(fixes: Sequence[FileFix]) -> str:
    chunks: list[str] = []
    for fix in fixes:
        chunks.extend(
            difflib.unified_diff(
                fix.before.splitlines(keepends=True),
                fix.after.splitlines(keepends=True),
                fromfile=f"a/{fix.path}",
                tofile=f"b/{fix.path}",
            )
        )
    return "".join(chunks)


def write(fix: FileFix) -> None:
    """Atomically replace the file, keeping its mode; nothing is lost if this fails midway."""
    folder = os.path.dirname(os.path.abspath(fix.path))
    mode = os.stat(fix.path).st_mode
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".celery-tune-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding=fix.encoding, newline="") as fh:
            fh.write(fix.after)
        os.chmod(tmp, mode & 0o7777)
        os.replace(tmp, fix.path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
