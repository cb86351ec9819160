"""CT111 judges a value by how Celery consumes it (tuner/audit/accepts.py), and Celery itself
agrees: each accepted kind of value is loaded into a real app, worker or pool here."""

from __future__ import annotations

import ast
import datetime
from pathlib import Path

import billiard.pool
import pytest
from celery import Celery
from celery.worker import WorkController

from tuner.audit import accepts, engine
from tuner.audit.options import AuditOptions

SOURCE_ROOTS = ("celery/", "billiard/")


def _ct111(tmp_path: Path, body: str) -> list[str]:
    path = tmp_path / "celeryconfig.py"
    path.write_text(body)
    return [
        f.message
        for f in engine.run([str(path)], AuditOptions(cpus=2)).findings
        if f.code == "CT111"
    ]


@pytest.mark.parametrize("setting", sorted(accepts.ACCEPTS))
def test_every_checked_setting_cites_the_code_that_consumes_it(setting: str) -> None:
    import celery

    _kind, where = accepts.ACCEPTS[setting]
    path = where.split(":", 1)[0]
    assert path.startswith(SOURCE_ROOTS), where
    root = Path(celery.__file__).parent.parent
    function = where.split(":", 1)[1].split(" ", 1)[0].rsplit(".", 1)[-1]
    assert f"def {function}" in (root / path).read_text(), where


def _truth_tested(tree: ast.AST, function: str, setting: str) -> bool:
    """Whether ``function`` tests ``setting`` for truth: in an ``if``, ``and``/``or`` or ``not``,
    as ``conf.<setting>``, ``conf.get('<setting>')`` or the task attribute it sets."""
    names = {setting, setting.removeprefix("task_")}

    def mentions(node: ast.AST) -> bool:
        for sub in ast.walk(node):
            if isinstance(sub, ast.Attribute) and sub.attr in names:
                return True
            if isinstance(sub, ast.Constant) and sub.value in names:
                return True
        return False

    for fn in ast.walk(tree):
        if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)) or fn.name != function:
            continue
        for node in ast.walk(fn):
            tested: list[ast.AST] = []
            if isinstance(node, (ast.If, ast.IfExp, ast.While)):
                tested.append(node.test)
            elif isinstance(node, ast.BoolOp):
                tested.extend(node.values)
            elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
                tested.append(node.operand)
            for test in tested:
                direct = test.operand if isinstance(test, ast.UnaryOp) else test
                if isinstance(direct, (ast.Attribute, ast.Call, ast.Subscript)) and mentions(
                    direct
                ):
                    return True
    return False


TRUTH = sorted(s for s, (kind, _) in accepts.ACCEPTS.items() if kind == "truth")


@pytest.mark.parametrize("setting", TRUTH)
def test_truth_settings_are_truth_tested_where_cited(setting: str) -> None:
    import celery

    where = accepts.ACCEPTS[setting][1]
    path, function = where.split(":", 1)
    function = function.split(" ", 1)[0].rsplit(".", 1)[-1]
    root = Path(celery.__file__).parent.parent
    tree = ast.parse((root / path).read_text())
    assert _truth_tested(tree, function, setting), where


ACCEPTED = [
    ("worker_concurrency", "'4'"),
    ("worker_concurrency", "'auto'"),
    ("worker_prefetch_multiplier", "'4'"),
    ("worker_prefetch_multiplier", "2.0"),
    ("worker_max_memory_per_child", "200000.5"),
    ("task_time_limit", "60.5"),
    ("task_soft_time_limit", "30.0"),
    ("result_expires", "datetime.timedelta(hours=6)"),
    ("result_chord_expires", "datetime.timedelta(hours=1)"),
    ("result_failure_expires", "datetime.timedelta(days=7)"),
    ("result_expires", "3600.0"),
    ("broker_use_ssl", "{'cert_reqs': 2}"),
    ("broker_use_ssl", "True"),
    ("redis_backend_use_ssl", "{'ssl_cert_reqs': 'required'}"),
    ("task_acks_late", "1"),
    ("task_always_eager", "0"),
    ("task_track_started", "1"),
    ("broker_connection_retry_on_startup", "1"),
]


@pytest.mark.parametrize(("setting", "value"), ACCEPTED)
def test_values_celery_accepts_are_not_reported(tmp_path: Path, setting: str, value: str) -> None:
    assert _ct111(tmp_path, f"import datetime\n{setting} = {value}\n") == []


REFUSED = [
    ("worker_concurrency", "'four'", "one child per CPU"),
    ("worker_prefetch_multiplier", "'four'", "ValueError"),
    ("worker_max_tasks_per_child", "'100'", "ValueError"),
    ("worker_max_tasks_per_child", "100.0", "ValueError"),
    ("task_time_limit", "True", "TypeError"),
    ("task_acks_late", "'False'", "turns it on"),
    ("redis_backend_use_ssl", "True", "dict"),
]


@pytest.mark.parametrize(("setting", "value", "why"), REFUSED)
def test_values_celery_refuses_are_reported(
    tmp_path: Path, setting: str, value: str, why: str
) -> None:
    found = _ct111(tmp_path, f"{setting} = {value}\n")
    assert len(found) == 1 and why in found[0], found


def test_raw_environment_read_of_a_truth_setting_is_reported(tmp_path: Path) -> None:
    body = "import os\ntask_acks_late = os.environ.get('ACKS_LATE', False)\n"
    assert any("even 'false'" in m for m in _ct111(tmp_path, body))
    # Celery int()s the prefetch multiplier itself: an environment string is fine there.
    body = "import os\nworker_prefetch_multiplier = os.environ.get('PREFETCH', 1)\n"
    assert _ct111(tmp_path, body) == []


# --- Celery itself --------------------------------------------------------------------------


def _app(**conf: object) -> Celery:
    app = Celery("accepts", broker="memory://", set_as_current=False)
    app.conf.update(conf)
    return app


def _worker(app: Celery) -> WorkController:
    return WorkController(app=app, pool_cls="solo", without_mingle=True, without_gossip=True)


def test_celery_int_converts_prefetch_and_concurrency_strings() -> None:
    w = _worker(_app(worker_prefetch_multiplier="4", worker_concurrency="3"))
    assert (w.prefetch_multiplier, w.concurrency) == (4, 3)
    with pytest.raises(ValueError):
        _worker(_app(worker_prefetch_multiplier="four"))


def test_celery_falls_back_to_the_cpu_count_for_a_bad_concurrency_string() -> None:
    import os

    w = _worker(_app(worker_concurrency="four"))
    assert w.concurrency == os.cpu_count()


def test_billiard_requires_an_int_max_tasks_per_child_and_refuses_bool_limits() -> None:
    for bad in ("100", 100.0):
        with pytest.raises(ValueError):
            billiard.pool.Pool(processes=1, maxtasksperchild=bad)
    with pytest.raises(TypeError):
        billiard.pool.Pool(processes=1, timeout=True)


@pytest.mark.parametrize(
    "setting", ["result_expires", "result_chord_expires", "result_failure_expires"]
)
def test_celery_takes_a_timedelta_for_expiry(setting: str) -> None:
    app = _app(result_backend="redis://127.0.0.1:6379/15", **{setting: datetime.timedelta(hours=2)})
    backend = app.backend
    got = {
        "result_expires": lambda: backend.expires,
        "result_chord_expires": lambda: backend.chord_expires,
        "result_failure_expires": lambda: backend.failure_expires,
    }[setting]()
    assert got == 7200


def test_celery_takes_ssl_dicts() -> None:
    app = _app(broker_use_ssl={"cert_reqs": 0})
    assert app.connection_for_write().ssl == {"cert_reqs": 0}
    app = _app(
        result_backend="rediss://127.0.0.1:6379/15",
        redis_backend_use_ssl={"ssl_cert_reqs": "none"},
    )
    assert "ssl_cert_reqs" in app.backend.connparams


def test_celery_truth_tests_booleans() -> None:
    for value, eager in ((1, True), (0, False), ("False", True)):
        app = _app(task_always_eager=value)

        @app.task(shared=False)  # type: ignore[untyped-decorator]
        def add(x: int, y: int) -> int:
            return x + y

        result = add.apply_async((1, 2)) if eager else None
        assert eager == (type(result).__name__ == "EagerResult")
        if not eager:
            assert not app.conf.task_always_eager


def test_str_pool_limit_breaks_the_apps_pool_and_is_reported(tmp_path: Path) -> None:
    """Corpus: HelloLily/hellolily:lily/settings/celeryconfig.py:18 (``BROKER_POOL_LIMIT`` read
    from the environment without int()).  The app's own pool fails on first use; an int works."""
    from kombu.connection import Connection

    # Celery.pool passes conf.broker_pool_limit to kombu's pools (celery/app/base.py); kombu's
    # global pools keep it, so the pool is built directly here to leave no state behind.
    with pytest.raises(TypeError):
        Connection("memory://").Pool(limit="64").acquire()  # type: ignore[no-untyped-call]
    Connection("memory://").Pool(limit=64).acquire().release()  # type: ignore[no-untyped-call]

    body = 'import os\nbroker_pool_limit = os.environ.get("BROKER_POOL_LIMIT", 64)\n'
    assert len(_ct111(tmp_path, body)) == 1
    assert _ct111(tmp_path, "broker_pool_limit = 64\n") == []
