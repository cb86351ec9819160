"""``--config``: the user's current config, read statically, becomes a baseline."""

from __future__ import annotations

from pathlib import Path

import pytest

from tuner.optimize.baselines import (
    DEFAULT_LABEL,
    INPUT_LABEL,
    ConfigError,
    celery_default,
    choice_of,
    read_config,
    worker_config,
)
from tuner.optimize.space import DEFAULTS, baseline_choice, default_space, project


def test_python_config_module(tmp_path: Path) -> None:
    path = tmp_path / "celeryconfig.py"
    path.write_text(
        "import os\n"
        "worker_pool = 'threads'\n"
        "worker_concurrency = 8\n"
        "worker_prefetch_multiplier = int(os.environ.get('PF', '2'))\n"
        "task_acks_late = True\n"
        "task_soft_time_limit = 20\n"
        "task_time_limit = 30\n"
        "task_serializer = 'json'\n"
        "broker_url = 'redis://example:6379/0'\n"
    )
    found = read_config(str(path), cpus=2)
    assert found.config.label == INPUT_LABEL
    assert (found.config.pool, found.config.concurrency) == ("threads", 8)
    assert found.config.prefetch_multiplier == 2 and found.config.acks_late is True
    assert found.choice["pool"] == "threads" and found.choice["concurrency"] == 8
    assert found.carried == {"task_soft_time_limit": 20, "task_time_limit": 30}
    assert found.extra["task_serializer"] == "json"
    assert "broker_url" not in found.extra  # the bench owns the broker
    assert any("broker_url" in note for note in found.notes)


def test_command_line_file(tmp_path: Path) -> None:
    path = tmp_path / "Procfile"
    path.write_text("worker: celery -A proj worker -P prefork -c 3 --max-tasks-per-child 50\n")
    found = read_config(str(path), cpus=2)
    assert found.choice["concurrency"] == 3 and found.choice["max_tasks_per_child"] == 50


def test_unknown_values_fall_back_to_defaults_with_a_note(tmp_path: Path) -> None:
    path = tmp_path / "celeryconfig.py"
    path.write_text(
        "from settings import N\nworker_concurrency = N\nworker_prefetch_multiplier = 1\n"
    )
    found = read_config(str(path), cpus=2)
    assert found.choice["concurrency"] is None  # Celery's default: one child per CPU
    assert found.choice["prefetch_multiplier"] == 1
    assert any("worker_concurrency is unknown statically" in note for note in found.notes)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("worker_concurrency = 'four'\n", "worker_concurrency"),
        ("def broken(:\n", "celeryconfig.py:1"),
    ],
)
def test_bad_configs_are_one_line(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "celeryconfig.py"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message) as info:
        read_config(str(path), cpus=2)
    assert "\n" not in str(info.value)


def test_baselines_project_onto_the_space() -> None:
    default = celery_default(2)
    assert default.label == DEFAULT_LABEL
    choice = baseline_choice(choice_of(default), 2)
    assert choice == {**DEFAULTS, "concurrency": 2}
    params = project(default_space(2, "cpu", broker_url=None, leaky=False), choice, 2)
    assert params["pool"] == "prefork" and params["concurrency"] == 2
    config = worker_config(choice, "x", {"task_time_limit": 5})
    assert (config.pool, config.concurrency, config.prefetch_multiplier) == ("prefork", 2, 4)
    assert config.extra == {"task_time_limit": 5}


def test_baselines_record_the_concurrency_they_run_with_and_get_fixed_settings() -> None:
    """celery-default runs with Celery's None = os.cpu_count(), whatever --cpus says; its trial
    params and what is emitted for it say so.  --fixed extras apply to the baselines too."""
    import os

    from tuner.optimize.baselines import DEFAULT_LABEL
    from tuner.optimize.output import emitted
    from tuner.optimize.results import _baseline_pick
    from tuner.optimize.search import enqueue_baselines
    from tuner.optimize.setup import OptimizeOptions, resolve

    ran = os.cpu_count() or 1
    setup = resolve(
        OptimizeOptions(
            workload="cpu",
            cpus=ran + 3,
            fixed=("worker_send_task_events=true",),
            probe=False,
        )
    )
    config = setup.baselines[DEFAULT_LABEL]
    assert config.concurrency is None and config.effective_concurrency() == ran
    assert config.extra == {"worker_send_task_events": True}
    assert setup.baseline_choices[DEFAULT_LABEL]["concurrency"] == ran

    import optuna

    study = optuna.create_study()
    enqueue_baselines(setup, study, created=True)
    params = study.get_trials(deepcopy=False)[0].system_attrs["fixed_params"]
    assert params["concurrency"] == ran  # not --cpus

    chosen = _baseline_pick(setup, study, DEFAULT_LABEL)
    settings, comments = emitted(setup, chosen)
    assert settings["worker_concurrency"] == ran
    assert "os.cpu_count()" in comments["worker_concurrency"]
    assert (
        settings["worker_send_task_events"] is True
        and comments["worker_send_task_events"] == "--fixed"
    )
    assert "task_time_limit" not in settings  # never invented


def test_a_config_without_time_limit_is_said_and_none_is_invented(tmp_path: Path) -> None:
    from tuner.optimize.setup import OptimizeOptions, resolve

    path = tmp_path / "celeryconfig.py"
    path.write_text("worker_concurrency = 2\n")
    setup = resolve(OptimizeOptions(workload="cpu", cpus=2, config=str(path), probe=False))
    assert any("no task time limit" in n and "CT303" in n for n in setup.notes)
    assert "task_time_limit" not in setup.trial_extra
    path.write_text("worker_concurrency = 2\ntask_time_limit = 30\n")
    setup = resolve(OptimizeOptions(workload="cpu", cpus=2, config=str(path), probe=False))
    assert not any("no task time limit" in n for n in setup.notes)
