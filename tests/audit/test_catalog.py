"""The settings catalog against the installed Celery; lookups, did-you-mean and heuristics."""

from __future__ import annotations

import json
import runpy
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from tuner.audit import catalog

ROOT = Path(__file__).resolve().parents[2]

defaults: Any = pytest.importorskip("celery.app.defaults")


def _type_name(t: object) -> str:
    return t.__name__ if isinstance(t, type) else str(t)


def _celery_options() -> dict[str, Any]:
    return dict(defaults.flatten(defaults.NAMESPACES))


def _from_defaults() -> set[str]:
    return {n for n in catalog.names() if catalog.get(n).source == "defaults.py"}  # type: ignore[union-attr]


# --- the catalog against the installed Celery -------------------------------------------------


def test_keys_match_installed_celery() -> None:
    ours, theirs = _from_defaults(), set(defaults.SETTING_KEYS)
    assert ours == theirs, (
        f"missing from the catalog: {sorted(theirs - ours)}; "
        f"not in Celery's SETTING_KEYS: {sorted(ours - theirs)}"
    )


def test_defaults_types_and_deprecations_match_installed_celery() -> None:
    gaps = []
    for key, opt in _celery_options().items():
        info = catalog.get(key)
        assert info is not None
        want = repr(opt.default) if info.default_is_repr else opt.default
        if info.default != want:
            gaps.append(f"{key}: default {info.default!r} != {want!r}")
        if info.type != _type_name(opt.type):
            gaps.append(f"{key}: type {info.type!r} != {_type_name(opt.type)!r}")
        got = (info.deprecated, info.removed, info.alt)
        if got != (opt.deprecate_by, opt.remove_by, opt.alt):
            gaps.append(f"{key}: deprecate/remove/alt {got} != Celery's")
    assert not gaps, "\n".join(gaps)


def test_old_names_match_installed_celery() -> None:
    gaps = [
        f"{new}: old_name {catalog.old_name(new)!r} != _TO_OLD_KEY {old!r}"
        for new, old in defaults._TO_OLD_KEY.items()
        if catalog.old_name(new) != old
    ]
    gaps += [
        f"{old}: new_name {catalog.new_name(old)!r} != _TO_NEW_KEY {new!r}"
        for old, new in defaults._TO_NEW_KEY.items()
        if catalog.new_name(old) != new
    ]
    ours = {o for n in catalog.names() for o in catalog.get(n).old_names}  # type: ignore[union-attr]
    extra = ours - set(defaults._TO_NEW_KEY)
    assert not gaps and not extra, "\n".join(gaps) + f"\nold names Celery lacks: {sorted(extra)}"


def test_generator_loader_reads_installed_celery_like_the_catalog() -> None:
    """tools/gen_catalog.py's loader, run on the installed Celery, agrees with the data."""
    gen = runpy.run_path(str(ROOT / "tools" / "gen_catalog.py"), run_name="gen_catalog")
    dump = gen["_run_json"](gen["_REAL"], "")
    assert dump["keys"].keys() == _from_defaults()
    for key, raw in dump["keys"].items():
        info = catalog.get(key)
        assert info is not None
        assert (raw["type"], raw["old"] or [key.upper()]) == (info.type, list(info.old_names))
    assert dump["to_new"] == {o: catalog.new_name(o) for o in dump["to_new"]}


def test_data_file_records_versions_and_sources() -> None:
    data = json.loads(Path(catalog.DATA).read_text(encoding="utf-8"))
    assert list(data["celery_versions"]) == ["5.3", "5.4", "5.5", "5.6", "5.7"]
    sources = {raw["source"] for raw in data["settings"].values()}
    assert sources == {"defaults.py", "docs", "celery-tune"}


# --- settings outside defaults.py ---------------------------------------------------------------

DOCUMENTED = [
    "redis_backend_credential_provider",
    "redis_backend_health_check_interval",
    "redis_client_name",
    "result_backend_thread_safe",
    "override_backends",
    *(
        f"{cmd}_{opt}"
        for cmd in ("worker", "beat", "events")
        for opt in ("pidfile", "logfile", "uid", "gid", "umask", "executable")
    ),
]


@pytest.mark.parametrize("name", DOCUMENTED)
def test_documented_settings_missing_from_defaults_are_valid(name: str) -> None:
    info = catalog.get(name)
    assert info is not None and info.source == "docs"
    assert name not in defaults.SETTING_KEYS
    assert catalog.is_new(name) and catalog.looks_like_setting(name)
    assert catalog.suggest(name) is None


def test_documented_settings_versions() -> None:
    assert catalog.version_note("worker_pidfile") == "added in Celery 5.4"
    assert catalog.version_note("redis_client_name") == "added in Celery 5.6"
    assert catalog.get("redis_backend_health_check_interval").added is None  # type: ignore[union-attr]


def test_celery_tune_settings() -> None:
    cpus = catalog.get("worker_affinity_cpus")
    physical = catalog.get("worker_affinity_physical_only")
    assert cpus is not None and physical is not None
    assert (cpus.source, cpus.default, cpus.old_names) == ("celery-tune", None, ())
    assert (physical.source, physical.default, physical.type) == ("celery-tune", False, "bool")
    assert "celery-tune" in (catalog.version_note("worker_affinity_cpus") or "")


# --- versions, defaults, old names --------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "added"),
    [
        ("worker_enable_prefetch_count_reduction", "5.4"),
        ("worker_soft_shutdown_timeout", "5.5"),
        ("worker_detect_quorum_queues", "5.5"),
        ("worker_disable_prefetch", "5.6"),
        ("worker_eta_task_limit", "5.6"),
        ("task_acks_on_failure", "5.7"),
        ("worker_prefetch_multiplier", None),
    ],
)
def test_added_versions(name: str, added: str | None) -> None:
    assert catalog.get(name).added == added  # type: ignore[union-attr]
    assert catalog.version_note(name) == (f"added in Celery {added}" if added else None)


def test_version_note_for_old_removed_and_deprecated_names() -> None:
    assert catalog.version_note("CELERYD_DISABLE_PREFETCH") == "added in Celery 5.6"
    assert catalog.version_note("CELERY_CHORD_PROPAGATES") == "removed in Celery 4.0"
    note = catalog.version_note("task_acks_on_failure_or_timeout") or ""
    assert "deprecation in Celery 6.0" in note and "removal in Celery 7.0" in note
    assert catalog.version_note("no_such_thing") is None


def test_defaults_from_the_facts() -> None:
    def default(name: str) -> object:
        info = catalog.get(name)
        assert info is not None
        return info.default

    assert default("worker_prefetch_multiplier") == 4
    assert default("worker_concurrency") is None
    assert default("worker_max_memory_per_child") is None
    assert default("task_acks_late") is False
    assert default("broker_pool_limit") == 10
    assert default("accept_content") == ("json",)
    expires = catalog.get("result_expires")
    assert expires is not None and expires.default_is_repr
    assert expires.default == "datetime.timedelta(days=1)"
    assert "5.7: type 'int' -> 'any'" in catalog.get("worker_concurrency").changes  # type: ignore[union-attr]


def test_old_names_generated_after_celery_4_are_marked() -> None:
    info = catalog.get("worker_disable_prefetch")
    assert info is not None
    assert info.old_names == ("CELERYD_DISABLE_PREFETCH",) == info.generated_old_names
    concurrency = catalog.get("worker_concurrency")
    assert concurrency is not None and concurrency.generated_old_names == ()
    assert catalog.new_name("CELERYD_DISABLE_PREFETCH") == "worker_disable_prefetch"
    assert catalog.old_name("worker_pidfile") is None
    assert catalog.is_old("BROKER_URL") and not catalog.is_old("broker_url")
    assert catalog.is_new("broker_url") and not catalog.is_new("BROKER_URL")


# --- removed settings -------------------------------------------------------------------------

MUST_BE_REMOVED = [
    "CELERY_SEND_TASK_ERROR_EMAILS",
    "CELERY_CHORD_PROPAGATES",
    "CELERY_AMQP_TASK_RESULT_EXPIRES",
    "CELERY_TASK_ERROR_WHITELIST",
    "CELERYD_FORCE_EXECV",
    "BROKER_INSIST",
    "CELERY_AMQP_TASK_RESULT_CONNECTION_MAX",
    "ADMINS",
    "SERVER_EMAIL",
    "CELERY_ENABLE_UTC",
    "task_queue_ha_policy",
]
STILL_VALID = [
    "CELERY_REDIRECT_STDOUTS",
    "CELERY_MAX_CACHED_RESULTS",
    "CELERYD_POOL_PUTLOCKS",
    "CELERY_CACHE_BACKEND_OPTIONS",
    "CELERY_RESULT_EXCHANGE",
    "CELERY_RESULT_EXCHANGE_TYPE",
]


def _removed_names() -> list[str]:
    data = json.loads(Path(catalog.DATA).read_text(encoding="utf-8"))
    return sorted(data["removed"])


def test_removed_names_are_not_valid_in_installed_celery() -> None:
    names = _removed_names()
    valid = set(defaults.SETTING_KEYS) | set(defaults._TO_NEW_KEY)
    assert len(names) >= len(MUST_BE_REMOVED)
    assert not valid & set(names), f"still valid: {sorted(valid & set(names))}"
    for name in names:
        info = catalog.removed(name)
        assert info is not None and info.evidence and info.removed_in < "5.1"
        assert info.replacement is None or catalog.is_new(info.replacement)


@pytest.mark.parametrize("name", MUST_BE_REMOVED)
def test_known_removed_settings(name: str) -> None:
    assert catalog.removed(name) is not None
    assert not catalog.is_old(name) and not catalog.is_new(name)


@pytest.mark.parametrize("name", STILL_VALID)
def test_suspected_removed_settings_are_still_valid(name: str) -> None:
    assert catalog.is_old(name) and name in defaults._TO_NEW_KEY
    assert catalog.removed(name) is None


def test_removed_details() -> None:
    info = catalog.removed("CELERY_AMQP_TASK_RESULT_CONNECTION_MAX")
    assert info is not None and info.replacement == "broker_pool_limit"
    assert info.removed_in == "3.1" and "whatsnew-3.1.rst" in info.evidence[0]
    emails = catalog.removed("CELERY_SEND_TASK_ERROR_EMAILS")
    assert emails is not None and emails.removed_in == "4.0" and not emails.common_name
    admins = catalog.removed("ADMINS")
    assert admins is not None and admins.common_name


def test_celery_ignores_a_removed_name_and_a_docs_only_old_name() -> None:
    """The docs list CELERY_ENABLE_UTC and CELERYD_REDIRECT_STDOUTS as old names: Celery ignores
    them (while it reads the real old name CELERY_REDIRECT_STDOUTS_LEVEL)."""
    from celery import Celery

    class Config:
        BROKER_URL = "memory://"
        CELERY_ENABLE_UTC = False
        CELERYD_REDIRECT_STDOUTS = False
        CELERY_REDIRECT_STDOUTS_LEVEL = "INFO"

    app = Celery("catalog_probe", set_as_current=False)
    app.config_from_object(Config)
    assert app.conf.worker_redirect_stdouts_level == "INFO"  # a real old name is read
    assert app.conf.enable_utc is True
    assert app.conf.worker_redirect_stdouts is True
    assert catalog.removed("CELERY_ENABLE_UTC") is not None
    assert catalog.suggest("CELERYD_REDIRECT_STDOUTS") == "CELERY_REDIRECT_STDOUTS"


# --- aliases and did-you-mean -----------------------------------------------------------------


def test_aliases_point_at_valid_settings_and_are_not_settings() -> None:
    data = json.loads(Path(catalog.DATA).read_text(encoding="utf-8"))
    aliases = data["aliases"]
    assert 20 <= len(aliases) <= 80
    valid = set(defaults.SETTING_KEYS) | set(defaults._TO_NEW_KEY)
    for name, alias in aliases.items():
        assert catalog.is_new(alias["target"]), name
        assert name not in valid and name.upper() not in valid, name
        assert catalog.is_alias(name) and catalog.looks_like_setting(name)
    assert not catalog.is_alias("worker_concurrency")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("worker_send_task_event", "worker_send_task_events"),
        ("worker_num_processes", "worker_concurrency"),
        ("worker_processes", "worker_concurrency"),
        ("BROKER_URI", "BROKER_URL"),
        ("broker_uri", "broker_url"),
        ("task_soft_limit", "task_soft_time_limit"),
        ("task_hard_time_limit", "task_time_limit"),
        ("worker_max_tasks", "worker_max_tasks_per_child"),
        ("worker_max_memory", "worker_max_memory_per_child"),
        ("worker_prefetch", "worker_prefetch_multiplier"),
        ("acks_late", "task_acks_late"),
        ("prefetch_multiplier", "worker_prefetch_multiplier"),
        ("concurrency", "worker_concurrency"),
        ("CELERYD_PROCESSES", "CELERYD_CONCURRENCY"),
        ("CELERY_WORKER_PROCESSES", "CELERYD_CONCURRENCY"),
        ("WORKER_CONCURRENCY", "CELERYD_CONCURRENCY"),
        ("CELERYD_CONCURENCY", "CELERYD_CONCURRENCY"),
        ("celeryd_concurrency", "worker_concurrency"),
        ("task_ack_late", "task_acks_late"),
        ("timzone", "timezone"),
        ("worker_pidfle", "worker_pidfile"),
        ("WORKER_PIDFILE", "worker_pidfile"),
        ("CELERY_TASK_RESULT_EXPIRE", "CELERY_TASK_RESULT_EXPIRES"),
    ],
)
def test_suggest(name: str, expected: str) -> None:
    assert catalog.suggest(name) == expected


@pytest.mark.parametrize("name", ["worker_concurrency", "BROKER_URL", "", "xyz", "celery_app"])
def test_suggest_nothing(name: str) -> None:
    assert catalog.suggest(name) is None


# --- looks_like_setting -------------------------------------------------------------------------

SETTING_LIKE = [
    "worker_concurrency",
    "BROKER_URL",
    "worker_send_task_event",
    "worker_num_processes",
    "task_soft_limit",
    "BROKER_URI",
    "CELERYD_CONCURENCY",
    "CELERY_SEND_TASK_ERROR_EMAILS",
    "CELERY_TASK_TIMEOUT",
    "WORKER_CONCURRENCY",
    "celeryd_concurrency",
    "timzone",
    "CELRY_ACKS_LATE",
    "S3_BUCKIT",
    "result_dir",
]
NOT_SETTINGS = [
    "celery_app",
    "app",
    "CELERY_CONFIG",
    "CELERY_APP",
    "CELERYD_OPTS",
    "CELERY_CONFIG_MODULE",
    "DEBUG",
    "INSTALLED_APPS",
    "DATABASES",
    "DATABASE_URL",
    "REDIS_URL",
    "redis_url",
    "TIME_ZONE",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "SECRET_KEY",
    "CACHES",
    "LOGGING",
    "EMAIL_HOST",
    "ADMINS",
    "REDIS_HOST",
    "SESSION_COOKIE_AGE",
    "_private",
    "Queue",
    "crontab",
    "os",
    "",
]


@pytest.mark.parametrize("name", SETTING_LIKE)
def test_looks_like_setting(name: str) -> None:
    assert catalog.looks_like_setting(name)


@pytest.mark.parametrize("name", NOT_SETTINGS)
def test_does_not_look_like_setting(name: str) -> None:
    assert not catalog.looks_like_setting(name)


def test_prefixes_derived_from_catalog() -> None:
    assert catalog.prefixes() >= catalog.NAMESPACES
    assert {"redis", "cassandra", "security", "event"} <= catalog.prefixes()


# --- the audit path stays free of Celery ---------------------------------------------------------


def test_import_does_not_load_celery_or_heavy_packages() -> None:
    code = textwrap.dedent(
        """
        import sys
        from tuner.audit import catalog
        catalog.suggest("worker_send_task_event")
        catalog.looks_like_setting("CELERY_CONFIG")
        catalog.version_note("worker_disable_prefetch")
        catalog.get("result_expires")
        heavy = {"celery", "kombu", "billiard", "optuna", "psutil", "plotly", "yaml", "click"}
        print(sorted(m for m in sys.modules if m.split(".")[0] in heavy))
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"
