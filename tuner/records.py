"""Dataclasses that cost little to define: the audit's start-up path defines two dozen of them.

``dataclasses.dataclass`` compiles five or six small functions per class with ``exec`` and needs
``inspect``; on this project's audit path that was about a quarter of a one-file run's CPU time.
:func:`dataclass` here builds the same methods (``__init__``, ``__repr__``, ``__eq__``, the order
methods, ``__hash__`` and the frozen ``__setattr__``/``__delattr__``) from one ``exec`` per class,
with the same semantics as the standard library for the options it accepts (``frozen``, ``eq``,
``order``; :func:`field` with ``default`` or ``default_factory``).  Anything else is refused.

Measured (the project prefers the standard library unless a hand-written equivalent pays for
itself): the one-file audit (``audit --cpus 2 sample_configs/production_celeryconfig.py``), 21
interleaved runs each on the shared 2-core machine (load average 14-16), this module against the
same tree with ``tuner/records.py`` replaced by ``from dataclasses import dataclass, field,
replace``: CPU median 60.2 ms against 75.1 ms (min 50.8 against 62.3), wall median 216 ms against
269 ms; ``python -c pass`` 11.8 ms CPU.  About 15 ms, a quarter of the run, so it stays.  (Script:
interleaved ``subprocess`` runs, CPU = the child's user + sys from ``getrusage``.)

Refused, as not needed: ``slots``, ``kw_only``, ``init``/``repr`` switches, ``unsafe_hash``,
``ClassVar``/``InitVar`` fields, ``__post_init__``; a mutable default is refused as in
:mod:`dataclasses`.  Pickling and :mod:`copy` work as for any class (no ``__setattr__`` involved).

The classes stay real dataclasses to the standard library: ``dataclasses.fields``, ``replace``,
``asdict`` and ``is_dataclass`` work (``__dataclass_fields__`` is built, importing
:mod:`dataclasses`, the first time one of them asks).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar, overload

if TYPE_CHECKING:
    from typing_extensions import dataclass_transform
else:

    def dataclass_transform(**_: object) -> Callable[[Any], Any]:
        return lambda f: f


T = TypeVar("T")


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


class FrozenInstanceError(AttributeError):
    """Assigning to a field of a frozen record (as ``dataclasses.FrozenInstanceError``)."""


class Field:
    __slots__ = ("default", "default_factory", "name")

    def __init__(self, default: Any, default_factory: Any) -> None:
        self.default = default
        self.default_factory = default_factory
        self.name = ""


def field(*, default: Any = MISSING, default_factory: Any = MISSING) -> Any:
    if default is not MISSING and default_factory is not MISSING:
        raise ValueError("cannot specify both default and default_factory")
    return Field(default, default_factory)


def _frozen() -> type[AttributeError]:
    """The standard library's FrozenInstanceError when it is loaded, so ``except`` clauses
    written for dataclasses catch ours too."""
    module = sys.modules.get("dataclasses")
    return module.FrozenInstanceError if module is not None else FrozenInstanceError


class _StdlibFields:
    """``__dataclass_fields__`` on demand: real :class:`dataclasses.Field` objects."""

    def __get__(self, obj: object, owner: type) -> dict[str, Any]:
        import dataclasses

        fields: dict[str, Any] = {}
        for f in owner.__record_fields__:  # type: ignore[attr-defined]
            std: Any = dataclasses.field(
                default=dataclasses.MISSING if f.default is MISSING else f.default,
                default_factory=(
                    dataclasses.MISSING if f.default_factory is MISSING else f.default_factory
                ),
            )
            std.name = f.name
            std._field_type = dataclasses._FIELD  # type: ignore[attr-defined]
            fields[f.name] = std
        owner.__dataclass_fields__ = fields  # type: ignore[attr-defined]
        return fields


def _build(cls: type, frozen: bool, eq: bool, order: bool) -> type:
    if hasattr(cls, "__post_init__"):
        raise TypeError(f"{cls.__name__}: __post_init__ is not supported by tuner.records")
    fields: list[Field] = []
    for base in reversed(cls.__mro__[1:]):
        fields.extend(getattr(base, "__record_fields__", ()))
    annotations = cls.__dict__.get("__annotations__")  # noqa: RUF063
    if annotations is None and "__annotate__" in cls.__dict__:  # pragma: no cover - 3.14+
        annotations = cls.__annotations__  # lazily evaluated annotations (PEP 649)
    for name, annotation in (annotations or {}).items():
        if "ClassVar" in str(annotation) or "InitVar" in str(annotation):
            raise TypeError(f"{cls.__name__}.{name}: ClassVar/InitVar are not supported")
        value = cls.__dict__.get(name, MISSING)
        f = value if isinstance(value, Field) else Field(value, MISSING)
        f.name = name
        if f.default is not MISSING and f.default.__class__.__hash__ is None:
            # as dataclasses: one list/dict/set shared by every instance is a bug
            raise ValueError(
                f"mutable default {type(f.default)} for field {name} is not allowed: "
                "use default_factory"
            )
        fields = [g for g in fields if g.name != name] + [f]
        if isinstance(value, Field):
            if f.default is MISSING:
                delattr(cls, name)
            else:
                setattr(cls, name, f.default)
    names = [f.name for f in fields]
    seen_default = False
    params, body, env = [], [], {"MISSING": MISSING, "__object_setattr": object.__setattr__}
    for f in fields:
        if f.default_factory is not MISSING:
            env[f"__factory_{f.name}"] = f.default_factory
            params.append(f"{f.name}=MISSING")
            value = f"__factory_{f.name}() if {f.name} is MISSING else {f.name}"
            seen_default = True
        elif f.default is not MISSING:
            env[f"__default_{f.name}"] = f.default
            params.append(f"{f.name}=__default_{f.name}")
            value = f.name
            seen_default = True
        else:
            if seen_default:
                raise TypeError(f"non-default argument {f.name!r} follows default argument")
            params.append(f.name)
            value = f.name
        if frozen:
            body.append(f"    __object_setattr(self, {f.name!r}, {value})")
        else:
            body.append(f"    self.{f.name} = {value}")
    own = tuple(f"self.{n}" for n in names)
    other = tuple(f"other.{n}" for n in names)
    mine = f"({', '.join(own)}{',' if len(own) == 1 else ''})"
    theirs = f"({', '.join(other)}{',' if len(other) == 1 else ''})"
    src = [f"def __init__(self, {', '.join(params)}):", *(body or ["    pass"])]
    shown = ", ".join(f"{n}={{self.{n}!r}}" for n in names)
    src += [
        "def __repr__(self):",
        f"    return f'{{self.__class__.__qualname__}}({shown})'",
    ]
    if eq:
        src += [
            "def __eq__(self, other):",
            "    if other.__class__ is self.__class__:",
            f"        return {mine} == {theirs}",
            "    return NotImplemented",
        ]
    if order:
        for op, sym in (("lt", "<"), ("le", "<="), ("gt", ">"), ("ge", ">=")):
            src += [
                f"def __{op}__(self, other):",
                "    if other.__class__ is self.__class__:",
                f"        return {mine} {sym} {theirs}",
                "    return NotImplemented",
            ]
    if frozen and eq:
        src += ["def __hash__(self):", f"    return hash({mine})"]
    if frozen:
        env["__frozen"] = _frozen
        src += [
            "def __setattr__(self, name, value):",
            "    raise __frozen()(f'cannot assign to field {name!r}')",
            "def __delattr__(self, name):",
            "    raise __frozen()(f'cannot delete field {name!r}')",
        ]
    namespace: dict[str, Any] = {}
    exec("\n".join(src), env, namespace)
    for name, fn in namespace.items():
        if name in ("__eq__", "__hash__") and name in cls.__dict__:
            continue  # the class defines its own
        fn.__qualname__ = f"{cls.__qualname__}.{name}"
        setattr(cls, name, fn)
    if eq and not frozen and "__hash__" not in cls.__dict__:
        cls.__hash__ = None  # type: ignore[assignment]
    cls.__match_args__ = tuple(names)  # type: ignore[misc,attr-defined]
    cls.__record_fields__ = tuple(fields)  # type: ignore[attr-defined]
    cls.__record_frozen__ = frozen  # type: ignore[attr-defined]
    cls.__record_order__ = order  # type: ignore[attr-defined]
    cls.__dataclass_fields__ = _StdlibFields()  # type: ignore[attr-defined]
    return cls


@overload
def dataclass(cls: type[T], /) -> type[T]: ...


@overload
def dataclass(
    *, frozen: bool = False, eq: bool = True, order: bool = False
) -> Callable[[type[T]], type[T]]: ...


@dataclass_transform(field_specifiers=(field,))
def dataclass(
    cls: type[T] | None = None, /, *, frozen: bool = False, eq: bool = True, order: bool = False
) -> type[T] | Callable[[type[T]], type[T]]:
    """Like :func:`dataclasses.dataclass` with these options only."""

    def wrap(c: type[T]) -> type[T]:
        return _build(c, frozen, eq, order)

    return wrap if cls is None else wrap(cls)


def replace(obj: T, /, **changes: Any) -> T:
    """A copy of ``obj`` with ``changes`` (as :func:`dataclasses.replace`)."""
    record_fields = getattr(type(obj), "__record_fields__", None)
    if record_fields is None:
        import dataclasses

        return dataclasses.replace(obj, **changes)  # type: ignore[type-var]
    for f in record_fields:
        if f.name not in changes:
            changes[f.name] = getattr(obj, f.name)
    return type(obj)(**changes)
