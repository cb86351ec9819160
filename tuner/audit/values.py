"""Resolve a Python expression statically into a :class:`Value`, without running anything.

Understood: literals and containers, constant arithmetic, names bound earlier in the module,
environment reads (their defaults), ``int``/``float``/``str``/``bool`` and a few ``str`` methods,
f-strings, ``%`` and ``str.format`` and ``timedelta(...)``.  Everything else is unknown.  Guards
keep hostile input cheap: bounded recursion, sizes, exponents and integer magnitudes.
"""

from __future__ import annotations

import ast
import datetime
import functools
import itertools
import operator
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final

from tuner.audit.model import Span, Value, ValueKind

MAX_DEPTH: Final = 100  # nesting of the expression evaluated
MAX_LEN: Final = 10_000  # chars of a computed str, items of a computed sequence
MAX_WEIGHT: Final = 100_000  # items plus chars in one container, all levels together
MAX_NEST: Final = 50  # nesting of containers
MAX_INT: Final = 10**18
MAX_FILE_WEIGHT: Final = 4_000_000  # weight of all the values computed for one file
MAX_TEXT: Final = 80
LINE_END: Final = re.compile(r"\r\n|\r|\n")
_NEWLINES: Final = re.compile(r"\s*(?:\r\n|\r|\n)\s*")


class _Unresolved:
    """Stands for a container element that could not be resolved statically."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<unresolved>"

    def __copy__(self) -> _Unresolved:
        return self

    def __deepcopy__(self, memo: object) -> _Unresolved:
        return self

    def __reduce__(self) -> str:
        return "UNRESOLVED"


UNRESOLVED: Final = _Unresolved()
_UNKNOWN: Final = Value("unknown")


def split_lines(text: str) -> list[str]:
    """Lines as ``ast`` counts them: split at ``\\r\\n``, ``\\r`` and ``\\n`` only."""
    lines = LINE_END.split(text)
    if lines[-1] == "":
        lines.pop()
    return lines


class SourceText:
    """A source's lines, mapping ``ast`` positions (UTF-8 byte columns) to character columns."""

    def __init__(self, text: str) -> None:
        self.lines = split_lines(text)
        self._encoded: dict[int, bytes] = {}

    def column(self, lineno: int, byte_col: int) -> int:
        """0-based character offset of a 0-based byte offset on a 1-based line."""
        if not 1 <= lineno <= len(self.lines):
            return byte_col
        line = self.lines[lineno - 1]
        if line.isascii():
            return byte_col
        data = self._encoded.get(lineno)
        if data is None:
            data = self._encoded[lineno] = line.encode("utf-8", "surrogatepass")
        return len(data[:byte_col].decode("utf-8", "replace"))

    def span(self, node: ast.AST) -> Span:
        """1-based lines and character columns, exclusive end."""
        line: int = getattr(node, "lineno", 1)
        end_line: int = getattr(node, "end_lineno", None) or line
        col: int = getattr(node, "col_offset", 0)
        end_col: int = getattr(node, "end_col_offset", None) or 0
        lines = self.lines
        if not (0 < line <= len(lines) and lines[line - 1].isascii()):
            col = self.column(line, col)
        if not (0 < end_line <= len(lines) and lines[end_line - 1].isascii()):
            end_col = self.column(end_line, end_col)
        return Span(line, col + 1, end_line, end_col + 1)

    def segment(self, node: ast.AST) -> str:
        """The exact source text of a node ("" when it has no position)."""
        if getattr(node, "end_lineno", None) is None:
            return ""
        return self.text_of(self.span(node))

    def text_of(self, span: Span) -> str:
        first, last = span.line - 1, span.end_line - 1
        if not 0 <= first <= last < len(self.lines):
            return ""
        if first == last:
            return self.lines[first][span.column - 1 : span.end_column - 1]
        parts = [self.lines[first][span.column - 1 :]]
        parts.extend(self.lines[first + 1 : last])
        parts.append(self.lines[last][: span.end_column - 1])
        return "\n".join(parts)


@functools.lru_cache(maxsize=4)
def source_text(text: str) -> SourceText:
    """The (cached) :class:`SourceText` of a source, shared by the reader and the evaluator."""
    return SourceText(text)


def shorten(text: str, limit: int = MAX_TEXT) -> str:
    """One line, at most ``limit`` characters."""
    if "\n" in text or "\r" in text:
        text = _NEWLINES.sub(" ", text.strip())
    return text if len(text) <= limit else text[: limit - 3] + "..."


class Budget:
    """How much data the values of one file may hold: a file of many statements that each
    build a big value (``a1 = [0] * 10_000`` ...) must not exhaust memory."""

    __slots__ = ("remaining",)

    def __init__(self, total: int = MAX_FILE_WEIGHT) -> None:
        self.remaining = total

    def admit(self, value: Value) -> Value:
        if value.kind == "unknown":
            return value
        self.remaining -= _shape(value.value)[0]
        return value if self.remaining >= 0 else Value("unknown", env=value.env)


def evaluate(
    node: ast.expr, scope: Mapping[str, Value], source: str, budget: Budget | None = None
) -> Value:
    """Resolve ``node`` statically; ``scope`` maps names bound earlier to their values.

    ``budget`` (one per file) bounds the data kept across calls; literals are not charged.
    """
    try:
        result = _Eval(scope).ev(node, 0)
    except RecursionError:  # pragma: no cover - the depth limit should prevent this
        result = _UNKNOWN
    if budget is not None and not isinstance(node, ast.Constant):
        result = budget.admit(result)
    text = shorten(source_text(source).segment(node)) if source else ""
    return Value(result.kind, result.value, text, result.env)


# --- sizes -------------------------------------------------------------------------------------

_Shape = tuple[int, int, bool]  # weight, nesting, holds UNRESOLVED somewhere
_HUGE: Final[_Shape] = (MAX_WEIGHT + 1, MAX_NEST + 1, True)
_CONTAINERS: Final = (list, tuple, set, frozenset, dict)
_FLAT: Final = frozenset({int, float, bool, complex, type(None), datetime.timedelta})
_SHAPES: dict[int, tuple[object, int, int, bool]] = {}  # id -> (the object, kept alive; shape)
_PINNED = [0]  # items held by the objects _SHAPES keeps alive


def _shape(obj: object, level: int = 0) -> _Shape:
    """Total size and nesting of a value (memoised: scope values are measured once)."""
    if obj is UNRESOLVED:
        return 1, 0, True
    if isinstance(obj, (str, bytes)):
        return 1 + len(obj), 0, False
    if not isinstance(obj, _CONTAINERS):
        return 1, 0, False
    cached = _SHAPES.get(id(obj))
    if cached is not None and cached[0] is obj:
        return cached[1], cached[2], cached[3]
    if level > MAX_NEST or len(obj) > MAX_WEIGHT:
        return _HUGE
    items: Iterable[object] = (
        itertools.chain(obj.keys(), obj.values()) if isinstance(obj, dict) else obj
    )
    weight, nest, partial = 1, 0, False
    for item in items:
        kind = type(item)
        if kind in _FLAT:  # the common case, without a call
            weight += 1
            continue
        if kind is str or kind is bytes:
            weight += 1 + len(item)  # type: ignore[arg-type]
        else:
            w, n, p = _shape(item, level + 1)
            weight += w
            nest = max(nest, n)
            partial = partial or p
            if nest >= MAX_NEST:
                return _HUGE
        if weight > MAX_WEIGHT:
            return _HUGE
    if len(_SHAPES) >= 4096 or _PINNED[0] > MAX_WEIGHT * 10:
        _SHAPES.clear()
        _PINNED[0] = 0
    _SHAPES[id(obj)] = (obj, weight, nest + 1, partial)
    _PINNED[0] += len(obj)
    return weight, nest + 1, partial


def _partial(obj: object) -> bool:
    return isinstance(obj, _CONTAINERS) and _shape(obj)[2]


def _admissible(obj: object) -> bool:
    """Whether a computed value is small enough to keep."""
    if isinstance(obj, bool) or obj is None:
        return True
    if isinstance(obj, int):
        return abs(obj) <= MAX_INT
    if isinstance(obj, (float, complex, datetime.timedelta)):
        return True
    if isinstance(obj, (str, bytes)):
        return len(obj) <= MAX_LEN
    if isinstance(obj, _CONTAINERS):
        weight, nest, _ = _shape(obj)
        return len(obj) <= MAX_LEN and weight <= MAX_WEIGHT and nest <= MAX_NEST
    return False


def _merge(parts: Iterable[Value]) -> tuple[ValueKind, str | None]:
    kind: ValueKind = "known"
    env = None
    for part in parts:
        if env is None and part.env is not None:
            env = part.env
        if part.kind == "unknown":
            kind = "unknown"
        elif part.kind == "env" and kind == "known":
            kind = "env"
    return kind, env


def _result(value: object, parts: Iterable[Value]) -> Value:
    """A computed value, with the kind of its inputs (unknown when too big)."""
    kind, env = _merge(parts)
    if kind == "unknown" or not _admissible(value):
        return Value("unknown", env=env)
    return Value(kind, value, env=env)


def _unknown(*parts: Value) -> Value:
    """Unknown, keeping the environment variable involved, if any."""
    env = next((p.env for p in parts if p.env is not None), None)
    return _UNKNOWN if env is None else Value("unknown", env=env)


# --- guards ------------------------------------------------------------------------------------

_PERCENT: Final = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")
_DIGITS: Final = re.compile(r"\d+")


def _small_number(text: str | None) -> bool:
    return text is None or (text != "*" and len(text) <= 6 and int(text) <= MAX_LEN)


def _percent_ok(template: str | bytes) -> bool:
    text = template.decode("latin-1") if isinstance(template, bytes) else template
    return all(
        _small_number(m.group(1)) and _small_number(m.group(2)) for m in _PERCENT.finditer(text)
    )


def _spec_ok(spec: str) -> bool:
    return "{" not in spec and all(_small_number(d) for d in _DIGITS.findall(spec))


def _sized(obj: object) -> int | None:
    return len(obj) if isinstance(obj, (str, bytes, list, tuple)) else None


class _Refused(Exception):
    """An operation the guards do not allow."""


def _check_binop(op: ast.operator, a: object, b: object) -> None:
    if isinstance(op, ast.Mult):
        for seq, n in ((a, b), (b, a)):
            size = _sized(seq)
            if size is not None and isinstance(n, int) and size * max(n, 0) > MAX_LEN:
                raise _Refused
    elif isinstance(op, ast.Add):
        la, lb = _sized(a), _sized(b)
        if la is not None and lb is not None and la + lb > MAX_LEN:
            raise _Refused
    elif isinstance(op, ast.Pow):
        if isinstance(a, int) and isinstance(b, int) and b > 0 and a.bit_length() * b > 128:
            raise _Refused
    elif isinstance(op, ast.LShift):
        if isinstance(b, int) and b > 128:
            raise _Refused
    elif isinstance(op, ast.Mod) and isinstance(a, (str, bytes)) and not _percent_ok(a):
        raise _Refused
    partial_ok = isinstance(op, (ast.Add, ast.Mult)) and isinstance(a, (list, tuple))
    if not partial_ok and (_partial(a) or _partial(b)):
        raise _Refused


def _getitem(container: Any, index: Any) -> object:
    item: object = container[index]
    return item


def _make_timedelta(args: list[Any], kwargs: dict[str, Any]) -> datetime.timedelta:
    return datetime.timedelta(*args, **kwargs)


def _contains(container: object, item: object) -> bool:
    if not isinstance(container, (*_CONTAINERS, str, bytes)):
        raise TypeError("not a container")
    return item in container


_BINOPS: Final[dict[type[ast.operator], Callable[[Any, Any], object]]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
    ast.LShift: operator.lshift,
    ast.RShift: operator.rshift,
    ast.BitOr: operator.or_,
    ast.BitXor: operator.xor,
    ast.BitAnd: operator.and_,
}
_UNARYOPS: Final[dict[type[ast.unaryop], Callable[[Any], object]]] = {
    ast.USub: operator.neg,
    ast.UAdd: operator.pos,
    ast.Invert: operator.invert,
}
_CMPOPS: Final[dict[type[ast.cmpop], Callable[[Any, Any], object]]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.In: lambda a, b: _contains(b, a),
    ast.NotIn: lambda a, b: not _contains(b, a),
    ast.Is: operator.is_,
    ast.IsNot: operator.is_not,
}
_FAILURES: Final = (ArithmeticError, ValueError, TypeError, KeyError, IndexError, _Refused)
_CONVERSIONS: Final[dict[str, Callable[..., object]]] = {
    "int": int,
    "float": float,
    "str": str,
    "bool": bool,
    "list": list,
    "tuple": tuple,
    "set": set,
    "frozenset": frozenset,
}
_TIMEDELTA_ARGS: Final = frozenset(
    {"days", "seconds", "microseconds", "milliseconds", "minutes", "hours", "weeks"}
)
_STR_METHODS: Final = frozenset(
    {
        "lower",
        "upper",
        "casefold",
        "title",
        "capitalize",
        "strip",
        "lstrip",
        "rstrip",
        "split",
        "rsplit",
        "startswith",
        "endswith",
        "replace",
        "join",
        "format",
    }
)


def _convert(v: object, conversion: int) -> object:
    if conversion == ord("r"):
        return repr(v)
    if conversion == ord("s"):
        return str(v)
    if conversion == ord("a"):
        return ascii(v)
    return v


def _format_field(value: object, conversion: int, spec: str) -> str:
    if _partial(value) or not _spec_ok(spec):
        raise _Refused
    return format(_convert(value, conversion), spec)


def _format_fields(template: str) -> Iterable[tuple[str, str | None, str | None, str | None]]:
    """What ``string.Formatter().parse(template)`` returns, without importing :mod:`string`
    (whose Template metaclass compiles a regex at import): its own C parser."""
    import _string  # type: ignore[import-not-found]

    fields: Iterable[tuple[str, str | None, str | None, str | None]]
    fields = _string.formatter_parser(template)
    return fields


def _str_format(template: str, args: list[object], kwargs: dict[str, object]) -> str:
    """``template.format(*args, **kwargs)`` for plain fields only (no attribute or index)."""
    out: list[str] = []
    size = 0
    auto = 0
    for literal, field, spec, conv in _format_fields(template):
        out.append(literal)
        size += len(literal)
        if field is None:
            continue
        value: object
        if field == "":
            value, auto = args[auto], auto + 1
        elif field.isdigit() and len(field) < 6:
            value = args[int(field)]
        elif field.isidentifier():
            value = kwargs[field]
        else:
            raise _Refused
        conversion = ord(conv) if conv else -1
        piece = _format_field(value, conversion, spec or "")
        size += len(piece)
        if size > MAX_LEN:
            raise _Refused
        out.append(piece)
    return "".join(out)


def _str_method(receiver: str, name: str, args: list[object], kwargs: dict[str, object]) -> object:
    if name == "format":
        return _str_format(receiver, args, kwargs)
    if any(_partial(a) for a in [*args, *kwargs.values()]):
        raise _Refused
    if name in ("split", "rsplit") and len(receiver) > MAX_WEIGHT:
        raise _Refused
    if name == "join":
        items = args[0] if len(args) == 1 and not kwargs else None
        if not isinstance(items, (list, tuple)) or not all(isinstance(i, str) for i in items):
            raise _Refused
        if sum(len(i) for i in items) + len(receiver) * len(items) > MAX_LEN:
            raise _Refused
    if name == "replace":
        old, new = [*args, None, None][:2]
        if not isinstance(old, str) or not isinstance(new, str):
            raise _Refused
        count = receiver.count(old) if old else len(receiver) + 1
        if len(receiver) + count * max(len(new) - len(old), 0) > MAX_LEN:
            raise _Refused
    method: Callable[..., object] = getattr(receiver, name)
    return method(*args, **kwargs)


# --- environment reads -------------------------------------------------------------------------


def _is_environ(node: ast.expr) -> bool:
    """``os.environ`` or a bare ``environ``."""
    if isinstance(node, ast.Name):
        return node.id == "environ"
    return (
        isinstance(node, ast.Attribute)
        and node.attr == "environ"
        and isinstance(node.value, ast.Name)
        and node.value.id == "os"
    )


def _is_env_read(func: ast.expr) -> bool:
    """``os.environ.get``, ``os.getenv``, ``environ.setdefault``, ``getenv`` ..."""
    if isinstance(func, ast.Name):
        return func.id == "getenv"
    if not isinstance(func, ast.Attribute):
        return False
    if func.attr in ("get", "setdefault"):
        return _is_environ(func.value)
    return func.attr == "getenv" and isinstance(func.value, ast.Name) and func.value.id == "os"


def _is_timedelta(func: ast.expr) -> bool:
    if isinstance(func, ast.Name):
        return func.id == "timedelta"
    return isinstance(func, ast.Attribute) and func.attr == "timedelta"


# --- the evaluator -----------------------------------------------------------------------------


class _Eval:
    __slots__ = ("scope",)

    def __init__(self, scope: Mapping[str, Value]) -> None:
        self.scope = scope

    def ev(self, node: ast.AST, depth: int) -> Value:
        if depth > MAX_DEPTH:
            return _UNKNOWN
        handler = _HANDLERS.get(type(node))
        if handler is None:
            return _UNKNOWN
        return handler(self, node, depth + 1)

    def constant(self, node: ast.Constant, depth: int) -> Value:
        if node.value is Ellipsis:
            return _UNKNOWN
        return Value("known", node.value)

    def name(self, node: ast.Name, depth: int) -> Value:
        return self.scope.get(node.id, _UNKNOWN)

    def elements(self, nodes: list[ast.expr], depth: int) -> tuple[list[object], list[Value]]:
        """Evaluated elements (UNRESOLVED for unknown ones); raises _Refused for a bad ``*x``."""
        items: list[object] = []
        parts: list[Value] = []
        for element in nodes:
            if isinstance(element, ast.Starred):
                inner = self.ev(element.value, depth)
                if inner.kind == "unknown" or not isinstance(inner.value, (list, tuple)):
                    raise _Refused
                items.extend(inner.value)
                parts.append(inner)
                continue
            v = self.ev(element, depth)
            items.append(UNRESOLVED if v.kind == "unknown" else v.value)
            if v.kind == "env":
                parts.append(v)
            if len(items) > MAX_LEN:
                raise _Refused
        return items, parts

    def sequence(self, node: ast.Tuple | ast.List | ast.Set, depth: int) -> Value:
        try:
            items, parts = self.elements(node.elts, depth)
            value: object = (
                tuple(items)
                if isinstance(node, ast.Tuple)
                else list(items)
                if isinstance(node, ast.List)
                else set(items)
            )
        except _FAILURES:
            return _UNKNOWN
        return _result(value, parts)

    def dict_(self, node: ast.Dict, depth: int) -> Value:
        out: dict[object, object] = {}
        parts: list[Value] = []
        for key_node, value_node in zip(node.keys, node.values, strict=True):
            if key_node is None:
                return _UNKNOWN  # **mapping
            key = self.ev(key_node, depth)
            if key.kind == "unknown" or _partial(key.value):
                return _unknown(key)
            v = self.ev(value_node, depth)
            try:
                out[key.value] = UNRESOLVED if v.kind == "unknown" else v.value
            except TypeError:
                return _UNKNOWN
            parts.extend(p for p in (key, v) if p.kind == "env")
            if len(out) > MAX_LEN:
                return _UNKNOWN
        return _result(out, parts)

    def binop(self, node: ast.BinOp, depth: int) -> Value:
        a = self.ev(node.left, depth)
        b = self.ev(node.right, depth)
        return self.apply_binop(node.op, a, b)

    @staticmethod
    def apply_binop(op: ast.operator, a: Value, b: Value) -> Value:
        func = _BINOPS.get(type(op))
        if func is None or a.kind == "unknown" or b.kind == "unknown":
            return _unknown(a, b)
        try:
            _check_binop(op, a.value, b.value)
            value = func(a.value, b.value)
        except _FAILURES:
            return _unknown(a, b)
        return _result(value, (a, b))

    def unaryop(self, node: ast.UnaryOp, depth: int) -> Value:
        v = self.ev(node.operand, depth)
        if v.kind == "unknown":
            return v
        if isinstance(node.op, ast.Not):
            return _result(not v.value, (v,))
        if _partial(v.value):
            return _unknown(v)
        func = _UNARYOPS[type(node.op)]
        try:
            return _result(func(v.value), (v,))
        except _FAILURES:
            return _unknown(v)

    def boolop(self, node: ast.BoolOp, depth: int) -> Value:
        seen: list[Value] = []
        v = _UNKNOWN
        for operand in node.values:
            v = self.ev(operand, depth)
            seen.append(v)
            if v.kind == "unknown":
                return _unknown(*seen)
            truth = bool(v.value)
            if truth == isinstance(node.op, ast.Or):
                break
        return _result(v.value, seen)

    def ifexp(self, node: ast.IfExp, depth: int) -> Value:
        cond = self.ev(node.test, depth)
        if cond.kind == "unknown":
            return _unknown(cond)
        chosen = self.ev(node.body if cond.value else node.orelse, depth)
        if chosen.kind == "unknown":
            return _unknown(cond, chosen)
        return _result(chosen.value, (cond, chosen))

    def compare(self, node: ast.Compare, depth: int) -> Value:
        left = self.ev(node.left, depth)
        parts = [left]
        for op, right_node in zip(node.ops, node.comparators, strict=True):
            right = self.ev(right_node, depth)
            parts.append(right)
            if left.kind == "unknown" or right.kind == "unknown":
                return _unknown(*parts)
            if _partial(left.value) or _partial(right.value):
                return _unknown(*parts)
            if isinstance(op, (ast.Is, ast.IsNot)) and not any(
                x is None or isinstance(x, bool) for x in (left.value, right.value)
            ):
                return _unknown(*parts)
            try:
                ok = bool(_CMPOPS[type(op)](left.value, right.value))
            except _FAILURES:
                return _unknown(*parts)
            if not ok:
                return _result(False, parts)
            left = right
        return _result(True, parts)

    def joinedstr(self, node: ast.JoinedStr, depth: int) -> Value:
        out: list[str] = []
        parts: list[Value] = []
        size = 0
        for piece in node.values:
            if isinstance(piece, ast.Constant) and isinstance(piece.value, str):
                text = piece.value
            elif isinstance(piece, ast.FormattedValue):
                v = self.ev(piece.value, depth)
                spec = Value("known", "")
                if piece.format_spec is not None:
                    spec = self.ev(piece.format_spec, depth)
                parts.extend((v, spec))
                if v.kind == "unknown" or spec.kind == "unknown" or not isinstance(spec.value, str):
                    return _unknown(*parts)
                try:
                    text = _format_field(v.value, piece.conversion, spec.value)
                except _FAILURES:
                    return _unknown(*parts)
            else:
                return _unknown(*parts)
            size += len(text)
            if size > MAX_LEN:
                return _unknown(*parts)
            out.append(text)
        return _result("".join(out), parts)

    def subscript(self, node: ast.Subscript, depth: int) -> Value:
        if _is_environ(node.value):
            key = self.ev(node.slice, depth)
            env = key.value if key.kind == "known" and isinstance(key.value, str) else None
            return Value("unknown", env=env)
        container = self.ev(node.value, depth)
        if container.kind == "unknown":
            return container
        index: Value
        if isinstance(node.slice, ast.Slice):
            bounds = [
                Value("known", None) if b is None else self.ev(b, depth)
                for b in (node.slice.lower, node.slice.upper, node.slice.step)
            ]
            if any(b.kind == "unknown" for b in bounds):
                return _unknown(container, *bounds)
            kind, env = _merge(bounds)
            index = Value(kind, slice(*(b.value for b in bounds)), env=env)
        else:
            index = self.ev(node.slice, depth)
        if index.kind == "unknown" or not isinstance(container.value, (*_CONTAINERS, str, bytes)):
            return _unknown(container, index)
        try:
            item = _getitem(container.value, index.value)
        except _FAILURES:
            return _unknown(container, index)
        if item is UNRESOLVED:
            return _unknown(container, index)
        return _result(item, (container, index))

    def arguments(self, node: ast.Call, depth: int) -> tuple[list[Value], dict[str, Value]]:
        """Positional and keyword arguments; raises _Refused for ``*args``/``**kwargs``."""
        args: list[Value] = []
        for arg in node.args:
            if isinstance(arg, ast.Starred):
                raise _Refused
            args.append(self.ev(arg, depth))
        kwargs: dict[str, Value] = {}
        for kw in node.keywords:
            if kw.arg is None:
                raise _Refused
            kwargs[kw.arg] = self.ev(kw.value, depth)
        return args, kwargs

    def call(self, node: ast.Call, depth: int) -> Value:
        func = node.func
        try:
            args, kwargs = self.arguments(node, depth)
        except _Refused:
            return _UNKNOWN
        if _is_env_read(func):
            return self.env_read(args, kwargs)
        if _is_timedelta(func):
            return self.timedelta(args, kwargs)
        parts = [*args, *kwargs.values()]
        if any(p.kind == "unknown" for p in parts):
            return _unknown(*parts)
        plain = [a.value for a in args]
        named = {k: v.value for k, v in kwargs.items()}
        try:
            if isinstance(func, ast.Name) and func.id == "dict":
                if len(plain) > 1 or any(_partial(v) for v in plain):
                    raise _Refused
                return _result(dict(*plain, **named), parts)
            if isinstance(func, ast.Name) and func.id in _CONVERSIONS:
                return self.convert(func.id, plain, named, parts)
            if isinstance(func, ast.Attribute) and func.attr in _STR_METHODS:
                receiver = self.ev(func.value, depth)
                if receiver.kind == "unknown" or not isinstance(receiver.value, str):
                    return _unknown(receiver, *parts)
                value = _str_method(receiver.value, func.attr, plain, named)
                return _result(value, (receiver, *parts))
        except _FAILURES:
            return _unknown(*parts)
        return _UNKNOWN

    @staticmethod
    def convert(
        name: str, args: list[object], kwargs: dict[str, object], parts: list[Value]
    ) -> Value:
        if kwargs or len(args) > (2 if name == "int" else 1):
            raise _Refused
        keeps_partial = name in ("bool", "list", "tuple", "set", "frozenset")
        if not keeps_partial and any(_partial(a) for a in args):
            raise _Refused
        first = args[0] if args else None
        iterable = isinstance(first, (*_CONTAINERS, str)) and len(first) <= MAX_LEN
        if name in ("list", "tuple", "set", "frozenset") and args and not iterable:
            raise _Refused
        if isinstance(first, _CONTAINERS) and name == "str" and _shape(first)[0] > MAX_LEN:
            raise _Refused
        return _result(_CONVERSIONS[name](*args), parts)

    @staticmethod
    def env_read(args: list[Value], kwargs: dict[str, Value]) -> Value:
        if not args or len(args) > 2 or set(kwargs) - {"default"} or (len(args) == 2 and kwargs):
            return _UNKNOWN
        key = args[0]
        if key.kind != "known" or not isinstance(key.value, str):
            return _UNKNOWN
        default = args[1] if len(args) == 2 else kwargs.get("default", Value("known", None))
        if default.kind == "unknown":
            return Value("unknown", env=key.value)
        return Value("env", default.value, env=key.value)

    @staticmethod
    def timedelta(args: list[Value], kwargs: dict[str, Value]) -> Value:
        parts = [*args, *kwargs.values()]
        if (
            any(p.kind == "unknown" for p in parts)
            or len(args) > 7
            or set(kwargs) - _TIMEDELTA_ARGS
        ):
            return _unknown(*parts)
        values = [p.value for p in parts]
        if not all(isinstance(v, (int, float)) for v in values):
            return _unknown(*parts)
        try:
            value = _make_timedelta(
                [a.value for a in args], {k: v.value for k, v in kwargs.items()}
            )
        except (OverflowError, ValueError, TypeError):
            return _unknown(*parts)
        return _result(value, parts)


_HANDLERS: Final[dict[type[ast.AST], Callable[[_Eval, Any, int], Value]]] = {
    ast.Constant: _Eval.constant,
    ast.Name: _Eval.name,
    ast.Tuple: _Eval.sequence,
    ast.List: _Eval.sequence,
    ast.Set: _Eval.sequence,
    ast.Dict: _Eval.dict_,
    ast.BinOp: _Eval.binop,
    ast.UnaryOp: _Eval.unaryop,
    ast.BoolOp: _Eval.boolop,
    ast.IfExp: _Eval.ifexp,
    ast.Compare: _Eval.compare,
    ast.JoinedStr: _Eval.joinedstr,
    ast.Subscript: _Eval.subscript,
    ast.Call: _Eval.call,
}


def apply_binop(op: ast.operator, left: Value, right: Value, budget: Budget | None = None) -> Value:
    """``left <op> right`` on resolved values (for augmented assignments)."""
    result = _Eval.apply_binop(op, left, right)
    return result if budget is None else budget.admit(result)
