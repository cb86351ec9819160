"""Checks on one value, wherever it is set (config module, app.conf, command line)."""

from __future__ import annotations

import datetime
import re
from urllib.parse import urlsplit

from tuner.audit import accepts
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
# Words that stand for "put your password here": nobody's real secret, and what a tutorial or
# template commits on purpose (corpus: ``myuser:mypassword`` for a demo's own RabbitMQ).
PLACEHOLDER_WORD = re.compile(
    r"^(my|your|the|some|example|dummy|fake|sample)?[_-]?"
    r"(pass|password|passwd|pwd|secret|changeme|change[_-]?me|redacted|placeholder)$",
    re.IGNORECASE,
)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_type(ctx: Context, e: Entry) -> bool:
    """CT111, only for the settings of :mod:`tuner.audit.accepts`, judged by how Celery consumes
    them.  Returns False when the value is unusable (skip the range checks)."""
    value = e.value.value
    if not e.value.judgeable or e.setting not in accepts.ACCEPTS:
        return True
    name = where(e)
    problem: str | None = None
    if e.value.kind == "env" and RAW_ENV_READ.match(e.value.text):
        if accepts.env_string_breaks(e.setting):
            kind = accepts.ACCEPTS[e.setting][0]
            why = {
                "truth": "a non-empty string is true, even 'false'",
                "pool-limit": "kombu compares the pool limit with an int (TypeError)",
            }.get(kind, "billiard requires an int (ValueError at worker start)")
            problem = (
                f"`{name}` reads ${e.value.env} without converting it: when the variable is set, "
                f"Celery gets a str, and {why}"
            )
    elif value is not None:
        refused = accepts.problem(e.setting, value)
        if refused:
            problem = f"`{name}` = {value!r}: {refused}"
    if e.setting == "worker_concurrency" and _is_int(value) and value < 0:  # type: ignore[operator]
        problem = f"`{name}` = {value}: billiard raises ValueError for a negative process count"
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
        parts = urlsplit(url.strip())
        password = parts.password
    except ValueError:
        return None
    if not password or PLACEHOLDER.match(password) or PLACEHOLDER_WORD.match(password):
        return None
    if (parts.username, password) == ("guest", "guest"):
        return None  # RabbitMQ's built-in account, usable from localhost only: not a secret
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
        pass  # one finding per file: see _check_pickle
    elif s in URL_SETTINGS:
        for url in _urls(v):
            if url.startswith("memory://") and s.startswith("broker"):
                ctx.report_entry(
                    "CT112",
                    e,
                    f"`{name}` is memory://: a worker sees only tasks sent from its own process",
                )
            # CT402: see _check_passwords (one finding per password and file)
    elif s == "result_expires" and (v is None or _seconds(v) == 0):
        ctx.report_entry("CT304", e, f"`{name}` = {v!r}: results never expire")
    elif s == "task_always_eager" and v is True:
        ctx.report_entry(
            "CT305", e, f"`{name}` = True: tasks run in the caller, never in the worker"
        )


def _check_pickle(ctx: Context, entries: list[Entry]) -> None:
    """CT401 once per file: the serializer and the accept_content that admits it are one
    problem (a message can run code), reported at the first place, naming the others."""
    by_path: dict[str, list[Entry]] = {}
    for e in entries:
        if (
            e.setting in SERIALIZER_SETTINGS
            and e.value.judgeable
            and _contains_pickle(e.value.value)
        ):
            by_path.setdefault(e.path, []).append(e)
    for found in by_path.values():
        first = found[0]
        also = [f"`{where(e)}` (line {e.span.line})" for e in found[1:]]
        extra = f"; so does {', '.join(also)}" if also else ""
        ctx.report_entry(
            "CT401", first, f"`{where(first)}` allows pickle: a message can run code{extra}"
        )


def _written_password(ctx: Context, e: Entry) -> str | None:
    """The password written literally in the source of ``e``'s URL, or None.  A value built
    only from literals (``known``) has its password in the source.  A value with an environment
    read in it (``env``: the reader substituted the read's default, or ``None`` for a bare
    ``os.getenv``) counts only when the file itself has ``:password@`` in it, i.e. the default
    is a whole URL with the password (``os.environ.get('REDIS_URL', 'redis://:s3cret@h')``);
    ``f"redis://:{os.getenv('REDIS_PASSWORD')}@h"`` reads the password from the environment."""
    if e.value.kind not in ("known", "env"):
        return None
    for url in _urls(e.value.value):
        password = _password(url)
        if password is None:
            continue
        if e.value.kind == "known":
            return password
        source = next((s for s in ctx.sources if s.path == e.path), None)
        if source is not None and any(f":{password}@" in line for line in source.lines):
            return password
    return None


def _check_passwords(ctx: Context, entries: list[Entry]) -> None:
    """CT402 once per password and file: the broker and the backend set from one URL are one
    password to move out of the file, reported at the first place, naming the others."""
    found: dict[tuple[str, str], list[Entry]] = {}
    for e in entries:
        if e.setting in URL_SETTINGS and e.value.judgeable:
            password = _written_password(ctx, e)
            if password is not None:
                found.setdefault((e.path, password), []).append(e)
    for group in found.values():
        first = group[0]
        also = [f"`{where(e)}` (line {e.span.line})" for e in group[1:] if e.span != first.span]
        extra = f"; so does {', '.join(also)}" if also else ""
        ctx.report_entry(
            "CT402",
            first,
            f"`{where(first)}` has a password written into the URL; read it from the "
            f"environment{extra}",
        )


def check_values(ctx: Context) -> None:
    entries = list(ctx.entries())
    for e in entries:
        check_entry(ctx, e)
    _check_pickle(ctx, entries)
    _check_passwords(ctx, entries)
