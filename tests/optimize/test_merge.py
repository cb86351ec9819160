"""The emitted module layers onto the user's config the way Celery really merges.

A real app that already has a broker and time limits applies the advice exactly as the emitted
file's docstring states it; it keeps its broker_url and time limits and gets the tuned settings.
The advice it warns against (a second ``config_from_object``) is shown to lose them on the
installed Celery, so the warning stays true.
"""

from __future__ import annotations

import ast
import importlib
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from celery import Celery

from tuner.optimize import emit
from tuner.optimize.baselines import worker_config
from tuner.optimize.output import render_config, render_django
from tuner.optimize.results import PICK_LABEL, Pick
from tuner.optimize.setup import OptimizeOptions, resolve
from tuner.optimize.space import DEFAULTS, Choice

USER_CONFIG = """\
broker_url = "redis://127.0.0.1:6379/7"
task_time_limit = 300
task_soft_time_limit = 240
worker_concurrency = 8
worker_prefetch_multiplier = 4
"""
DJANGO_SETTINGS = """\
INSTALLED_APPS = ["django.contrib.auth"]
CELERY_BROKER_URL = "redis://127.0.0.1:6379/7"
CELERY_TASK_TIME_LIMIT = 300
CELERY_WORKER_CONCURRENCY = 8
"""
TUNED: Choice = {
    **DEFAULTS,
    "pool": "prefork",
    "concurrency": 3,
    "prefetch_multiplier": 1,
    "max_tasks_per_child": 500,
    "acks_late": True,
}


@pytest.fixture
def modules(tmp_path: Path) -> Iterator[Path]:
    """``tmp_path`` on sys.path; the modules imported from it are forgotten afterwards."""
    sys.path.insert(0, str(tmp_path))
    before = set(sys.modules)
    try:
        yield tmp_path
    finally:
        sys.path.remove(str(tmp_path))
        for name in set(sys.modules) - before:
            del sys.modules[name]


def emitted(django: bool = False) -> tuple[str, dict[str, object]]:
    setup = resolve(
        OptimizeOptions(
            workload="cpu", cpus=2, fixed=("worker_send_task_events=true",), probe=False
        )
    )
    chosen = Pick(None, worker_config(TUNED, PICK_LABEL, setup.trial_extra), TUNED)
    render = render_django if django else render_config
    text, remaining = render(setup, chosen, ["Worker settings chosen by a test."], "x1.2")
    assert remaining == []
    from tuner.optimize.output import emitted as settings_of

    return text, settings_of(setup, chosen)[0]


def advice(text: str) -> list[str]:
    """The indented code lines of the module's docstring, exactly as written there."""
    doc = ast.get_docstring(ast.parse(text), clean=False) or ""
    return [line[4:] for line in doc.splitlines() if line.startswith("    ")]


def test_the_docstring_gives_both_merges_and_warns_against_config_from_object() -> None:
    text, _ = emitted()
    assert advice(text) == [
        "from celeryconfig_tuned import *  # noqa: F401,F403",
        "import celeryconfig_tuned",
        "app.conf.update(celeryconfig_tuned.SETTINGS)",
    ]
    assert "Do not load it with a second app.config_from_object('celeryconfig_tuned')" in text


def test_import_at_the_end_of_the_users_config_module_merges(modules: Path) -> None:
    text, settings = emitted()
    (modules / emit.MODULE_FILE).write_text(text)
    star = advice(text)[0]
    (modules / "celeryconfig_user.py").write_text(USER_CONFIG + star + "\n")
    app = Celery("merge-star", set_as_current=False)
    app.config_from_object("celeryconfig_user")
    assert app.conf.broker_url == "redis://127.0.0.1:6379/7"
    assert app.conf.task_time_limit == 300 and app.conf.task_soft_time_limit == 240
    for key, value in settings.items():
        assert app.conf[key] == value, key
    assert app.conf.worker_concurrency == 3 and app.conf.worker_send_task_events is True
    user = importlib.import_module("celeryconfig_user")
    assert not hasattr(user, "SETTINGS") and not hasattr(user, "annotations")  # only settings


def test_conf_update_from_the_exported_dict_merges(modules: Path) -> None:
    text, settings = emitted()
    (modules / emit.MODULE_FILE).write_text(text)
    (modules / "celeryconfig_user.py").write_text(USER_CONFIG)
    app = Celery("merge-update", set_as_current=False)
    app.config_from_object("celeryconfig_user")
    namespace = {"app": app}
    exec("\n".join(advice(text)[1:]), namespace)  # the two lines, as the docstring states them
    assert app.conf.broker_url == "redis://127.0.0.1:6379/7"
    assert app.conf.task_time_limit == 300 and app.conf.task_soft_time_limit == 240
    for key, value in settings.items():
        assert app.conf[key] == value, key


def test_a_second_config_from_object_really_replaces(modules: Path) -> None:
    """Why the docstring warns: on the installed Celery the user's broker and limits are lost."""
    text, _ = emitted()
    (modules / emit.MODULE_FILE).write_text(text)
    (modules / "celeryconfig_user.py").write_text(USER_CONFIG)
    app = Celery("replace", set_as_current=False)
    app.config_from_object("celeryconfig_user")
    app.config_from_object(emit.MODULE_NAME)
    assert app.conf.worker_concurrency == 3
    assert app.conf.broker_url != "redis://127.0.0.1:6379/7"
    assert app.conf.task_time_limit is None


def test_the_django_form_merges_into_namespaced_settings(modules: Path) -> None:
    text, settings = emitted(django=True)
    (modules / emit.DJANGO_MODULE_FILE).write_text(text)
    star = advice(text)[0]
    assert star == "from celeryconfig_tuned_django import *  # noqa: F401,F403"
    (modules / "proj_settings.py").write_text(DJANGO_SETTINGS + star + "\n")
    app = Celery("merge-django", set_as_current=False)
    # What Django projects do: config_from_object('django.conf:settings', namespace='CELERY').
    app.config_from_object("proj_settings", namespace="CELERY")
    assert app.conf.broker_url == "redis://127.0.0.1:6379/7"
    assert app.conf.task_time_limit == 300
    for key, value in settings.items():
        assert app.conf[key] == value, key


def test_the_docs_quote_the_advice_word_for_word() -> None:
    from tests.conftest import ROOT

    doc = (ROOT / "docs" / "optimize.md").read_text()
    for line in emit.APPLY_LINES:
        assert f"  {line}\n" in doc, line
