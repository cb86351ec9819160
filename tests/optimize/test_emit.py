from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from tuner.optimize.emit import (
    MODULE_FILE,
    celery_settings,
    command_line,
    render_module,
    write_atomic,
)
from tuner.optimize.space import AFFINITY_POOL, DEFAULTS, Choice


def choice(**kw: object) -> Choice:
    return {**DEFAULTS, **kw}  # type: ignore[dict-item]


def test_prefork_settings_are_explicit_and_override_the_project() -> None:
    c = choice(pool="prefork", concurrency=3, prefetch_multiplier=1, acks_late=True)
    assert celery_settings(c) == {
        "worker_pool": "prefork",
        "worker_concurrency": 3,
        "worker_prefetch_multiplier": 1,
        "worker_max_tasks_per_child": None,
        "task_acks_late": True,
        "task_reject_on_worker_lost": False,
    }
    assert command_line(c, "proj") == (
        "celery -A proj worker --pool prefork --concurrency 3 --prefetch-multiplier 1 "
        "--loglevel INFO"
    )


def test_solo_threads_green_and_class_pools() -> None:
    solo = celery_settings(choice(pool="solo", concurrency=None, max_tasks_per_child=5))
    assert "worker_concurrency" not in solo and "worker_max_tasks_per_child" not in solo
    threads = celery_settings(choice(pool="threads", concurrency=8, disable_prefetch=True))
    assert threads["worker_disable_prefetch"] is True
    assert "worker_prefetch_multiplier" not in threads
    assert "--disable-prefetch" in command_line(choice(pool="threads", disable_prefetch=True))
    green = choice(pool="gevent", concurrency=100)
    assert "worker_pool" not in celery_settings(green)  # green pools go through -P only
    assert "--pool gevent --concurrency 100" in command_line(green)
    affinity = choice(pool=AFFINITY_POOL, concurrency=2, max_tasks_per_child=100)
    assert celery_settings(affinity)["worker_pool"] == AFFINITY_POOL
    line = command_line(affinity, "app.celery")
    assert line.startswith(f"CELERY_CUSTOM_WORKER_POOL={AFFINITY_POOL} celery -A app.celery worker")
    assert "--pool custom" in line and "--max-tasks-per-child 100" in line


def test_module_is_importable_and_celery_reads_it(tmp_path: Path) -> None:
    from celery import Celery

    settings = celery_settings(
        choice(pool="prefork", concurrency=4, prefetch_multiplier=2, max_tasks_per_child=500)
    )
    settings["task_time_limit"] = 120
    text = render_module(
        settings,
        ['Chosen by "celery-tune optimize" """ quotes are safe', "", "throughput x1.10"],
        comments={"worker_concurrency": "measured: 2.1x defaults"},
        suppress={"worker_concurrency": ["CT201"]},
    )
    assert "worker_concurrency = 4  # celery-tune: ignore[CT201]  measured: 2.1x" in text
    path = tmp_path / MODULE_FILE
    path.write_text(text)
    spec = importlib.util.spec_from_file_location("celeryconfig_tuned", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for key, value in settings.items():
        assert getattr(module, key) == value
    app = Celery(set_as_current=False)
    app.config_from_object(module)
    assert app.conf.worker_concurrency == 4
    assert app.conf.worker_max_tasks_per_child == 500
    assert app.conf.task_time_limit == 120


def test_write_atomic_replaces_whole_files(tmp_path: Path) -> None:
    out = tmp_path / "out"
    write_atomic(out, {"a.txt": "one", "b.bin": b"\x00\x01"})
    write_atomic(out, {"a.txt": "two"})
    assert (out / "a.txt").read_text() == "two" and (out / "b.bin").read_bytes() == b"\x00\x01"
    assert sorted(p.name for p in out.iterdir()) == ["a.txt", "b.bin"]


def test_write_atomic_failure_leaves_old_file_and_no_temp(tmp_path: Path) -> None:
    out = tmp_path / "out"
    write_atomic(out, {"a.txt": "old"})
    (out / "dir.txt").mkdir()
    with pytest.raises(OSError):
        write_atomic(out, {"a.txt": "new", "dir.txt": "cannot replace a directory"})
    assert (out / "a.txt").read_text() == "new"  # earlier files are whole
    assert sorted(p.name for p in out.iterdir()) == ["a.txt", "dir.txt"]  # no temp left
