from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from tuner.optimize.storages import (
    StorageError,
    default_url,
    delete_study,
    fail_dead_trials,
    open_storage,
    open_study,
    sqlite_lock,
)

optuna.logging.set_verbosity(optuna.logging.WARNING)
PG_URL = "postgresql://postgres@127.0.0.1:5432/test"
META = {"workload": "cpu", "objectives": ["throughput"], "p99_slo": None, "space": {"a": 1}}


def _study(
    url: str, name: str = "s", meta: Mapping[str, object] = META
) -> tuple[optuna.Study, bool]:
    return open_study(
        open_storage(url),
        name,
        ["maximize"],
        meta,
        sampler=optuna.samplers.RandomSampler(),
        pruner=optuna.pruners.NopPruner(),
    )


def test_sqlite_study_is_created_then_resumed(tmp_path: Path) -> None:
    url = default_url(tmp_path / "out")
    assert url.startswith("sqlite:////") and url.endswith("/out/study.db")
    study, created = _study(url)
    assert created
    study.optimize(lambda t: t.suggest_int("x", 0, 3), n_trials=2)
    again, created = _study(url)
    assert not created and len(again.trials) == 2
    assert again.metric_names == ["throughput"]


def test_resume_refuses_another_objective_or_space(tmp_path: Path) -> None:
    url = default_url(tmp_path)
    _study(url)
    with pytest.raises(StorageError, match=r"made with another space .*another --study-name"):
        _study(url, meta={**META, "space": {"a": 2}})
    with pytest.raises(StorageError, match="optimises maximize, not minimize"):
        open_study(
            open_storage(url),
            "s",
            ["minimize"],
            META,
            sampler=optuna.samplers.RandomSampler(),
            pruner=optuna.pruners.NopPruner(),
        )


def test_sqlite_lock_is_exclusive(tmp_path: Path) -> None:
    url = default_url(tmp_path)
    with (
        sqlite_lock(url),
        pytest.raises(StorageError, match="in use by another celery-tune optimize"),
        sqlite_lock(url),
    ):
        pass
    with sqlite_lock(url):  # released
        pass


def test_exclusive_resume_fails_trials_left_running(tmp_path: Path) -> None:
    url = default_url(tmp_path)
    study, _ = _study(url)
    study.optimize(lambda t: t.suggest_int("x", 0, 3), n_trials=1)
    orphan = study.ask()  # as if the process died mid-trial
    resumed, _ = _study(url)
    assert fail_dead_trials(resumed, exclusive=True) == [orphan.number]
    trial = resumed.trials[orphan.number]
    assert trial.state == TrialState.FAIL and "died" in trial.user_attrs["error"]
    assert resumed.trials[0].state == TrialState.COMPLETE


def test_heartbeat_fails_stale_trials_on_shared_storage(tmp_path: Path) -> None:
    url = default_url(tmp_path)
    # A grace period no loaded machine can overrun between two adjacent calls; then wait, with a
    # generous deadline, for the trial to go stale.
    storage = open_storage(url, heartbeat_interval=1, grace_period=5)
    study, _ = open_study(
        storage,
        "hb",
        ["maximize"],
        META,
        sampler=optuna.samplers.RandomSampler(),
        pruner=optuna.pruners.NopPruner(),
    )
    trial = study.ask()
    storage.record_heartbeat(trial._trial_id)
    assert fail_dead_trials(study, exclusive=False) == []  # still fresh
    time.sleep(5)
    deadline = time.monotonic() + 60
    while (failed := fail_dead_trials(study, exclusive=False)) == []:
        assert time.monotonic() < deadline, "the stale trial was never failed"
        time.sleep(0.5)
    assert failed == [trial.number]


def test_unreachable_database_is_one_line_with_password_masked() -> None:
    start = time.monotonic()
    with pytest.raises(StorageError) as info:
        open_storage("postgresql://user:s3cret@127.0.0.1:1/test")
    message = str(info.value)
    assert "s3cret" not in message and "****" in message
    assert "\n" not in message and "cannot open the study storage" in message
    assert time.monotonic() - start < 60  # refused at once; generous under load


def _postgres_or_skip() -> None:
    try:
        import psycopg2  # type: ignore[import-untyped]

        psycopg2.connect(PG_URL, connect_timeout=3).close()
    except Exception as exc:
        pytest.skip(f"PostgreSQL not reachable at {PG_URL}: {exc}")


def test_postgresql_study_round_trip() -> None:
    _postgres_or_skip()
    name = f"celery-tune-test-{uuid.uuid4().hex[:8]}"
    storage = open_storage(PG_URL)
    try:
        study, created = _study(PG_URL, name)
        assert created
        study.optimize(lambda t: t.suggest_int("x", 0, 3), n_trials=1)
        again, created = _study(PG_URL, name)
        assert not created and len(again.trials) == 1
    finally:
        delete_study(storage, name)
    assert name not in optuna.get_all_study_names(storage)
