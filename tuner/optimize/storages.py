"""Where a study lives: SQLite in the output directory by default, any RDB URL for several
machines.  Heartbeats mark the trials of dead processes FAIL; a study resumes by name.

SQLite is for one process: an exclusive lock file guards it, so when we hold the lock every
trial still RUNNING belongs to a process that died (SIGKILL, power loss) and is failed at once.
On a shared RDB (PostgreSQL) another process may be mid-trial, so only the heartbeat decides.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import time
import warnings
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import optuna
from optuna.exceptions import DuplicatedStudyError, ExperimentalWarning
from optuna.storages import RDBStorage
from optuna.trial import TrialState

DB_FILE = "study.db"
HEARTBEAT_INTERVAL = 5
GRACE_PERIOD = 20
META_KEY = "celery_tune"
Direction = Literal["minimize", "maximize"]


class StorageError(Exception):
    """The storage cannot be used; one clear line."""


def mask(url: str) -> str:
    return re.sub(r"(://[^:/@\s]*:)([^@\s]+)@", r"\1****@", url)


def default_url(out_dir: Path) -> str:
    return f"sqlite:///{(out_dir / DB_FILE).resolve()}"


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite:")


def sqlite_path(url: str) -> Path:
    return Path(url.removeprefix("sqlite:///"))


def driver_url(url: str) -> str:
    """SQLAlchemy 2.1 maps ``postgresql://`` to psycopg 3; fall back to psycopg2 when only it is
    installed, so the plain URL a user writes works."""
    scheme, sep, rest = url.partition("://")
    if sep and scheme in ("postgresql", "postgres"):
        import importlib.util

        if importlib.util.find_spec("psycopg") is None and importlib.util.find_spec("psycopg2"):
            return f"postgresql+psycopg2://{rest}"
    return url


def _first_line(exc: BaseException | None) -> str:
    text = str(exc).strip() if exc is not None else ""
    return text.splitlines()[0] if text else type(exc).__name__


def open_storage(
    url: str, *, heartbeat_interval: int = HEARTBEAT_INTERVAL, grace_period: int = GRACE_PERIOD
) -> RDBStorage:
    """An RDBStorage with heartbeats; connection problems become one StorageError line."""
    engine_kwargs: dict[str, Any] = {}
    shown = mask(url)
    url = driver_url(url)
    if url.startswith(("postgresql", "postgres")):
        engine_kwargs["connect_args"] = {"connect_timeout": 5}
    if is_sqlite(url):
        sqlite_path(url).parent.mkdir(parents=True, exist_ok=True)
        engine_kwargs["connect_args"] = {"timeout": 30}
    last: Exception | None = None
    for attempt in range(3):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ExperimentalWarning)
                return RDBStorage(
                    url,
                    engine_kwargs=engine_kwargs,
                    heartbeat_interval=heartbeat_interval,
                    grace_period=grace_period,
                )
        except ImportError as exc:
            raise StorageError(f"{shown}: missing database driver: {_first_line(exc)}") from None
        except Exception as exc:  # sqlalchemy errors: bad URL, refused, concurrent table creation
            last = exc
            if "could not connect" in str(exc) or "Connection refused" in str(exc):
                break
            time.sleep(0.5 * (attempt + 1))
    raise StorageError(f"{shown}: cannot open the study storage: {_first_line(last)}")


@contextlib.contextmanager
def sqlite_lock(url: str) -> Iterator[None]:
    """Hold an exclusive lock next to a SQLite study for the life of this process' run."""
    if not is_sqlite(url):
        yield
        return
    path = Path(str(sqlite_path(url)) + ".lock")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise StorageError(
                f"{sqlite_path(url)} is in use by another celery-tune optimize; SQLite is for one "
                "process: use --storage postgresql://... to run several"
            ) from None
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _compatible(meta: Mapping[str, object], wanted: Mapping[str, object]) -> str | None:
    for key in ("workload", "objectives", "p99_slo", "max_rss", "space", "load"):
        if key in wanted and meta.get(key) != wanted.get(key):
            return key
    return None


def open_study(
    storage: RDBStorage,
    name: str,
    directions: Sequence[Direction],
    meta: Mapping[str, object],
    *,
    sampler: optuna.samplers.BaseSampler,
    pruner: optuna.pruners.BasePruner,
) -> tuple[optuna.Study, bool]:
    """Create the study, or load it to resume.  Returns (study, created).

    A study made for another workload, objective or space is refused: mixing them would make
    trials incomparable.
    """
    try:
        study = optuna.create_study(
            storage=storage,
            study_name=name,
            directions=list(directions),
            sampler=sampler,
            pruner=pruner,
        )
        study.set_user_attr(META_KEY, dict(meta))
        objectives = meta.get("objectives")
        if isinstance(objectives, list):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ExperimentalWarning)
                study.set_metric_names([str(o) for o in objectives])
        return study, True
    except DuplicatedStudyError:
        pass
    study = optuna.load_study(study_name=name, storage=storage, sampler=sampler, pruner=pruner)
    existing = [d.name.lower() for d in study.directions]
    if existing != list(directions):
        raise StorageError(
            f"study {name!r} optimises {', '.join(existing)}, not {', '.join(directions)}: "
            "use another --study-name"
        )
    stored: object = None
    for _ in range(50):  # a concurrent creator may not have written its metadata yet
        stored = study.user_attrs.get(META_KEY)
        if stored is not None:
            break
        time.sleep(0.1)
    if not isinstance(stored, dict):
        raise StorageError(f"study {name!r} was not made by celery-tune optimize")
    differs = _compatible(stored, meta)
    if differs:
        raise StorageError(
            f"study {name!r} was made with another {differs} ({stored.get(differs)!r}); "
            "use another --study-name, or the same options to resume"
        )
    return study, False


def fail_dead_trials(study: optuna.Study, *, exclusive: bool) -> list[int]:
    """Mark trials whose process died FAIL; returns their numbers.

    ``exclusive``: we hold the only lock on this storage, so every RUNNING trial is dead.
    Otherwise the heartbeat's grace period decides.
    """
    if exclusive:
        storage = study._storage
        dead = []
        for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            storage.set_trial_user_attr(
                trial._trial_id, "error", "its optimize process died; failed on resume"
            )
            if storage.set_trial_state_values(trial._trial_id, state=TrialState.FAIL):
                dead.append(trial.number)
        return dead
    before = {t.number for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)
    after = {t.number for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))}
    return sorted(before - after)


def delete_study(storage: RDBStorage, name: str) -> None:
    optuna.delete_study(study_name=name, storage=storage)
