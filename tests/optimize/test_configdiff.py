"""``config.diff``: only the lines that change, in the input's own form, and it applies."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tuner.optimize.configdiff import config_diff

SETTINGS: dict[str, object] = {
    "worker_pool": "prefork",
    "worker_concurrency": 2,
    "worker_prefetch_multiplier": 1,
    "worker_max_tasks_per_child": None,
    "task_acks_late": True,
    "task_time_limit": 300,
}


def changed(diff: str) -> tuple[list[str], list[str]]:
    body = diff.split("+++ ", 1)[1].splitlines()[1:]
    removed = [line[1:] for line in body if line.startswith("-")]
    added = [line[1:] for line in body if line.startswith("+")]
    return removed, added


def test_new_names_are_edited_in_place_and_the_rest_appended(tmp_path: Path) -> None:
    path = tmp_path / "celeryconfig.py"
    path.write_text(
        'broker_url = "redis://127.0.0.1:6379/0"\n'
        "worker_concurrency = 8  # set by ops\n"
        "worker_prefetch_multiplier = (\n    4\n)\n"
        "task_time_limit = 300\n"
    )
    diff = config_diff(str(path), SETTINGS)
    assert diff is not None and diff.startswith("--- a/celeryconfig.py\n+++ b/celeryconfig.py\n")
    removed, added = changed(diff)
    assert removed == [
        "worker_concurrency = 8  # set by ops",
        "worker_prefetch_multiplier = (",
        "    4",
        ")",
    ]
    assert added[:2] == ["worker_concurrency = 2  # set by ops", "worker_prefetch_multiplier = 1"]
    assert "worker_pool = 'prefork'" in added and "task_acks_late = True" in added
    assert "worker_max_tasks_per_child = None" in added
    assert not any("broker_url" in line or "task_time_limit" in line for line in removed + added)


def test_old_names_stay_old(tmp_path: Path) -> None:
    path = tmp_path / "celeryconfig.py"
    path.write_text('BROKER_URL = "redis://x"\nCELERYD_CONCURRENCY = 8\nCELERY_ACKS_LATE = False\n')
    diff = config_diff(str(path), SETTINGS)
    assert diff is not None
    removed, added = changed(diff)
    assert removed == ["CELERYD_CONCURRENCY = 8", "CELERY_ACKS_LATE = False"]
    assert added[:2] == ["CELERYD_CONCURRENCY = 2", "CELERY_ACKS_LATE = True"]
    assert "CELERYD_PREFETCH_MULTIPLIER = 1" in added and "CELERYD_POOL = 'prefork'" in added
    assert not any(line.startswith(("worker_", "task_")) for line in added)


def test_django_settings_use_the_celery_namespace(tmp_path: Path) -> None:
    path = tmp_path / "settings.py"
    path.write_text(
        "INSTALLED_APPS = []\n"
        "CELERY_BROKER_URL = 'redis://x'\n"
        "CELERY_WORKER_CONCURRENCY = 8\n"
        "CELERY_TASK_TIME_LIMIT = 300\n"
    )
    diff = config_diff(str(path), SETTINGS)
    assert diff is not None
    removed, added = changed(diff)
    assert removed == ["CELERY_WORKER_CONCURRENCY = 8"]
    assert added[0] == "CELERY_WORKER_CONCURRENCY = 2"
    assert "CELERY_WORKER_PREFETCH_MULTIPLIER = 1" in added
    assert "CELERY_TASK_ACKS_LATE = True" in added
    assert not any(line.startswith(("worker_", "task_")) for line in added)


def test_a_command_line_file_gets_its_options_edited(tmp_path: Path) -> None:
    path = tmp_path / "Procfile"
    path.write_text("web: gunicorn app\nworker: celery -A proj worker -c 8 -l info\n")
    diff = config_diff(str(path), SETTINGS)
    assert diff is not None
    preamble, _, rest = diff.partition("--- a/Procfile")
    assert "task_acks_late = True" in preamble and "task_time_limit = 300" in preamble
    removed, added = changed(rest)
    assert removed == ["worker: celery -A proj worker -c 8 -l info"]
    assert added == [
        "worker: celery -A proj worker --concurrency 2 -l info --pool prefork "
        "--prefetch-multiplier 1"
    ]


def test_nothing_to_change_is_no_diff(tmp_path: Path) -> None:
    path = tmp_path / "celeryconfig.py"
    path.write_text("worker_concurrency = 2\n")
    assert config_diff(str(path), {"worker_concurrency": 2}) is None


@pytest.mark.skipif(shutil.which("patch") is None, reason="needs patch(1)")
def test_the_diff_applies_with_patch(tmp_path: Path) -> None:
    path = tmp_path / "celeryconfig.py"
    path.write_text("broker_url = 'redis://x'\nworker_concurrency = 8\n")
    diff = config_diff(str(path), SETTINGS)
    assert diff is not None
    (tmp_path / "config.diff").write_text(diff)
    subprocess.run(["patch", "-p1", "-i", "config.diff"], cwd=tmp_path, check=True,
                   capture_output=True)  # fmt: skip
    namespace: dict[str, object] = {}
    exec(path.read_text(), namespace)
    assert namespace["worker_concurrency"] == 2 and namespace["task_acks_late"] is True
    assert namespace["broker_url"] == "redis://x"


def test_an_option_that_would_override_a_default_is_removed(tmp_path: Path) -> None:
    path = tmp_path / "Procfile"
    path.write_text("worker: celery -A proj worker --max-tasks-per-child 100 -P prefork -c 8\n")
    settings = {**SETTINGS, "worker_pool": "tuner.pools.prefork:AffinityPool"}
    diff = config_diff(str(path), settings)
    assert diff is not None
    preamble, _, rest = diff.partition("--- a/Procfile")
    assert "worker_pool = 'tuner.pools.prefork:AffinityPool'" in preamble
    removed, added = changed(rest)
    assert removed == [path.read_text().rstrip("\n")]
    assert added == ["worker: celery -A proj worker --concurrency 2 --prefetch-multiplier 1"]
