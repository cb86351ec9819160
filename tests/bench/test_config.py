from __future__ import annotations

from pathlib import Path

import pytest

from tuner.bench.config import (
    BASELINES,
    WorkerConfig,
    baseline,
    config_from_file,
    from_settings,
    parse_set,
    parse_value,
    unique_labels,
)
from tuner.bench.errors import BenchError


def test_parse_value_types() -> None:
    assert parse_value("4") == 4
    assert parse_value("0.5") == 0.5
    assert parse_value("true") is True
    assert parse_value("Off") is False
    assert parse_value("none") is None
    assert parse_value('["a", "b"]') == ["a", "b"]
    assert parse_value("fair") == "fair"


def test_parse_set_maps_fields_and_settings() -> None:
    cfg = parse_set("concurrency=4,worker_prefetch_multiplier=1,task_acks_late=true,label=late")
    assert cfg.label == "late"
    assert (cfg.concurrency, cfg.prefetch_multiplier, cfg.acks_late) == (4, 1, True)
    assert cfg.settings() == {
        "worker_concurrency": 4,
        "worker_prefetch_multiplier": 1,
        "task_acks_late": True,
    }


def test_parse_set_keeps_other_settings_and_json_values_with_commas() -> None:
    cfg = parse_set('task_time_limit=30,worker_proc_alive_timeout=8,accept_content=["json","yaml"]')
    assert cfg.extra == {
        "task_time_limit": 30,
        "worker_proc_alive_timeout": 8,
        "accept_content": ["json", "yaml"],
    }
    assert cfg.label.startswith("task_time_limit=30")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("worker_concurency=4", "did you mean worker_concurrency"),
        ("concurrency=-1", "must be >= 1"),
        ("concurrency=lots", "expected an integer"),
        ("pool=turbo", "unknown pool"),
        ("acks_late=maybe", "expected true or false"),
        ("optimization=fast", "expected fair or default"),
        ("broker_url=redis://x", "use --broker"),
        ("concurrency", "expected key=value"),
    ],
)
def test_parse_set_rejects_bad_input_with_one_line(text: str, message: str) -> None:
    with pytest.raises(BenchError, match=message) as info:
        parse_set(text)
    assert "\n" not in str(info.value)


def test_zero_limits_mean_none_as_in_celery() -> None:
    cfg = from_settings({"worker_max_tasks_per_child": 0}, "x")
    assert cfg.max_tasks_per_child is None


def test_baselines() -> None:
    assert set(BASELINES) == {"celery-default", "docs-long-tasks", "blog-recipe"}
    assert baseline("celery-default", 8).settings() == {}
    docs = baseline("docs-long-tasks", 8)
    assert docs.settings() == {"worker_prefetch_multiplier": 1, "task_acks_late": True}
    blog = baseline("blog-recipe", 3)
    assert (blog.prefetch_multiplier, blog.max_tasks_per_child, blog.concurrency) == (2, 100, 3)
    with pytest.raises(BenchError, match="unknown baseline"):
        baseline("fastest", 2)


def test_worker_args_and_applied_settings() -> None:
    cfg = WorkerConfig(
        pool="threads", concurrency=3, prefetch_multiplier=1, max_memory_per_child=1000
    )
    args = cfg.worker_args()
    assert args[:2] == ["-P", "threads"]
    assert "--max-memory-per-child" in args and "1000" in args
    applied = cfg.applied_settings()
    # Defaults are applied too, so a user's app cannot slip its own settings into a comparison.
    assert applied["task_acks_late"] is False
    assert applied["worker_max_tasks_per_child"] is None
    assert "worker_disable_prefetch" not in applied  # Celery warns about it on non-Redis brokers


def test_custom_pool_goes_through_the_setting() -> None:
    cfg = parse_set("pool=tuner.pools:AffinityPool,concurrency=2")
    assert "-P" not in cfg.worker_args()
    assert cfg.applied_settings()["worker_pool"] == "tuner.pools:AffinityPool"
    assert cfg.is_prefork()
    assert parse_set("pool=tuner.pools.prefork:AffinityPool").is_prefork()


def test_effective_concurrency() -> None:
    assert WorkerConfig(pool="solo", concurrency=8).effective_concurrency() == 1
    assert WorkerConfig(concurrency=3).effective_concurrency() == 3
    assert WorkerConfig().effective_concurrency() >= 1


def test_unique_labels() -> None:
    labels = [
        c.label for c in unique_labels([WorkerConfig("a"), WorkerConfig("a"), WorkerConfig("b")])
    ]
    assert labels == ["a", "a#2", "b"]


def test_config_from_command_line_file(tmp_path: Path) -> None:
    procfile = tmp_path / "Procfile"
    procfile.write_text(
        "worker: celery -A proj worker -c 3 --prefetch-multiplier 1 -O fair "
        "--max-tasks-per-child 50\n"
    )
    cfg, skipped = config_from_file(str(procfile))
    assert cfg.label == "Procfile"
    assert (cfg.concurrency, cfg.prefetch_multiplier, cfg.max_tasks_per_child) == (3, 1, 50)
    assert skipped == []


def test_config_from_python_file_skips_broker_settings(tmp_path: Path) -> None:
    pytest.importorskip(
        "tuner.audit.readers.python", reason="the audit's Python reader is not there yet"
    )
    conf = tmp_path / "celeryconfig.py"
    conf.write_text(
        "broker_url = 'redis://prod:6379/0'\n"
        "worker_concurrency = 4\n"
        "task_acks_late = True\n"
        "task_routes = {'a.*': {'queue': 'a'}}\n"
    )
    cfg, skipped = config_from_file(str(conf))
    assert (cfg.concurrency, cfg.acks_late) == (4, True)
    assert "broker_url" in skipped and "task_routes" in skipped


def test_config_file_errors_are_one_line(tmp_path: Path) -> None:
    with pytest.raises(BenchError, match="no such file"):
        config_from_file(str(tmp_path / "missing.py"))
    bad = tmp_path / "Procfile"
    bad.write_text("web: gunicorn app\n")
    with pytest.raises(BenchError, match="Procfile") as info:
        config_from_file(str(bad))
    assert "\n" not in str(info.value)
