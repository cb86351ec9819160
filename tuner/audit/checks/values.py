"""Checks on one value, wherever it is set (config module, app.conf, command line)."""

from __future__ import annotations

import datetime
import re
from urllib.parse import urlsplit

from tuner.audit import catalog
from tuner.audit.context import Context, pool_kind, where
from tuner.audit.workers import Entry

KIB_PER_GIB = 1024 * 1024
SERIALIZER_SETTINGS = (
    "task_serializer",
    "result_serializer",
    "event_serializer",
    "accept_content",
    "result_accept_content",
)
PICKLE = {"pickle", "application/x-python-serialize"}
URL_SETTINGS = ("broker_url", "broker_read_url", "broker_write_url", "result_backend")
RAW_ENV_READ = re.compile(r"^(os\.)?(environ\.get|getenv)\(")
PLACEHOLDER = re.compile(r"^(\$\{?\w+\}?|\{\w*\}|\*+|x+|<.*>|%\(.*\)s)$", re.IGNORECASE)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_type(ctx: Context, e: Entry) -> bool:
    """CT111.  Returns False when the value is of the wrong type (skip the range checks)."""
    info = catalog.get(e.setting)
    value = e.value.value
    if info is None or value is None or not e.value.judgeable:
        return True
    # Celery 5.7 types worker_concurrency as "any" to admit "auto"; it is an int otherwise.
    expected = "int" if e.setting == "worker_concurrency" else info.type
    name = where(e)
    problem = ""
    if (
        e.value.kind == "env"
        and RAW_ENV_READ.match(e.value.text)
        and expected in ("int", "float", "bool")
    ):
        problem = (
            f"`{name}` reads ${e.value.env} without converting it: when the variable is set, "
            f"Celery gets a str, not a{'n' if expected == 'int' else ''} {expected}"
        )
    elif expected == "int" and not _is_int(value):
        if not (e.setting == "worker_concurrency" and value == "auto"):
            problem = f"`{name}` must be an int, not {type(value).__name__} {value!r}"
    elif expected == "float" and not (_is_int(value) or isinstance(value, float)):
        problem = f"`{name}` must be a number, not {type(value).__name__} {value!r}"
    elif expected == "bool" and not isinstance(value, bool):
        truthy = " (any non-empty string is true, even 'false')" if isinstance(value, str) else ""
        problem = f"`{name}` must be a bool, not {type(value).__name__} {value!r}{truthy}"
    elif isinstance(value, int) and value < 0 and e.setting.startswith("worker_"):
        problem = f"`{name}` cannot be negative ({value})"
    if problem:
        ctx.report_entry("CT111", e, problem)
        return False
    return True


def _contains_pickle(value: object) -> bool:
    if isinstance(value, str):
        return value in PICKLE
    if isinstance(value, (list, tuple, set, frozenset)):
        return any(isinstance(v, str) and v in PICKLE for v in value)
    return False


def _urls(value: object) -> list[str]:
    if isinstance(value, str):
        return [u for u in value.split(";") if u.strip()]
    if isinstance(value, (list, tuple)):
        return [u for u in value if isinstance(u, str)]
    return []


def _password(url: str) -> str | None:
    try:
        password = urlsplit(url.strip()).password
    except ValueError:
        return None
    if not password or PLACEHOLDER.match(password):
        return None
    return password


def _seconds(value: object) -> float | None:
    if isinstance(value, datetime.timedelta):
        return value.total_seconds()
    if _is_int(value) or isinstance(value, float):
        return float(value)  # type: ignore[arg-type]
    return None


def check_entry(ctx: Context, e: Entry) -> None:
    if not e.value.judgeable or not _check_type(ctx, e):
        return
    v = e.value.value
    name = where(e)
    s = e.setting
    if s == "worker_pool":
        kind = pool_kind(v)
        if e.source == "cmdline" and kind == "custom" and v != "custom":
            ctx.report_entry(
                "CT110",
                e,
                f"`{name} {v}`: the command line accepts only pool aliases; set "
                f"worker_pool = {v!r} in config, or CELERY_CUSTOM_WORKER_POOL={v} with `-P custom`",
            )
        elif kind == "invalid":
            ctx.report_entry(
                "CT102",
                e,
                f"pool {v!r} is neither a Celery pool (prefork, threads, solo, gevent, "
                "eventlet) nor a 'module:Class' path",
            )
        elif kind in ("gevent", "eventlet") and e.source == "config":
            ctx.report_entry(
                "CT105",
                e,
                f"{kind} chosen in config: monkey-patching then happens too late; "
                f"start the worker with `-P {kind}`",
            )
    elif s == "worker_max_tasks_per_child" and _is_int(v):
        if v <= 0:  # type: ignore[operator]
            ctx.report_entry(
                "CT109",
                e,
                f"`{name}` = {v}: the prefork pool raises ValueError at start "
                "(use None for no limit)",
            )
    elif s == "worker_max_memory_per_child" and _is_int(v):
        kib = int(v)  # type: ignore[call-overload]
        if kib > 64 * KIB_PER_GIB:
            ctx.report_entry(
                "CT208",
                e,
                f"`{name}` is in KiB: {kib} KiB is {kib / KIB_PER_GIB / 1024:.1f} TiB; "
                f"if this is bytes, write {kib // 1024}",
            )
        elif 0 < kib < 20 * 1024:
            ctx.report_entry(
                "CT208",
                e,
                f"`{name}` is in KiB: {kib} KiB is below a Python child's own memory, so "
                f"every child is replaced after each task; if this is MiB, write {kib * 1024}",
            )
    elif s == "worker_prefetch_multiplier" and _is_int(v):
        if v == 0:
            ctx.report_entry(
                "CT204", e, f"`{name}` = 0 means unlimited: one worker takes every message"
            )
        elif v > 4:  # type: ignore[operator]
            ctx.report_entry(
                "CT205",
                e,
                f"`{name}` = {v} reserves {v} tasks per child ahead: long CPU tasks wait "
                "behind each other while other workers idle",
            )
    elif s in SERIALIZER_SETTINGS and _contains_pickle(v):
        ctx.report_entry("CT401", e, f"`{name}` allows pickle: a message can run code")
    elif s in URL_SETTINGS:
        for url in _urls(v):
            if url.startswith("memory://") and s.startswith("broker"):
                ctx.report_entry(
                    "CT112",
                    e,
                    f"`{name}` is memory://: a worker sees only tasks sent from its own process",
                )
            if _password(url) is not None:
                ctx.report_entry(
                    "CT402",
                    e,
                    f"`{name}` has a password written into the URL; read it from the environment",
                )
                break
    elif s == "result_expires" and (v is None or _seconds(v) == 0):
        ctx.report_entry("CT304", e, f"`{name}` = {v!r}: results never expire")
    elif s == "task_always_eager" and v is True:
        ctx.report_entry(
            "CT305", e, f"`{name}` = True: tasks run in the caller, never in the worker"
        )


def check_values(ctx: Context) -> None:
    for e in ctx.entries():
        check_entry(ctx, e)
