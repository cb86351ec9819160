"""tuner.records.dataclass behaves as dataclasses.dataclass for the options it accepts."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from typing import Any

import pytest

from tests.conftest import ROOT
from tuner import records
from tuner.audit.model import CommandLine, SourceFile, Span
from tuner.finding import Edit


def _pair(**options: bool) -> tuple[Any, Any]:
    def make(decorator: Any, make_field: Any) -> Any:
        @decorator(**options)
        class Point:
            """A point."""

            x: int
            y: int = 2
            tags: tuple[str, ...] = make_field(default_factory=tuple)

            @property
            def total(self) -> int:
                return self.x + self.y

        return Point

    return make(dataclasses.dataclass, dataclasses.field), make(records.dataclass, records.field)


OPTIONS = [{}, {"frozen": True}, {"order": True}, {"frozen": True, "order": True}, {"eq": False}]


@pytest.mark.parametrize("options", OPTIONS)
def test_same_behaviour_as_dataclasses(options: dict[str, bool]) -> None:
    std, rec = _pair(**options)
    for args in [(1,), (1, 5), (3, 2, ("a",))]:
        a, b = std(*args), rec(*args)
        assert repr(a) == repr(b)
        assert a.total == b.total and a.tags == b.tags
        assert (a == std(*args)) == (b == rec(*args))
        assert (a == std(9)) == (b == rec(9))
        assert (a == 1) == (b == 1)
        assert std.__hash__ is None if std.__hash__ is None else rec.__hash__ is not None
        if std.__hash__ is not None and options.get("frozen"):
            assert hash(a) == hash(std(*args)) and hash(b) == hash(rec(*args))
        if options.get("order"):
            assert (a < std(2)) == (b < rec(2)) and (a >= std(0)) == (b >= rec(0))
        else:
            with pytest.raises(TypeError):
                _ = b < rec(2)
        if options.get("frozen"):
            with pytest.raises(dataclasses.FrozenInstanceError):
                b.x = 5
            with pytest.raises(AttributeError):
                del b.x
        else:
            b.x = 5
            assert b.x == 5
    assert rec.__match_args__ == std.__match_args__
    assert rec.y == std.y == 2
    assert not hasattr(rec, "tags") and not hasattr(std, "tags")


def test_missing_argument_and_field_order() -> None:
    _, rec = _pair()
    with pytest.raises(TypeError):
        rec()
    with pytest.raises(TypeError, match="follows default"):

        @records.dataclass
        class Bad:
            a: int = 1
            b: int  # type: ignore[misc]


def test_stdlib_functions_work_on_records() -> None:
    span = Span(1, 2, 3, 4)
    assert dataclasses.is_dataclass(span)
    assert [f.name for f in dataclasses.fields(span)] == [
        "line",
        "column",
        "end_line",
        "end_column",
    ]
    assert dataclasses.asdict(span) == {"line": 1, "column": 2, "end_line": 3, "end_column": 4}
    moved = dataclasses.replace(span, line=7)
    assert moved == Span(7, 2, 3, 4) and records.replace(span, line=7) == moved
    cmd = CommandLine(span, "worker")
    assert dataclasses.replace(cmd, app="proj").app == "proj"
    src = SourceFile("a.py", "python")
    assert src.lines == [] and src.lines is not SourceFile("b.py", "python").lines
    assert sorted([Edit(2, 1, 2, 3, "x"), Edit(1, 5, 1, 6, "y")])[0].line == 1


def test_the_audit_path_does_not_import_dataclasses() -> None:
    script = (
        "import sys\n"
        "from tuner.main import main\n"
        "main(['audit', '--cpus', '2', sys.argv[1], sys.argv[2]])\n"
        "print(sorted(m for m in ('dataclasses', 'inspect', 'click') if m in sys.modules),"
        " file=sys.stderr)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script, *(str(ROOT / "sample_configs" / n) for n in
         ("production_celeryconfig.py", "Procfile"))],
        capture_output=True, text=True, cwd=ROOT / "sample_configs",
    )  # fmt: skip
    assert proc.stderr.strip().splitlines()[-1] == "[]", proc.stderr
