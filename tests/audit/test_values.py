"""Static evaluation of expressions: what resolves, what stays unknown, and the guards."""

from __future__ import annotations

import ast
import copy
import datetime
import pickle
import tracemalloc

import pytest

from tuner.audit.model import Value
from tuner.audit.values import MAX_DEPTH, MAX_NEST, UNRESOLVED, Budget, evaluate, shorten


def ev(src: str, scope: dict[str, Value] | None = None) -> Value:
    node = ast.parse(src, mode="eval").body
    return evaluate(node, scope or {}, src)


def known(src: str, scope: dict[str, Value] | None = None) -> object:
    v = ev(src, scope)
    assert v.kind == "known", (src, v)
    return v.value


def is_unknown(src: str, scope: dict[str, Value] | None = None) -> bool:
    return ev(src, scope).kind == "unknown"


# --- literals and containers -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("src", "expected"),
    [
        ("4", 4),
        ("-4", -4),
        ("+4", 4),
        ("1.5", 1.5),
        ("-0.25", -0.25),
        ("'json'", "json"),
        ("b'raw'", b"raw"),
        ("None", None),
        ("True", True),
        ("False", False),
        ("(1, 2)", (1, 2)),
        ("[1, 'a']", [1, "a"]),
        ("{'json'}", {"json"}),
        ("{'a': 1, 'b': [2, 3]}", {"a": 1, "b": [2, 3]}),
        ("dict(a=1, b='x')", {"a": 1, "b": "x"}),
        ("dict()", {}),
        ("[*[1, 2], 3]", [1, 2, 3]),
        ("()", ()),
    ],
)
def test_literals(src: str, expected: object) -> None:
    value = known(src)
    assert value == expected
    assert type(value) is type(expected)


def test_dict_with_unpacking_is_unknown() -> None:
    assert is_unknown("{**base, 'a': 1}")
    assert is_unknown("dict(**base)")


def test_container_with_unknown_elements_keeps_a_sentinel() -> None:
    v = ev('{"visibility_timeout": 3600, "x": f()}')
    assert v.kind == "known"
    assert v.value == {"visibility_timeout": 3600, "x": UNRESOLVED}
    assert known("[1, g.h, 3]") == [1, UNRESOLVED, 3]
    assert known("(f(),)") == (UNRESOLVED,)


def test_dict_with_unknown_key_is_unknown() -> None:
    assert is_unknown("{f(): 1}")


def test_unresolved_is_a_singleton_with_a_nice_repr() -> None:
    assert repr(UNRESOLVED) == "<unresolved>"
    assert repr(known("[1, f()]")) == "[1, <unresolved>]"
    assert copy.copy(UNRESOLVED) is UNRESOLVED
    assert copy.deepcopy([UNRESOLVED])[0] is UNRESOLVED
    assert pickle.loads(pickle.dumps(UNRESOLVED)) is UNRESOLVED


def test_operations_on_partial_containers_are_unknown() -> None:
    assert is_unknown("str([f()])")
    assert is_unknown("[f()] == [1]")
    assert is_unknown("f'{[f()]}'")
    assert known("[f()] + [1]") == [UNRESOLVED, 1]
    assert known("(1, f())[0]") == 1
    assert is_unknown("(1, f())[1]")


# --- arithmetic --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("src", "expected"),
    [
        ("60 * 15", 900),
        ("512 * 1024 * 1024", 536870912),
        ("2 * 60 * 60", 7200),
        ("7 / 2", 3.5),
        ("7 // 2", 3),
        ("7 % 3", 1),
        ("2 ** 10", 1024),
        ("10 ** 18", 10**18),
        ("-(3 - 5)", 2),
        ("not 0", True),
        ("not 'x'", False),
        ("~0", -1),
        ("'redis://' + 'localhost'", "redis://localhost"),
        ("'ab' * 3", "ababab"),
        ("[0] * 3", [0, 0, 0]),
        ("1 << 4", 16),
        ("6 & 3 | 8", 10),
        ("'redis://%s:%d' % ('h', 6379)", "redis://h:6379"),
        ("'redis://{}:{}/{db}'.format('h', 6379, db=0)", "redis://h:6379/0"),
        ("1 < 2 <= 2", True),
        ("'a' in ('a', 'b')", True),
        ("None or 5", 5),
        ("0 and 5", 0),
        ("'x' if 1 else 'y'", "x"),
        ("'abc'[1:]", "bc"),
        ("{'a': [1, 2]}['a'][1]", 2),
    ],
)
def test_constant_arithmetic(src: str, expected: object) -> None:
    assert known(src) == expected


@pytest.mark.parametrize("src", ["1 / 0", "1 % 0", "'a' + 1", "[1] - [1]", "f() + 1", "x * 2"])
def test_failing_or_unknown_operands_are_unknown(src: str) -> None:
    assert is_unknown(src)


@pytest.mark.parametrize(
    "src",
    [
        "2 ** 10 ** 10",
        "10 ** 19",
        "999999999999 * 999999999999",
        "(10 ** 18) * 2",
        "'x' * 100_000",
        "'x' * 10_001",
        "[0] * 20_000",
        "100_000 * (0,)",
        "1 << 10 ** 9",
        "f'{1:>999999999}'",
        "f'{1:.999999999f}'",
        "'%999999999d' % 1",
        "'%*d' % (999999999, 1)",
        "'{:>999999999}'.format(1)",
        "'{:{}}'.format(1, 999999999)",
        "'{0.__class__}'.format(1)",
        "('a' * 5000).replace('a', 'bbbbbbbbbb')",
        "','.join(['aaaaaaaaaa'] * 2000)",
    ],
)
def test_dos_guards_refuse_without_building_the_value(src: str) -> None:
    # Memory, not time, is the load-independent witness: evaluating any of these would allocate
    # far more than the bound (the first three build a ~1 GB string).
    tracemalloc.start()
    try:
        assert is_unknown(src)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 5_000_000


def test_limits_allow_ordinary_sizes() -> None:
    assert known("'x' * 10_000") == "x" * 10_000
    assert known("[0] * 100") == [0] * 100
    assert known("2 ** 0.5") == pytest.approx(1.4142135623730951)


def test_exponential_growth_through_names_is_refused() -> None:
    scope: dict[str, Value] = {"a": ev("[1, 2, 3, 4]")}
    kinds = []
    for _ in range(30):  # 4**30 elements if expanded
        scope["a"] = ev("[a, a, a, a]", scope)
        kinds.append(scope["a"].kind)
        assert len(repr(scope["a"].value)) < 1_000_000
    assert kinds[0] == "known"
    assert "unknown" in kinds
    scope["s"] = ev("'abcdefgh' * 1000")
    for _ in range(30):
        scope["s"] = ev("s + s", scope)
    assert scope["s"].kind == "unknown"
    scope["t"] = ev("'abcdefgh' * 1000")
    for _ in range(30):
        scope["t"] = ev("f'{t}{t}'", scope)
    assert scope["t"].kind == "unknown"


def test_deep_nesting_through_names_is_refused() -> None:
    scope: dict[str, Value] = {"a": ev("[1]")}
    kinds = []
    for _ in range(200):
        scope["a"] = ev("[a]", scope)
        kinds.append(scope["a"].kind)
        assert _nesting(scope["a"].value) <= MAX_NEST + 1
    assert "unknown" in kinds


def _nesting(value: object) -> int:
    depth = 0
    while isinstance(value, list) and value:
        value, depth = value[0], depth + 1
    return depth


def test_budget_bounds_values_across_calls() -> None:
    budget = Budget(25_000)
    node = ast.parse("[0] * 10_000", mode="eval").body
    kinds = [evaluate(node, {}, "", budget).kind for _ in range(4)]
    assert kinds == ["known", "known", "unknown", "unknown"]
    literal = ast.parse("'x'", mode="eval").body
    assert evaluate(literal, {}, "", budget).kind == "known"  # literals are not charged


# --- timedelta ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("src", "expected"),
    [
        ("timedelta(minutes=5)", datetime.timedelta(minutes=5)),
        ("datetime.timedelta(hours=1, seconds=30)", datetime.timedelta(hours=1, seconds=30)),
        ("timedelta(2)", datetime.timedelta(days=2)),
        ("timedelta(days=1) * 7", datetime.timedelta(days=7)),
        ("timedelta(hours=0.5)", datetime.timedelta(minutes=30)),
    ],
)
def test_timedelta(src: str, expected: datetime.timedelta) -> None:
    value = known(src)
    assert isinstance(value, datetime.timedelta)
    assert value == expected


@pytest.mark.parametrize(
    "src", ["timedelta(days=10 ** 18)", "timedelta(fortnights=1)", "timedelta(days=f())"]
)
def test_bad_timedelta_is_unknown(src: str) -> None:
    assert is_unknown(src)


# --- names -------------------------------------------------------------------------------------


def test_names_resolve_against_the_scope() -> None:
    scope = {"MINUTE": Value("known", 60), "PORT": Value("env", "6379", env="REDIS_PORT")}
    assert known("MINUTE * 15", scope) == 900
    v = ev("'redis://h:' + PORT", scope)
    assert (v.kind, v.value, v.env) == ("env", "redis://h:6379", "REDIS_PORT")
    assert is_unknown("UNDEFINED", scope)
    assert is_unknown("MINUTE * UNDEFINED", scope)


# --- environment -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("src", "default"),
    [
        ("os.environ.get('X', '4')", "4"),
        ("os.environ.get('X', 4)", 4),
        ("os.environ.get('X')", None),
        ("os.environ.get('X', default='d')", "d"),
        ("os.getenv('X', 'd')", "d"),
        ("os.getenv('X')", None),
        ("environ.get('X', 'd')", "d"),
        ("getenv('X', 'd')", "d"),
        ("os.environ.setdefault('X', 'd')", "d"),
        ("os.environ.get('X', 60 * 5)", 300),
    ],
)
def test_environment_reads_take_their_default(src: str, default: object) -> None:
    v = ev(src)
    assert (v.kind, v.value, v.env) == ("env", default, "X")
    assert v.text == src


def test_environment_subscript_is_unknown_but_named() -> None:
    v = ev("os.environ['BROKER']")
    assert (v.kind, v.env) == ("unknown", "BROKER")


def test_unknown_default_keeps_the_variable_name() -> None:
    v = ev("os.environ.get('X', compute())")
    assert (v.kind, v.env) == ("unknown", "X")


def test_nested_environment_reads_name_the_outer_variable() -> None:
    v = ev("os.environ.get('A', os.environ.get('B', 'x'))")
    assert (v.kind, v.value, v.env) == ("env", "x", "A")


def test_environment_key_must_be_known() -> None:
    assert is_unknown("os.environ.get(name, 'x')")


@pytest.mark.parametrize(
    ("src", "expected"),
    [
        ("int(os.environ.get('X', '4'))", 4),
        ("int(os.environ.get('X', 16))", 16),
        ("float(os.getenv('X', '0.5'))", 0.5),
        ("str(os.getenv('X', 3))", "3"),
        ("bool(os.getenv('X', 'false'))", True),  # non-empty strings are true
        ("bool(os.getenv('X', ''))", False),
        ("int(os.getenv('X', '8')) * 2", 16),
        ("os.getenv('X', 'Redis').lower()", "redis"),
        ("os.getenv('X', 'a') .upper()", "A"),
        ("os.getenv('X', '  a ').strip()", "a"),
        ("os.getenv('X', 'json,yaml').split(',')", ["json", "yaml"]),
        ("os.getenv('X', 'redis://h') + '/0'", "redis://h/0"),
        ("os.getenv('X', '0') == '1'", False),
        ("os.getenv('X') or 'fallback'", "fallback"),
        ("[os.getenv('X', 'json')]", ["json"]),
    ],
)
def test_operations_on_environment_values_stay_env(src: str, expected: object) -> None:
    v = ev(src)
    assert (v.kind, v.value, v.env) == ("env", expected, "X")


def test_failing_conversion_is_unknown_and_keeps_the_name() -> None:
    for src in ("int(os.getenv('X'))", "int(os.getenv('X', 'abc'))", "float(os.getenv('X', 'x'))"):
        v = ev(src)
        assert (v.kind, v.env) == ("unknown", "X"), src


def test_conversions_of_known_values() -> None:
    assert known("int('12')") == 12
    assert known("int(3.9)") == 3
    assert known("int('ff', 16)") == 255
    assert known("float(2)") == 2.0
    assert known("str(5)") == "5"
    assert known("bool(0)") is False
    assert known("list((1, 2))") == [1, 2]
    assert is_unknown("int('x')")
    assert is_unknown("int(1e300)")


# --- f-strings ---------------------------------------------------------------------------------


def test_fstrings() -> None:
    scope = {"HOST": Value("known", "h"), "PORT": Value("known", 6379)}
    assert known("f'redis://{HOST}:{PORT}/0'", scope) == "redis://h:6379/0"
    assert known("f'{PORT:>6}|{HOST!r}'", scope) == "  6379|'h'"
    assert known("f'{3.14159:.{2}f}'") == "3.14"
    v = ev('f\'redis://{os.getenv("H", "localhost")}:{PORT}\'', scope)
    assert (v.kind, v.value, v.env) == ("env", "redis://localhost:6379", "H")
    assert is_unknown("f'redis://{host()}:6379'")


# --- what stays unknown ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "src",
    [
        "compute()",
        "settings.BROKER_URL",
        "[i for i in range(3)]",
        "{k: 1 for k in 'ab'}",
        "lambda: 1",
        "x[0]",
        "f()[0]",
        "...",
        "(y := 3) + 1",
        "await x",
        "crontab(minute=0)",
        "os.cpu_count()",
        "max(1, 2)",
        "'a'.encode()",
    ],
)
def test_everything_else_is_unknown(src: str) -> None:
    v = ev(src)
    assert v.kind == "unknown"
    assert v.value is None
    assert v.text == src


def test_text_is_the_source_segment_shortened() -> None:
    src = "compute(" + ", ".join(str(i) for i in range(100)) + ")"
    v = ev(src)
    assert len(v.text) == 80
    assert v.text.endswith("...")
    assert src.startswith(v.text[:-3])
    assert shorten("a(\n    1,\n    2)") == "a( 1, 2)"


def test_text_with_non_ascii_before_the_expression() -> None:
    source = "x = 'é' ; y = 'ü' + 'ß'"
    tree = ast.parse(source)
    assign = tree.body[1]
    assert isinstance(assign, ast.Assign)
    v = evaluate(assign.value, {}, source)
    assert v.text == "'ü' + 'ß'"
    assert v.value == "üß"


# --- recursion ---------------------------------------------------------------------------------


def _deep_binop(depth: int) -> ast.expr:
    node: ast.expr = ast.Constant(1)
    for _ in range(depth):
        node = ast.BinOp(left=node, op=ast.Add(), right=ast.Constant(1))
    return node


def test_deep_expressions_never_raise() -> None:
    assert evaluate(_deep_binop(5000), {}, "").kind == "unknown"
    assert evaluate(_deep_binop(MAX_DEPTH // 2), {}, "").value == MAX_DEPTH // 2 + 1
    node: ast.expr = ast.Constant(1)
    for _ in range(5000):
        node = ast.List(elts=[node], ctx=ast.Load())
    v = evaluate(node, {}, "")
    assert v.kind != "unknown" or v.value is None
    repr(v.value)
    unary: ast.expr = ast.Constant(1)
    for _ in range(5000):
        unary = ast.UnaryOp(op=ast.USub(), operand=unary)
    assert evaluate(unary, {}, "").kind == "unknown"


def test_deep_but_parseable_sources_never_raise() -> None:
    for src in (
        "+".join(["1"] * 800),
        "(" * 150 + "1" + ")" * 150,
        "[" * 150 + "]" * 150,
        "-" * 150 + "1",
        "f(" * 150 + ")" * 150,
        "{'a': " * 150 + "1" + "}" * 150,
    ):
        ev(src)
    assert known("(" * 150 + "1" + ")" * 150) == 1  # parentheses add no depth
