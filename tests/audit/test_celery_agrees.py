"""Name rules checked against Celery itself: each fixture is loaded into a real Celery 5.7 app.

* CT103 fires exactly when ``detect_settings`` raises ImproperlyConfigured;
* with ``namespace='CELERY'``, every name the audit calls read is read, old names included
  (``CELERY_TRACK_STARTED``, ``BROKER_URL``), and names without the prefix that are not Celery's
  are never reported.
"""

from __future__ import annotations

import importlib
import itertools
import sys
import warnings
from pathlib import Path

import pytest
from celery import Celery
from celery.exceptions import ImproperlyConfigured

from tuner.audit import engine
from tuner.audit.options import AuditOptions

_counter = itertools.count()

MIXED = {
    # majority new: the old minority raises
    "new_majority": "broker_url = 'memory://'\ntask_acks_late = True\nCELERYD_CONCURRENCY = 2\n",
    # majority old: the new minority raises
    "old_majority": "BROKER_URL = 'memory://'\nCELERY_ACKS_LATE = True\nworker_concurrency = 2\n",
    # a tie goes to new: the old one raises
    "tie": "broker_url = 'memory://'\nCELERY_ACKS_LATE = True\n",
    # a tolerated pair: both names of one setting
    "pair": "broker_url = 'memory://'\nBROKER_URL = 'memory://'\n",
    "pair_plus_new": "broker_url = 'memory://'\nBROKER_URL = 'memory://'\ntask_acks_late = True\n",
    # all old, all new
    "all_old": "BROKER_URL = 'memory://'\nCELERYD_CONCURRENCY = 2\n",
    "all_new": "broker_url = 'memory://'\nworker_concurrency = 2\n",
    # a helper variable is neither
    "helper": "import os\nREDIS_HOST = 'x'\nbroker_url = 'memory://'\n",
    # a generated old name (WORKER_...-style) counts as old for Celery
    # old majority; a new key whose old counterpart is present is tolerated
    "old_majority_pair": (
        "BROKER_URL = 'memory://'\nCELERY_ACKS_LATE = True\nCELERYD_CONCURRENCY = 2\n"
        "worker_concurrency = 2\n"
    ),
    # a tie in which the old key has its new counterpart: 2 new, 2 old, all tolerated
    "tie_pairs": (
        "broker_url = 'memory://'\nBROKER_URL = 'memory://'\ntask_acks_late = True\n"
        "CELERY_ACKS_LATE = True\n"
    ),
    # a removed Celery 3 name is neither new nor old for detect_settings
    "removed_name": "broker_url = 'memory://'\nCELERY_CHORD_PROPAGATES = True\n",
    # the same old key assigned twice counts once: 2 new against 1 old
    "repeated": (
        "broker_url = 'memory://'\ntask_acks_late = True\nCELERYD_CONCURRENCY = 2\n"
        "CELERYD_CONCURRENCY = 3\n"
    ),
    # a celery-tune or documented-only setting is not in Celery's SETTING_KEYS
    "documented_only": "BROKER_URL = 'memory://'\nworker_pidfile = 'x.pid'\n",
    "generated_old": (
        "broker_url = 'memory://'\nworker_concurrency = 2\nCELERYD_DISABLE_PREFETCH = True\n"
    ),
}


def test_the_catalog_has_celerys_own_key_tables() -> None:
    from celery.app import defaults

    from tuner.audit import catalog

    new, to_new, to_old = catalog.celery_keys()
    assert new == defaults.SETTING_KEYS
    assert to_new == defaults._TO_NEW_KEY
    assert to_old == defaults._TO_OLD_KEY


def _load_module(tmp_path: Path, body: str) -> str:
    name = f"ct_fixture_{next(_counter)}"
    (tmp_path / f"{name}.py").write_text(body)
    return name


def _celery_raises(tmp_path: Path, body: str, namespace: str | None = None) -> bool:
    name = _load_module(tmp_path, body)
    sys.path.insert(0, str(tmp_path))
    try:
        app = Celery(set_as_current=False)
        app.config_from_object(importlib.import_module(name), namespace=namespace)
        try:
            app.conf.broker_url  # noqa: B018 - loading the config is the point
        except ImproperlyConfigured:
            return True
        return False
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop(name, None)


def _codes(path: Path, namespace: str | None = None, select: tuple[str, ...] = ()) -> list[str]:
    options = AuditOptions(workload="cpu", cpus=2, namespace=namespace, select=select)
    return [f.code for f in engine.run([str(path)], options).findings]


@pytest.mark.parametrize("name", sorted(MIXED))
def test_ct103_fires_exactly_when_celery_raises(tmp_path: Path, name: str) -> None:
    body = MIXED[name]
    path = tmp_path / "celeryconfig.py"
    path.write_text(body)
    raises = _celery_raises(tmp_path, body)
    assert ("CT103" in _codes(path)) == raises, f"Celery raises: {raises}"


@pytest.mark.parametrize("name", sorted(MIXED))
def test_a_namespace_forces_new_style_and_never_raises(tmp_path: Path, name: str) -> None:
    body = MIXED[name]
    path = tmp_path / "celeryconfig.py"
    path.write_text(body)
    assert not _celery_raises(tmp_path, body, namespace="CELERY")
    assert "CT103" not in _codes(path, namespace="CELERY")


UPDATE = "app.conf.update(CELERY_ACKS_LATE=True, broker_url='memory://', worker_concurrency=2)\n"


def test_conf_update_mixing_styles_raises_without_a_config_module(tmp_path: Path) -> None:
    app = Celery(set_as_current=False)
    app.conf.update(CELERY_ACKS_LATE=True, broker_url="memory://", worker_concurrency=2)
    with pytest.raises(ImproperlyConfigured):
        app.conf.task_acks_late  # noqa: B018
    path = tmp_path / "app.py"
    path.write_text("from celery import Celery\napp = Celery('p')\n" + UPDATE)
    assert "CT103" in _codes(path)


def test_celery_keyword_arguments_are_not_compared(tmp_path: Path) -> None:
    app = Celery("p", broker="memory://", set_as_current=False)
    app.conf.update(CELERYD_CONCURRENCY=2)
    assert app.conf.worker_concurrency == 2  # broker= is an ignore_key: no ImproperlyConfigured
    path = tmp_path / "app.py"
    path.write_text(
        "from celery import Celery\napp = Celery('p', broker='redis://r//')\n"
        "app.conf.update(CELERYD_CONCURRENCY=2)\n"
    )
    assert "CT103" not in _codes(path)


def test_conf_update_is_not_checked_when_a_config_module_is_loaded(tmp_path: Path) -> None:
    name = _load_module(tmp_path, "broker_url = 'memory://'\n")
    sys.path.insert(0, str(tmp_path))
    try:
        app = Celery(set_as_current=False)
        app.config_from_object(name)
        app.conf.update(CELERY_ACKS_LATE=True, broker_url="memory://", worker_concurrency=2)
        assert app.conf.task_acks_late is True
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop(name, None)
    path = tmp_path / "app.py"
    path.write_text(
        f"from celery import Celery\napp = Celery('p')\napp.config_from_object({name!r})\n" + UPDATE
    )
    assert "CT103" not in _codes(path)


DJANGO = """\
import os
DEBUG = False
S3_BUCKET = "media"
WORKER_TIMEOUT = 30
CELERY_BROKER_URL = "redis://redis:6379/0"
CELERY_TRACK_STARTED = True
CELERY_TASK_RESULT_EXPIRES = 600
BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 7200}
"""


def test_django_names_celery_reads_under_a_namespace(tmp_path: Path) -> None:
    name = _load_module(tmp_path, DJANGO)
    sys.path.insert(0, str(tmp_path))
    try:
        app = Celery(set_as_current=False)
        app.config_from_object(importlib.import_module(name), namespace="CELERY")
        assert app.conf.task_track_started is True
        assert app.conf.result_expires == 600
        assert app.conf.broker_transport_options == {"visibility_timeout": 7200}
        # Celery also counts S3_BUCKET, the generated old name of s3_bucket: in Django
        # settings that is django-storages' setting, so the audit leaves it alone.
        assert sorted(app.conf.deprecated_settings) == [
            "BROKER_TRANSPORT_OPTIONS",
            "CELERY_TASK_RESULT_EXPIRES",
            "CELERY_TRACK_STARTED",
            "S3_BUCKET",
        ]
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop(name, None)
    path = tmp_path / "settings.py"
    path.write_text(DJANGO)
    findings = engine.run(
        [str(path)], AuditOptions(workload="cpu", cpus=2, namespace="CELERY")
    ).findings
    # No "unknown setting" for the project's own S3_BUCKET / WORKER_TIMEOUT, nor for the old
    # names Celery reads; and no CT501 either: a worker whose config source is
    # 'django.conf:settings' does not warn about old names (celery/apps/worker.py, on_start).
    assert findings == []
    # Their values are judged as the settings they set: a visibility timeout below the limit.
    path.write_text(DJANGO.replace("7200", "60") + "CELERY_TASK_TIME_LIMIT = 600\n")
    findings = engine.run(
        [str(path)], AuditOptions(workload="cpu", cpus=2, namespace="CELERY")
    ).findings
    assert [f.code for f in findings] == ["CT301"]


def test_django_prefixed_typo_is_still_unknown(tmp_path: Path) -> None:
    path = tmp_path / "settings.py"
    path.write_text("CELERY_BROKER_URL = 'redis://r//'\nCELERY_WORKER_CONCURENCY = 2\n")
    assert _codes(path, namespace="CELERY") == ["CT101"]


TEST_SETTINGS = """\
broker_url = "memory://"
task_always_eager = True
worker_max_tasks_per_child = 0
worker_concurrency = 64
worker_num_processes = 4
"""


@pytest.mark.parametrize(
    "relpath", ["settings_test.py", "tests/celeryconfig.py", "celeryconfig.py"]
)
def test_test_only_settings_get_no_worker_rules(tmp_path: Path, relpath: str) -> None:
    path = tmp_path / relpath
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(TEST_SETTINGS)
    # The typo is still reported; memory://, eager mode, 64 children and the crash are not.
    assert _codes(path, select=("ALL",)) == ["CT101"]


def test_development_settings_in_eager_mode_get_no_worker_rules(tmp_path: Path) -> None:
    # Django dev settings that run tasks inline "so we don't need a running broker".
    body = "DEBUG = True\nCELERY_TASK_ALWAYS_EAGER = True\nCELERY_WORKER_CONCURRENCY = 64\n"
    path = tmp_path / "settings" / "dev.py"
    path.parent.mkdir()
    path.write_text(body)
    assert _codes(path, namespace="CELERY") == []
    production = tmp_path / "settings" / "production.py"
    production.write_text(body)
    assert sorted(_codes(production, namespace="CELERY")) == ["CT201", "CT305"]


def test_a_worker_config_in_eager_mode_still_gets_worker_rules(tmp_path: Path) -> None:
    path = tmp_path / "celeryconfig.py"
    path.write_text("broker_url = 'redis://r//'\ntask_always_eager = True\n")
    assert "CT305" in _codes(path)


OLD_STYLE = """\
CELERYD_CONCURRENCY = 2   # one per CPU
CELERYD_PREFETCH_MULTIPLIER = 1
CELERY_ACKS_LATE = True
CELERY_TASK_RESULT_EXPIRES = 3600
BROKER_URL = "redis://localhost:6379/0"
"""


def _conf(tmp_path: Path, body: str) -> dict[str, object]:
    name = _load_module(tmp_path, body)
    sys.path.insert(0, str(tmp_path))
    try:
        app = Celery(set_as_current=False)
        app.config_from_object(importlib.import_module(name))
        keys = ("worker_concurrency", "worker_prefetch_multiplier", "task_acks_late")
        conf = {k: app.conf[k] for k in keys}
        conf["result_expires"] = app.conf.result_expires
        conf["broker_url"] = app.conf.broker_url
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            conf["warns"] = app.conf.maybe_warn_deprecated_settings()
        return conf
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop(name, None)


def test_old_names_are_one_finding_whose_fix_celery_reads_the_same(tmp_path: Path) -> None:
    import io

    from tuner.commands.audit import audit

    before = _conf(tmp_path, OLD_STYLE)
    assert before["warns"] is True  # Celery warns about old names at worker start
    path = tmp_path / "celeryconfig.py"
    path.write_text(OLD_STYLE)
    findings = engine.run([str(path)], AuditOptions(workload="cpu", cpus=2)).findings
    assert [f.code for f in findings] == ["CT501"]
    assert all(old in findings[0].message for old in ("CELERYD_CONCURRENCY", "BROKER_URL"))
    out, err = io.StringIO(), io.StringIO()
    audit([str(path)], AuditOptions(workload="cpu", cpus=2, fix=True), out=out, err=err)
    after = _conf(tmp_path, path.read_text())
    assert after == {**before, "warns": False}
    assert engine.run([str(path)], AuditOptions(workload="cpu", cpus=2)).findings == []


def test_old_names_in_app_conf_update_warn_only_without_a_config_module(tmp_path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        app = Celery(set_as_current=False)
        app.conf.update(CELERYD_CONCURRENCY=2)
        assert app.conf.maybe_warn_deprecated_settings() is True
        name = _load_module(tmp_path, "broker_url = 'memory://'\n")
        sys.path.insert(0, str(tmp_path))
        try:
            app = Celery(set_as_current=False)
            app.config_from_object(name)
            app.conf.update(CELERYD_CONCURRENCY=2)
            assert app.conf.worker_concurrency == 2
            assert app.conf.maybe_warn_deprecated_settings() is False
        finally:
            sys.path.remove(str(tmp_path))
            sys.modules.pop(name, None)
    path = tmp_path / "app.py"
    head = "from celery import Celery\napp = Celery('p', broker='redis://r//')\n"
    path.write_text(head + "app.conf.update(CELERYD_CONCURRENCY=2)\n")
    assert _codes(path) == ["CT501"]
    path.write_text(
        head + f"app.config_from_object({name!r})\napp.conf.update(CELERYD_CONCURRENCY=2)\n"
    )
    assert _codes(path) == []


SPLIT_SETTINGS = """\
from .base import *  # noqa
ALLOWED_HOSTS = ["example.com"]
CELERY_BROKER_URL = "redis://redis:6379/0"
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ACKS_LATE = True
"""


def test_split_django_settings_are_read_with_the_namespace(tmp_path: Path) -> None:
    # settings/production.py doing `from .base import *`: no INSTALLED_APPS here, but Django's.
    path = tmp_path / "config" / "production.py"
    path.parent.mkdir()
    path.write_text(SPLIT_SETTINGS)
    assert _codes(path) == []
    # The same names in a module with no Django names: a Flask-style config, which reaches
    # Celery through conf.update(app.config) or config_from_object without a namespace, where
    # Celery ignores them.  Only a namespaced config_from_object in the run says otherwise.
    body = SPLIT_SETTINGS.replace('ALLOWED_HOSTS = ["example.com"]\n', "")
    other = tmp_path / "worker_settings.py"
    other.write_text(body)
    app = Celery(set_as_current=False)
    app.conf.update({"CELERY_WORKER_PREFETCH_MULTIPLIER": 1, "CELERY_TASK_ACKS_LATE": True})
    assert app.conf.worker_prefetch_multiplier == 4 and app.conf.task_acks_late is False
    assert _codes(other) == ["CT101", "CT101"]  # CELERY_BROKER_URL: the Flask pattern's own
    loader = tmp_path / "app.py"
    loader.write_text(
        "from celery import Celery\napp = Celery('proj')\n"
        "app.config_from_object('worker_settings', namespace='CELERY')\n"
    )
    options = AuditOptions(cpus=2)
    found = engine.run([str(other), str(loader)], options).findings
    assert [f.code for f in found if f.path == str(other)] == []


def test_namespace_style_names_in_celeryconfig_are_ignored_by_celery(tmp_path: Path) -> None:
    body = "broker_url = 'redis://r//'\nCELERY_TASK_ACKS_LATE = True\n"
    name = _load_module(tmp_path, body)
    sys.path.insert(0, str(tmp_path))
    try:
        app = Celery(set_as_current=False)
        app.config_from_object(name)  # what config_from_object('celeryconfig') does
        assert app.conf.task_acks_late is False
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop(name, None)
    path = tmp_path / "celeryconfig.py"
    path.write_text(body)
    assert _codes(path) == ["CT101"]


RETRY_CASES = [
    ({}, False),
    ({"broker_connection_retry": False}, True),
    ({"broker_connection_retry": 0}, True),
    ({"broker_connection_retry": False, "broker_connection_retry_on_startup": False}, False),
    ({"broker_connection_retry": True, "broker_connection_retry_on_startup": None}, False),
    ({"broker_connection_retry": False, "broker_connection_retry_on_startup": None}, True),
]


@pytest.mark.parametrize(("conf", "warns"), RETRY_CASES)
def test_ct306_fires_exactly_when_the_consumer_warns(
    tmp_path: Path, conf: dict[str, object], warns: bool
) -> None:
    """Consumer.ensure_connected, run against the Redis on loopback (db 14, nothing written)."""
    import types

    from celery.worker.consumer.consumer import Consumer

    app = Celery(set_as_current=False, broker="redis://127.0.0.1:6379/14")
    app.conf.update(conf)
    consumer = types.SimpleNamespace(
        app=app, first_connection_attempt=True, broker_connection_retry_attempt=0
    )
    conn = app.connection_for_read()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            Consumer.ensure_connected(consumer, conn)
    finally:
        conn.release()
    celery_warns = any(type(w.message).__name__ == "CPendingDeprecationWarning" for w in caught)
    assert celery_warns == warns
    path = tmp_path / "celeryconfig.py"
    body = "broker_url = 'redis://127.0.0.1:6379/14'\n"
    body += "".join(f"{k} = {v!r}\n" for k, v in conf.items())
    path.write_text(body)
    assert ("CT306" in _codes(path)) == warns
