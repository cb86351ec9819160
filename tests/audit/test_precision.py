"""Minimal reproductions of the classes of wrong or noisy findings seen on real files (issue 9).
Each test states the class; each would fail on the audit as it was before the fix."""

from __future__ import annotations

from pathlib import Path

from tuner.audit import engine
from tuner.audit.options import AuditOptions


def _codes(tmp_path: Path, body: str, name: str = "celeryconfig.py", **kw: object) -> list[str]:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(body)
    options = AuditOptions(cpus=2, **kw)  # type: ignore[arg-type]
    return sorted(f.code for f in engine.run([str(path)], options).findings)


def test_rabbitmq_default_guest_account_is_not_a_leaked_password(tmp_path: Path) -> None:
    assert _codes(tmp_path, "broker_url = 'amqp://guest:guest@localhost:5672//'\n") == []
    assert _codes(tmp_path, "broker_url = 'amqp://app:s3cret@rabbit:5672//'\n") == ["CT402"]


def test_pickle_is_one_finding_per_file(tmp_path: Path) -> None:
    body = "task_serializer = 'pickle'\naccept_content = ['pickle', 'json']\n"
    assert _codes(tmp_path, body) == ["CT401"]


def test_a_plain_config_without_time_limit_or_retry_setting_is_clean(tmp_path: Path) -> None:
    # The two reminders that made up 59 of 136 findings: opt-in (CT303) or gone (CT306).
    body = "broker_url = 'redis://redis:6379/0'\nworker_concurrency = 2\n"
    assert _codes(tmp_path, body) == []
    assert _codes(tmp_path, body, select=("ALL",)) == ["CT303"]


def test_retry_on_startup_fires_only_when_celery_warns(tmp_path: Path) -> None:
    body = "broker_url = 'redis://r//'\nbroker_connection_retry = False\n"
    assert _codes(tmp_path, body) == ["CT306"]
    assert _codes(tmp_path, "broker_url = 'redis://r//'\nbroker_connection_retry = True\n") == []
    fixed = body + "broker_connection_retry_on_startup = False\n"
    assert _codes(tmp_path, fixed) == []


def test_embedded_beat_is_opt_in(tmp_path: Path) -> None:
    line = "worker: celery -A proj worker -B -c 1\n"
    assert _codes(tmp_path, line, name="Procfile") == []
    assert _codes(tmp_path, line, name="Procfile", extend_select=("CT307",)) == ["CT307"]


def test_django_project_names_are_never_unknown_settings(tmp_path: Path) -> None:
    body = (
        "INSTALLED_APPS = ['shop']\nS3_BUCKET = 'media'\nWORKER_TIMEOUT = 30\n"
        "REDIS_HOST = 'redis'\nCELERY_BROKER_URL = 'redis://redis//'\n"
        "CELERY_TRACK_STARTED = True\n"
    )
    assert _codes(tmp_path, body, name="settings.py") == []


def test_old_names_are_one_finding_per_module(tmp_path: Path) -> None:
    body = "".join(f"{n} = 1\n" for n in ("CELERYD_CONCURRENCY", "CELERYD_PREFETCH_MULTIPLIER"))
    body += "BROKER_URL = 'redis://r//'\nCELERY_ACKS_LATE = True\n"
    assert _codes(tmp_path, body) == ["CT501"]
