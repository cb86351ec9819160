"""tuner.records.dataclass behaves as dataclasses.dataclass for the options it accepts."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from typing import Any, ClassVar

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


def test_pickle_and_copy_round_trip() -> None:
    import copy
    import pickle

    from tuner.audit.workers import Project
    from tuner.finding import Finding

    span = Span(1, 2, 3, 4)
    for obj in (span, CommandLine(span, "worker", app="proj"), SourceFile("a.py", "python")):
        for clone in (pickle.loads(pickle.dumps(obj)), copy.copy(obj), copy.deepcopy(obj)):
            assert clone == obj and clone is not obj
    assert hash(pickle.loads(pickle.dumps(span))) == hash(span)
    project = Project(files=[SourceFile("a.py", "python")])
    assert pickle.loads(pickle.dumps(project)) == project
    assert Finding.__hash__ is not None  # frozen: usable in sets and as dict keys


def test_unsupported_options_and_mutable_defaults_are_refused() -> None:
    for option in ("slots", "kw_only", "init", "repr", "unsafe_hash", "match_args"):
        with pytest.raises(TypeError):
            records.dataclass(**{option: True})
    with pytest.raises(ValueError, match="mutable default"):

        @records.dataclass
        class Shared:
            items: list[int] = []  # noqa: RUF012

    with pytest.raises(TypeError, match="__post_init__"):

        @records.dataclass
        class Checked:
            x: int

            def __post_init__(self) -> None:
                pass

    with pytest.raises(TypeError, match="ClassVar"):

        @records.dataclass
        class WithClassVar:
            x: ClassVar[int] = 1


def test_frozen_error_is_the_standard_librarys() -> None:
    # `except dataclasses.FrozenInstanceError` catches a record's, whatever was imported first.
    with pytest.raises(dataclasses.FrozenInstanceError):
        Span(1, 1, 1, 1).line = 2  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        records.replace(Span(1, 1, 1, 1), line=2).column = 3  # type: ignore[misc]


def test_every_record_class_matches_dataclasses_fields() -> None:
    # The stdlib view (`__dataclass_fields__`) of every record on the audit path: names, order
    # and defaults as the class declares them.
    import importlib
    import pkgutil

    import tuner.audit

    modules = ["tuner.finding", "tuner.audit.cpus"] + [
        m.name for m in pkgutil.walk_packages(tuner.audit.__path__, "tuner.audit.")
    ]
    seen = 0
    for name in modules:
        module = importlib.import_module(name)
        for value in vars(module).values():
            if isinstance(value, type) and "__record_fields__" in value.__dict__:
                seen += 1
                names = [f.name for f in dataclasses.fields(value)]
                assert names == list(value.__match_args__), value  # type: ignore[attr-defined]
                for f in dataclasses.fields(value):
                    if f.default is not dataclasses.MISSING:
                        assert getattr(value, f.name) == f.default
    assert seen >= 20
