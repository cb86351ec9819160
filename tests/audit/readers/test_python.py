"""The static Python reader: occurrences, app detection, namespaces, exact spans, bad input."""

from __future__ import annotations

import ast
import keyword
import re
import textwrap
import time
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tuner.audit.model import NamespaceHint, Occurrence, SourceFile, Span
from tuner.audit.readers.python import read_python
from tuner.audit.values import UNRESOLVED

LINE_END = re.compile(r"\r\n|\r|\n")


def read(text: str, path: str = "celeryconfig.py") -> SourceFile:
    source = read_python(path, textwrap.dedent(text))
    check_spans(source)
    return source


def under(text: str, span: Span) -> str:
    """The text a span covers (characters, 1-based, exclusive end)."""
    starts = [0, *(m.end() for m in LINE_END.finditer(text))]
    return text[
        starts[span.line - 1] + span.column - 1 : starts[span.end_line - 1] + span.end_column - 1
    ]


def assert_within(lines: list[str], span: Span) -> None:
    assert 1 <= span.line <= span.end_line <= len(lines), span
    assert 1 <= span.column <= len(lines[span.line - 1]) + 1, span
    assert 1 <= span.end_column <= len(lines[span.end_line - 1]) + 1, span
    if span.line == span.end_line:
        assert span.column <= span.end_column, span


def check_spans(source: SourceFile) -> None:
    lines = source.lines or [""]
    for occ in source.occurrences:
        assert_within(lines, occ.span)
        assert_within(lines, occ.key_span)
    for hint in source.namespaces:
        assert_within(lines, hint.span)
    if source.error is not None:
        e = source.error
        assert_within(lines, Span(e.line, e.column, e.line, e.column))


def by_key(source: SourceFile) -> dict[str, Occurrence]:
    return {o.key: o for o in source.occurrences}


def show(source: SourceFile, text: str, occ: Occurrence) -> tuple[str, str]:
    """What the span and the key span of an occurrence cover."""
    text = textwrap.dedent(text)
    return under(text, occ.span), under(text, occ.key_span)


# --- config modules ----------------------------------------------------------------------------

NEW_STYLE = """\
import os
from datetime import timedelta

broker_url = os.environ.get("BROKER_URL", "redis://localhost:6379/0")
worker_concurrency = int(os.environ.get("CONCURRENCY", "4"))
worker_prefetch_multiplier = 1
task_time_limit = 2 * 60 * 60
result_expires = timedelta(hours=12)
accept_content = ["json"]
broker_transport_options = {"visibility_timeout": 3600, "other": compute()}
"""

OLD_STYLE = """\
BROKER_URL = "amqp://guest@localhost//"
CELERYD_CONCURRENCY = 8
CELERYD_PREFETCH_MULTIPLIER: int = 4
CELERY_ACKS_LATE = True
CELERYD_MAX_TASKS_PER_CHILD = MAX = 100
"""


def test_config_module_new_names() -> None:
    source = read(NEW_STYLE)
    assert source.error is None
    assert not source.has_app and not source.django_like
    occ = by_key(source)
    assert [o.key for o in source.occurrences] == [
        "broker_url",
        "worker_concurrency",
        "worker_prefetch_multiplier",
        "task_time_limit",
        "result_expires",
        "accept_content",
        "broker_transport_options",
    ]
    assert all(o.origin == "module" for o in source.occurrences)
    broker = occ["broker_url"].value
    assert (broker.kind, broker.value, broker.env) == (
        "env",
        "redis://localhost:6379/0",
        "BROKER_URL",
    )
    assert occ["worker_concurrency"].value.value == 4
    assert occ["worker_concurrency"].value.kind == "env"
    assert occ["task_time_limit"].value.value == 7200
    assert str(occ["result_expires"].value.value) == "12:00:00"
    assert occ["broker_transport_options"].value.value == {
        "visibility_timeout": 3600,
        "other": UNRESOLVED,
    }
    span, key = show(source, NEW_STYLE, occ["worker_prefetch_multiplier"])
    assert span == "worker_prefetch_multiplier = 1"
    assert key == "worker_prefetch_multiplier"
    assert occ["worker_prefetch_multiplier"].span == Span(6, 1, 6, 31)
    assert occ["worker_prefetch_multiplier"].key_span == Span(6, 1, 6, 27)


def test_config_module_old_names() -> None:
    source = read(OLD_STYLE)
    keys = [o.key for o in source.occurrences]
    assert keys == [
        "BROKER_URL",
        "CELERYD_CONCURRENCY",
        "CELERYD_PREFETCH_MULTIPLIER",
        "CELERY_ACKS_LATE",
        "CELERYD_MAX_TASKS_PER_CHILD",
        "MAX",
    ]
    occ = by_key(source)
    assert occ["CELERYD_PREFETCH_MULTIPLIER"].value.value == 4
    assert show(source, OLD_STYLE, occ["CELERYD_PREFETCH_MULTIPLIER"]) == (
        "CELERYD_PREFETCH_MULTIPLIER: int = 4",
        "CELERYD_PREFETCH_MULTIPLIER",
    )
    assert occ["MAX"].value.value == 100
    assert show(source, OLD_STYLE, occ["MAX"])[1] == "MAX"
    assert occ["CELERYD_MAX_TASKS_PER_CHILD"].span == occ["MAX"].span


def test_scope_follows_the_module() -> None:
    text = """\
    BASE = 60
    if DEBUG:
        TIMEOUT = BASE * 2
    else:
        TIMEOUT = BASE * 10
    try:
        from local import *
    except ImportError:
        EXTRA = 1
    finally:
        LAST = TIMEOUT
    with open("x") as fh:
        INSIDE = 5
    COUNT = 1
    COUNT += 2
    a, b = 1, 2
    PAIR = a
    def BASE():
        NOT_MODULE = 1
    AFTER_DEF = BASE
    for i in range(3):
        LOOPED = i
    class Config:
        IN_CLASS = 1
    """
    source = read(text)
    occ = by_key(source)
    assert "NOT_MODULE" not in occ and "IN_CLASS" not in occ and "LOOPED" not in occ
    assert "a" not in occ and "fh" not in occ
    assert occ["TIMEOUT"].value.value == 600  # the textually last branch
    assert occ["EXTRA"].value.value == 1
    assert occ["LAST"].value.value == 600
    assert occ["INSIDE"].value.value == 5
    assert occ["COUNT"].value.value == 3
    assert occ["COUNT"].value.text == "COUNT += 2"
    assert occ["PAIR"].value.kind == "unknown"
    assert occ["AFTER_DEF"].value.kind == "unknown"


# --- app modules -------------------------------------------------------------------------------

APP = """\
import os
from celery import Celery

app = Celery(
    "proj",
    broker=os.environ.get("BROKER", "redis://localhost"),
    backend="redis://localhost/1",
    include=["proj.tasks"],
    worker_prefetch_multiplier=1,
)
app.conf.update(
    worker_concurrency=4,
    task_acks_late=True,
    **EXTRA,
)
app.conf.update({"task_time_limit": 60 * 5, 'result_expires': 3600})
app.conf.update(dict(task_soft_time_limit=240))
app.conf.task_serializer = "json"
app.conf["worker_max_tasks_per_child"] = 100
app.conf.broker_transport_options: dict = {"visibility_timeout": 7200}


class Boot:
    def setup(self) -> None:
        self.app.conf.worker_send_task_events = True
        celery_app.conf.update(result_backend_always_retry=FLAG)


FLAG = True
"""


def test_app_module() -> None:
    source = read(APP, "proj/celery.py")
    assert source.has_app
    occ = by_key(source)
    origins = {o.key: o.origin for o in source.occurrences if o.origin != "module"}
    assert origins == {
        "broker_url": "Celery()",
        "result_backend": "Celery()",
        "include": "Celery()",
        "worker_prefetch_multiplier": "Celery()",
        "worker_concurrency": "conf.update",
        "task_acks_late": "conf.update",
        "task_time_limit": "conf.update",
        "result_expires": "conf.update",
        "task_soft_time_limit": "conf.update",
        "task_serializer": "conf.attr",
        "worker_max_tasks_per_child": "conf.item",
        "broker_transport_options": "conf.attr",
        "worker_send_task_events": "conf.attr",
        "result_backend_always_retry": "conf.update",
    }
    broker = occ["broker_url"]
    assert (broker.value.kind, broker.value.value, broker.value.env) == (
        "env",
        "redis://localhost",
        "BROKER",
    )
    assert show(source, APP, broker) == (
        'broker=os.environ.get("BROKER", "redis://localhost")',
        "broker",
    )
    assert show(source, APP, occ["result_backend"])[1] == "backend"
    assert show(source, APP, occ["worker_concurrency"]) == (
        "worker_concurrency=4",
        "worker_concurrency",
    )
    assert show(source, APP, occ["task_time_limit"]) == (
        '"task_time_limit": 60 * 5',
        "task_time_limit",
    )
    assert occ["task_time_limit"].value.value == 300
    assert show(source, APP, occ["result_expires"]) == ("'result_expires': 3600", "result_expires")
    assert show(source, APP, occ["task_serializer"]) == (
        'app.conf.task_serializer = "json"',
        "task_serializer",
    )
    assert show(source, APP, occ["worker_max_tasks_per_child"]) == (
        'app.conf["worker_max_tasks_per_child"] = 100',
        "worker_max_tasks_per_child",
    )
    assert occ["worker_send_task_events"].value.value is True
    # resolved against the module scope as it is at the end of the module
    assert occ["result_backend_always_retry"].value.value is True
    assert occ["app"].origin == "module"


def test_occurrences_are_in_source_order() -> None:
    source = read(APP)
    starts = [(o.span.line, o.span.column) for o in source.occurrences]
    assert starts == sorted(starts)


def test_conf_update_with_a_module_dict() -> None:
    text = """\
    CONFIG = {"worker_concurrency": 2, "task_acks_late": True}
    app.conf.update(CONFIG)
    """
    source = read(text)
    updates = [o for o in source.occurrences if o.origin == "conf.update"]
    assert [(o.key, o.value.value) for o in updates] == [
        ("worker_concurrency", 2),
        ("task_acks_late", True),
    ]
    assert show(source, text, updates[0]) == ('"worker_concurrency": 2', "worker_concurrency")


def test_string_keys_that_are_not_plain_literals_span_the_whole_literal() -> None:
    text = """\
    app.conf.update({"task_" "acks_late": True, "a\\x62c": 1, r"raw_key": 2})
    """
    source = read(text)
    occ = by_key(source)
    assert show(source, text, occ["task_acks_late"])[1] == '"task_" "acks_late"'
    assert show(source, text, occ["abc"])[1] == '"a\\x62c"'
    assert show(source, text, occ["raw_key"])[1] == "raw_key"


def test_celery_alias_and_attribute() -> None:
    assert read("import celery\napp = celery.Celery('p')\n").has_app
    source = read("from celery import Celery as App\napp = App('p', broker='memory://')\n")
    assert source.has_app
    assert by_key(source)["broker_url"].value.value == "memory://"
    assert not read("app = make_app()\n").has_app


def test_a_module_without_an_app_has_no_conf_writes() -> None:
    source = read("x = 1\nprint('Celery is great')\n")
    assert [o.key for o in source.occurrences] == ["x"]
    assert not source.has_app


# --- namespaces and config references ----------------------------------------------------------


def test_config_from_object_with_namespace() -> None:
    text = """\
    from celery import Celery
    app = Celery("proj")
    app.config_from_object("django.conf:settings", namespace="CELERY")
    """
    source = read(text)
    assert source.config_refs == ["django.conf:settings"]
    assert len(source.namespaces) == 1
    hint = source.namespaces[0]
    assert (hint.namespace, hint.target) == ("CELERY", "django.conf:settings")
    assert under(textwrap.dedent(text), hint.span) == 'namespace="CELERY"'


def test_config_from_object_forms() -> None:
    text = """\
    import proj.celeryconfig as cc
    from django.conf import settings
    from . import localconfig
    NAME = "proj.other"
    app.config_from_object("celeryconfig")
    app.config_from_object(__name__)
    app.config_from_object(cc)
    app.config_from_object(settings, namespace="CELERY")
    app.config_from_object(localconfig)
    app.config_from_object(NAME)
    app.config_from_object(obj="kw.module")
    app.config_from_object(make())
    """
    source = read(text)
    assert source.config_refs == [
        "celeryconfig",
        "__name__",
        "proj.celeryconfig",
        "django.conf.settings",
        "localconfig",
        "proj.other",
        "kw.module",
    ]
    assert source.namespaces == [
        NamespaceHint("CELERY", "django.conf.settings", Span(8, 34, 8, 52))
    ]


def test_app_namespace_applies_to_config_from_object() -> None:
    text = """\
    app = Celery("proj", namespace="CELERY")
    app.config_from_object("django.conf:settings")
    """
    source = read(text)
    assert [(h.namespace, h.target) for h in source.namespaces] == [
        ("CELERY", None),
        ("CELERY", "django.conf:settings"),
    ]
    assert under(textwrap.dedent(text), source.namespaces[0].span) == 'namespace="CELERY"'
    assert not [o for o in source.occurrences if o.origin == "Celery()"]


def test_no_namespace_without_one() -> None:
    source = read("app.config_from_object('celeryconfig')\n")
    assert source.namespaces == []


# --- Django ------------------------------------------------------------------------------------


def test_django_like_settings() -> None:
    assert read("INSTALLED_APPS = ['a']\nCELERY_BROKER_URL = 'x'\n").django_like
    assert read("ROOT_URLCONF = 'proj.urls'\n").django_like
    assert read("try:\n    DATABASES = {}\nexcept Exception:\n    pass\n").django_like
    assert read("MIDDLEWARE = []\n").django_like
    assert read("MIDDLEWARE += ['x']\n").django_like
    assert not read("BROKER_URL = 'x'\n").django_like
    assert not read("def f():\n    INSTALLED_APPS = []\n").django_like


def test_django_settings_module_in_the_environment() -> None:
    for text in (
        "import os\nos.environ.setdefault('DJANGO_SETTINGS_MODULE', 'proj.settings')\n",
        "import os\nos.environ['DJANGO_SETTINGS_MODULE'] = 'proj.settings'\n",
        "import os\nos.putenv('DJANGO_SETTINGS_MODULE', 'proj.settings')\n",
        "import os\nos.environ.update(DJANGO_SETTINGS_MODULE='proj.settings')\n",
    ):
        assert read(text).django_like, text
    assert not read("x = os.environ.get('DJANGO_SETTINGS_MODULE')\n").django_like


# --- positions ---------------------------------------------------------------------------------


def test_spans_count_characters_not_bytes() -> None:
    text = (
        "café = 'é'; worker_concurrency = 4\n"
        "app.conf.update(x='日本', task_acks_late=True)\n"
        "app.conf.update({'ü': 1, 'result_expires': 2})\n"
        "é = 1; app.conf.worker_prefetch_multiplier = 1\n"
        "ß = 1; app.conf['task_time_limit'] = 5\n"
        "app = Celery('é', broker='memory://')\n"
    )
    source = read(text)
    occ = by_key(source)
    assert show(source, text, occ["worker_concurrency"]) == (
        "worker_concurrency = 4",
        "worker_concurrency",
    )
    assert occ["worker_concurrency"].key_span == Span(1, 13, 1, 31)
    assert show(source, text, occ["café"]) == ("café = 'é'", "café")
    assert show(source, text, occ["task_acks_late"]) == ("task_acks_late=True", "task_acks_late")
    assert show(source, text, occ["result_expires"]) == ("'result_expires': 2", "result_expires")
    assert show(source, text, occ["ü"])[1] == "ü"
    assert show(source, text, occ["worker_prefetch_multiplier"])[1] == (
        "worker_prefetch_multiplier"
    )
    assert show(source, text, occ["task_time_limit"])[1] == "task_time_limit"
    assert show(source, text, occ["broker_url"]) == ("broker='memory://'", "broker")


def test_multi_line_spans() -> None:
    text = "broker_transport_options = {\n    'visibility_timeout': 60,\n}\n"
    source = read(text)
    occ = by_key(source)["broker_transport_options"]
    assert occ.span == Span(1, 1, 3, 2)
    assert occ.value.text == "{ 'visibility_timeout': 60, }"


def test_carriage_returns_count_as_line_ends() -> None:
    text = "a = 1\r\nb = 2\rc = 3\x0cd\n"  # \x0c is not a line end for Python
    source = read_python("x.py", "a = 1\r\nb = 2\rc = 3\n# \x0c\nd = 4\n")
    assert [o.span.line for o in source.occurrences] == [1, 2, 3, 5]
    assert source.lines[3] == "# \x0c"
    assert read_python("x.py", text).error is not None  # 'c = 3\x0cd' is not Python


def test_byte_order_mark_is_ignored() -> None:
    source = read_python("x.py", "\ufeffworker_concurrency = 2\n")
    assert source.error is None
    assert by_key(source)["worker_concurrency"].key_span == Span(1, 1, 1, 19)


# --- bad input ---------------------------------------------------------------------------------


def test_syntax_errors_carry_positions() -> None:
    source = read("x = 1\ny = (1,\n")
    assert source.error is not None
    assert source.error.message == "syntax error: '(' was never closed"
    assert (source.error.line, source.error.column) == (2, 5)
    assert source.occurrences == []
    assert source.lines == ["x = 1", "y = (1,"]

    source = read("ééé = 1 2\n")
    assert source.error is not None
    assert source.error.message.startswith("syntax error: ")
    assert (source.error.line, source.error.column) == (1, 9)  # characters (bytes: 12)

    source = read("x = 1\n  y = 2\n")
    assert source.error is not None
    assert source.error.message == "syntax error: unexpected indent"
    assert source.error.line == 2


def test_nul_bytes() -> None:
    source = read("x = 1\ny = 'a\0'\n")
    assert source.error is not None
    assert "NUL" in source.error.message
    assert (source.error.line, source.error.column) == (2, 7)


def test_too_deep_to_parse() -> None:
    for text in ("x = " + "-" * 5000 + "1\n", "x = " + "+".join(["1"] * 5000) + "\n"):
        source = read(text)
        assert source.error is not None
        assert "nested" in source.error.message
    source = read("x = " + "(" * 300 + ")" * 300 + "\n")
    assert source.error is not None
    assert "nested parentheses" in source.error.message


def test_deep_but_parseable() -> None:
    text = "x = " + "[" * 180 + "]" * 180 + "\napp.conf.update(a=" + "f(" * 150 + ")" * 150 + ")\n"
    source = read(text)
    assert source.error is None
    assert by_key(source)["a"].value.kind == "unknown"


def test_many_big_values_are_bounded_per_file() -> None:
    text = "".join(f"a{i} = [{i}] * 10_000\n" for i in range(1000))  # 10 million items
    start = time.perf_counter()
    source = read_python("big.py", text)
    assert time.perf_counter() - start < 120  # bounded work, not a speed goal (see benchmarks/)
    kinds = [o.value.kind for o in source.occurrences]
    assert kinds[0] == "known"
    assert kinds[-1] == "unknown"
    kept = sum(len(o.value.value) for o in source.occurrences if isinstance(o.value.value, list))
    assert kept <= 4_000_000


def test_lone_surrogates() -> None:
    source = read_python("x.py", "x = '\udc80'\n")
    assert source.error is not None


def test_the_code_is_never_executed(tmp_path: Path) -> None:
    marker = tmp_path / "executed.txt"
    text = f"""\
import pathlib
pathlib.Path({str(marker)!r}).write_text("ran")
open({str(marker)!r}, "w").write("ran")
BROKER_URL = __import__("os").system("touch {marker}")
app.conf.update(x=open({str(marker)!r}, "w").write("ran"))
"""
    source = read_python("evil.py", text)
    assert source.error is None
    assert by_key(source)["BROKER_URL"].value.kind == "unknown"
    assert by_key(source)["x"].value.kind == "unknown"
    assert not marker.exists()


# --- property tests ----------------------------------------------------------------------------

OPERATORS = st.sampled_from(["+", "-", "*", "/", "//", "%", "**", "<<", "&", "|"])
NAMES = st.sampled_from(["broker_url", "worker_concurrency", "x", "CELERYD_X", "é_name", "ü"])
KEYS = st.from_regex(r"[a-z_][a-z0-9_]{0,12}", fullmatch=True).filter(
    lambda k: not keyword.iskeyword(k) and not keyword.issoftkeyword(k)
)  # `as=`, `if=`: not valid Python, so not what this test is about
TEXTS = st.text(alphabet=st.sampled_from("abé日 _-:/\\'\"{}%\n"), max_size=8)


def expressions() -> st.SearchStrategy[str]:
    atoms = st.one_of(
        st.integers(-(10**20), 10**20).map(str),
        st.floats(allow_nan=False, allow_infinity=False).map(repr),
        TEXTS.map(repr),
        NAMES,
        st.sampled_from(["True", "None", "...", "os.environ['X']", "f()", "a.b", "[]", "{}"]),
    )

    def extend(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        return st.one_of(
            st.tuples(inner, OPERATORS, inner).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
            st.lists(inner, max_size=3).map(lambda xs: "[" + ", ".join(xs) + "]"),
            st.lists(st.tuples(TEXTS, inner), max_size=3).map(
                lambda kv: "{" + ", ".join(f"{k!r}: {v}" for k, v in kv) + "}"
            ),
            st.tuples(TEXTS, inner).map(lambda t: f"os.environ.get({t[0]!r}, {t[1]})"),
            st.tuples(st.sampled_from(["int", "str", "float", "bool", "timedelta"]), inner).map(
                lambda t: f"{t[0]}({t[1]})"
            ),
            inner.map(lambda e: f"-({e})"),
            inner.map(lambda e: f"({e}).lower()"),
            st.tuples(inner, inner).map(lambda t: f"({t[0]} if {t[1]} else {t[0]})"),
            st.tuples(inner, inner).map(lambda t: f"({t[0]})[{t[1]}]"),
        )

    return st.recursive(atoms, extend, max_leaves=12)


def statements(expr: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    simple = st.one_of(
        st.tuples(NAMES, expr).map(lambda t: f"{t[0]} = {t[1]}"),
        st.tuples(NAMES, expr).map(lambda t: f"{t[0]}: int = {t[1]}"),
        st.tuples(NAMES, expr).map(lambda t: f"{t[0]} += {t[1]}"),
        st.tuples(KEYS, expr).map(lambda t: f"app.conf.update({t[0]}={t[1]})"),
        st.tuples(TEXTS, expr).map(lambda t: f"app.conf.update({{{t[0]!r}: {t[1]}}})"),
        st.tuples(KEYS, expr).map(lambda t: f"é = 1; app.conf.{t[0]} = {t[1]}"),
        st.tuples(TEXTS, expr).map(lambda t: f"app.conf[{t[0]!r}] = {t[1]}"),
        expr.map(lambda e: f"app = Celery('p', broker={e}, namespace={e})"),
        st.tuples(TEXTS, expr).map(lambda t: f"app.config_from_object({t[0]!r}, namespace={t[1]})"),
        st.just("pass  # é 日本 comment"),
        st.just("import os"),
    )

    def nest(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        def indent(body: str) -> str:
            return textwrap.indent(body, "    ")

        return st.one_of(
            st.tuples(inner, inner).map(lambda t: f"if x:\n{indent(t[0])}\nelse:\n{indent(t[1])}"),
            inner.map(lambda b: f"def f():\n{indent(b)}"),
            st.tuples(inner, inner).map(
                lambda t: f"try:\n{indent(t[0])}\nexcept E as e:\n{indent(t[1])}"
            ),
            st.lists(inner, min_size=1, max_size=3).map("\n".join),
        )

    return st.recursive(simple, nest, max_leaves=8)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(statements(expressions()))
def test_random_valid_python(text: str) -> None:
    ast.parse(text)  # the generator makes valid Python
    source = read_python("gen.py", text)
    assert source.error is None
    check_spans(source)
    for occ in source.occurrences:
        key_text = under(text, occ.key_span)
        if occ.origin == "Celery()":
            assert key_text == "broker"
        elif occ.origin in ("module", "conf.attr") or key_text == occ.key:
            assert key_text == occ.key
        else:  # a string key with escapes: the whole literal
            assert ast.literal_eval(key_text) == occ.key
        assert len(occ.value.text) <= 80


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_random_text_never_raises(text: str) -> None:
    source = read_python("random.py", text)
    check_spans(source)


@settings(max_examples=200, deadline=None)
@given(
    st.text(
        alphabet=st.sampled_from(list("app.conf.update(x=1)Celery[]{}\"'é\n\r\t #:=+-*")),
        max_size=200,
    )
)
def test_python_like_noise_never_raises(text: str) -> None:
    source = read_python("noise.py", text)
    check_spans(source)
