"""The audit samples in the README and docs are the real output of the command they show.

A sample is a ```console block whose first line is ``$ celery-tune audit ...``.  A line ``...``
elides output; every other line must appear verbatim, in order, and lines not separated by ``...``
must be adjacent in the real output (as must the first/last shown line and the start/end).
"""

from __future__ import annotations

import re
import shlex

import pytest

from tests.conftest import ROOT, run_cli

BLOCK = re.compile(r"```console\n\$ (celery-tune audit[^\n]*)\n(.*?)```", re.S)
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SAMPLES = [
    pytest.param(m.group(1), m.group(2), id=f"{doc.name}:{m.group(1)[:60]}")
    for doc in DOCS
    for m in BLOCK.finditer(doc.read_text(encoding="utf-8"))
]


def segments(shown: str) -> list[list[str]]:
    """The shown lines, split at ``...``; an empty first/last segment means an elided start/end."""
    parts: list[list[str]] = [[]]
    for line in shown.splitlines():
        if line.strip() == "...":
            parts.append([])
        else:
            parts[-1].append(line)
    return parts


def matches(shown: str, real: list[str]) -> bool:
    parts = segments(shown)
    pos = 0
    for i, part in enumerate(parts):
        if not part:
            continue
        last = i == len(parts) - 1
        starts = [pos] if i == 0 else range(pos, len(real) - len(part) + 1)
        for start in starts:
            if real[start : start + len(part)] == part and (
                not last or start + len(part) == len(real)
            ):
                pos = start + len(part)
                break
        else:
            return False
    return True


def test_the_readme_has_an_audit_sample() -> None:
    assert any("README.md" in str(p.id) for p in SAMPLES)


@pytest.mark.parametrize(("command", "shown"), SAMPLES)
def test_sample_is_the_real_output(command: str, shown: str) -> None:
    args = shlex.split(command)[1:]
    proc = run_cli(*args, cwd=ROOT)
    assert proc.returncode in (0, 1), proc.stderr
    real = proc.stdout.splitlines()
    assert matches(shown, real), (
        f"`{command}` does not print what the docs show; its output is:\n" + proc.stdout
    )


def test_matching_is_strict() -> None:
    real = ["a", "b", "c", "d"]
    assert matches("a\nb\n...\nd\n", real)
    assert matches("...\nb\nc\n...\n", real)
    assert not matches("a\nc\n...\n", real)  # a and c are not adjacent
    assert not matches("b\n...\n", real)  # the start is not elided
    assert not matches("...\nc\n", real)  # the end is not elided
    assert not matches("a\n...\nx\n...\n", real)
