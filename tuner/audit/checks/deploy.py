"""Checks on how workers are deployed: ``celery multi``/``worker`` extra configuration, broker
transport options, Procfiles, and Kubernetes (KEDA autoscaling, termination grace periods).

A finding that rests on another file names that file and line in its message.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

from tuner.audit import catalog
from tuner.audit.context import Context, where
from tuner.audit.model import CommandLine, Manifest, SourceFile, Span, Trigger, Value
from tuner.audit.workers import Worker

# ``celery.app.defaults.NAMESPACES`` (Celery 5.7.0): its sub-namespaces, and the top-level options
# that belong to none.  ``cmdline_config_parser`` (celery/loaders/base.py) splits ``ns.key=value``
# at the first ``.``/``_`` and looks up ``NAMESPACES[ns][key]``, so a top-level option cannot be
# given this way either.  tests/audit/test_deploy.py checks both sets against Celery.
EXTRA_CONFIG_NAMESPACES = frozenset(
    [
        "arangodb",
        "azureblockblob",
        "beat",
        "broker",
        "cache",
        "cassandra",
        "control",
        "cosmosdbsql",
        "couchbase",
        "database",
        "elasticsearch",
        "event",
        "gcs",
        "mongodb",
        "redis",
        "result",
        "s3",
        "security",
        "task",
        "worker",
    ]
)
TOP_LEVEL_OPTIONS = frozenset(
    {"accept_content", "enable_utc", "imports", "include", "result_accept_content", "timezone"}
)
REDIS_SCHEMES = ("redis", "rediss", "sentinel")
# KEDA scalers that read a Redis list's length (LLEN), and RabbitMQ's.
KEDA_REDIS = ("redis", "redis-cluster", "redis-sentinel")
KEDA_RABBITMQ = "rabbitmq"
DEFAULT_GRACE = 30  # Kubernetes' default terminationGracePeriodSeconds


def _at(source: SourceFile, span: Span) -> str:
    return f"{source.path}:{span.line}"


# --------------------------------------------------------------------------- extra configuration


def extra_config_problem(word: str, namespace: str = "worker") -> str | None:
    """Why Celery's ``cmdline_config_parser`` rejects ``word``, or None if it parses it.

    Mirrors celery/loaders/base.py: ``key=value``; the key lower-cased with ``.`` as ``_``; a
    leading ``_`` means the command's own namespace; otherwise the part before the first ``_`` is
    the namespace.  A ``(type)`` cast before the value skips the setting lookup.
    """
    if "=" not in word:
        return "it is not `name.key=value`"
    key, value = word.split("=", 1)
    key = key.lower().replace(".", "_")
    if not key:
        return "the name is empty"
    if key[0] == "_":
        ns, key = namespace, key[1:]
    elif "_" not in key:
        return "the name has no namespace (`worker.key=value`)"
    else:
        ns, key = key.split("_", 1)
    if value.startswith("(") and ")" in value:
        return None  # (json)value, (int)value: cast, not looked up
    if ns not in EXTRA_CONFIG_NAMESPACES:
        return f"`{ns}` is not a settings namespace"
    name = f"{ns}_{key}"
    info = catalog.get(name)
    if info is None or info.source != "defaults.py" or name in TOP_LEVEL_OPTIONS:
        return f"the `{ns}` namespace has no `{key}`"
    return None


def check_extra_config(ctx: Context) -> None:
    for source in ctx.sources:
        for cmd in source.commands:
            for word, span in cmd.extra_config:
                problem = extra_config_problem(word)
                if problem is None:
                    continue
                suggestion = ""
                name = word.split("=", 1)[0].lower().replace(".", "_")
                new = catalog.new_name(name.upper()) or catalog.suggest(name)
                if new and catalog.is_new(new):
                    value = word.split("=", 1)[1] if "=" in word else "..."
                    suggestion = f"; did you mean `{new.replace('_', '.', 1)}={value}`?"
                every = (
                    "every worker `celery multi` starts"
                    if cmd.subcommand == "multi"
                    else ("the worker")
                )
                ctx.report(
                    "CT120",
                    source.path,
                    span,
                    f"`{word}` after `--` is extra configuration that Celery cannot parse "
                    f'({problem}): {every} exits with "Unable to parse extra configuration"'
                    f"{suggestion}",
                )


# --------------------------------------------------------------------------- transport options


def _broker_scheme(w: Worker) -> str | None:
    value = w.value("broker_url")
    url = value.value if value is not None and value.judgeable else None
    if isinstance(url, str) and "://" in url:
        return url.split("://", 1)[0].split("+")[0].lower()
    return None


def _transport_problem(options: dict[object, object]) -> str | None:
    """What in Redis transport options makes kombu or redis-py raise TypeError, if anything."""
    vt = options.get("visibility_timeout")
    if isinstance(vt, str):
        return (
            f"visibility_timeout is a str ({vt!r}): kombu's Redis transport computes "
            "time() - visibility_timeout (QoS.restore_visible) when the worker starts "
            'consuming, which raises TypeError, and the worker exits with "Unrecoverable '
            'error"; write a number'
        )
    keepalive = options.get("socket_keepalive_options")
    if options.get("socket_keepalive") is True and isinstance(keepalive, dict):
        bad = [k for k in keepalive if isinstance(k, str)]
        if bad:
            shown = ", ".join(repr(k) for k in bad[:3])
            return (
                f"socket_keepalive_options is keyed by strings ({shown}): redis-py passes each "
                "key to socket.setsockopt(), which raises TypeError, so the worker cannot "
                f"connect; use the socket constants (socket.{bad[0]})"
            )
    return None


def check_transport_options(ctx: Context) -> None:
    seen: set[tuple[str, int, int]] = set()
    for w in ctx.workers:
        entry = w.get("broker_transport_options")
        if entry is None or not entry.value.judgeable:
            continue
        options = entry.value.value
        if not isinstance(options, dict) or _broker_scheme(w) not in REDIS_SCHEMES:
            continue
        problem = _transport_problem(options)
        key = (entry.path, entry.span.line, entry.span.column)
        if problem is None or key in seen:
            continue
        seen.add(key)
        ctx.report_entry("CT121", entry, f"`{where(entry)}`: {problem}")


# --------------------------------------------------------------------------- Procfile


def check_procfile(ctx: Context) -> None:
    for source in ctx.sources:
        first: dict[str, Span] = {}
        for name, span in source.process_types:
            if name not in first:
                first[name] = span
                continue
            ctx.report(
                "CT122",
                source.path,
                span,
                f"process type `{name}` is declared again (first at line {first[name].line}): "
                'a process type names one command; honcho refuses the file ("process names '
                'must be unique within a Procfile"); rename one or delete the one you do not run',
            )


# --------------------------------------------------------------------------- Kubernetes


def _manifests(ctx: Context) -> Iterator[tuple[SourceFile, Manifest]]:
    for source in ctx.sources:
        for manifest in source.manifests:
            yield source, manifest


def _workers_of(
    ctx: Context, owner: str, namespace: str | None
) -> list[tuple[Worker, SourceFile, Manifest]]:
    """Workers whose command runs in the object ``owner`` (``Deployment/worker``)."""
    found = []
    for source, manifest in _manifests(ctx):
        if f"{manifest.kind}/{manifest.name}" != owner:
            continue
        if namespace and manifest.namespace and namespace != manifest.namespace:
            continue
        for w in ctx.workers:
            if (
                w.command is not None
                and w.command_path == source.path
                and (w.command.owner == owner)
            ):
                found.append((w, source, manifest))
    return found


def _number(value: Value | None) -> float | None:
    if value is None or not value.judgeable:
        return None
    v = value.value
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    return float(v)


def _meta(trigger: Trigger, key: str) -> str | None:
    return dict(trigger.metadata).get(key)


# KEDA's target per replica when the trigger does not set it: the redis scalers' listLength
# default (5) and the rabbitmq scaler's legacy queueLength default (20).
KEDA_DEFAULT_TARGET = {"redis": 5.0, "redis-cluster": 5.0, "redis-sentinel": 5.0, "rabbitmq": 20.0}


def _keda_target(trigger: Trigger) -> float | None:
    """The queue length per replica KEDA scales to (desired = ceil(length / target))."""
    if trigger.type == KEDA_RABBITMQ and (_meta(trigger, "mode") or "QueueLength") != "QueueLength":
        return None  # MessageRate: not a queue length
    keys = ("listLength",) if trigger.type in KEDA_REDIS else ("value", "queueLength")
    for key in keys:
        raw = _meta(trigger, key)
        if raw is not None:
            try:
                return float(raw)
            except ValueError:
                return None
    return KEDA_DEFAULT_TARGET.get(trigger.type)


def _hides_prefetched(trigger: Trigger) -> str | None:
    """What the scaler counts, when prefetched (reserved, unacked) messages are not in it."""
    if trigger.type in KEDA_REDIS:
        return "the Redis list's length"
    if trigger.type == KEDA_RABBITMQ:
        protocol = (_meta(trigger, "protocol") or "auto").lower()
        host = (_meta(trigger, "host") or "").lower()
        if protocol == "auto" and host.startswith("amqp"):
            protocol = "amqp"
        if protocol == "amqp":
            return "the queue's ready messages (AMQP queue.declare-ok)"
        if protocol == "http" and (_meta(trigger, "excludeUnacknowledged") or "") == "true":
            return "the queue's ready messages (excludeUnacknowledged)"
    return None


def _prefetch_fix(ctx: Context, redis: bool) -> str:
    version = ctx.celery_version
    one = "set worker_prefetch_multiplier = 1 with task_acks_late = True"
    if not redis:
        return one
    if version is None:
        return (
            f"on Celery 5.6+ pass --disable-prefetch (Redis only); before 5.6, {one} "
            "(--celery-version picks one)"
        )
    if version >= (5, 6):
        return "pass --disable-prefetch (worker_disable_prefetch, Celery 5.6+, Redis only)"
    return one


def check_keda(ctx: Context) -> None:
    for source, so in _manifests(ctx):
        if so.kind != "ScaledObject" or not so.target or so.target_span is None:
            continue
        for trigger in so.triggers:
            counted = _hides_prefetched(trigger)
            if counted is None:
                continue
            owner = f"{so.target_kind or 'Deployment'}/{so.target}"
            for w, wsource, workload in _workers_of(ctx, owner, so.namespace):
                entry = w.get("worker_prefetch_multiplier")
                disabled = w.value("worker_disable_prefetch")
                if disabled is None and entry is not None and entry.source == "cmdline":
                    # No config in the run: a multiplier written on the command line says
                    # that this worker prefetches.
                    disabled = Value("known", False)
                if disabled is None or not disabled.judgeable or disabled.value is True:
                    continue
                mult = _number(w.value("worker_prefetch_multiplier"))
                if mult is None or mult == 1:
                    continue
                if entry is not None:
                    origin = f"{entry.path}:{entry.span.line}"
                else:
                    origin = "Celery's default"
                    if w.project is not None:
                        origin += f", unset in {w.project.anchor[0]}"
                target = _keda_target(trigger)
                children = _number(w.value("worker_concurrency"))
                if children is None and w.cpus is not None:
                    children = float(max(1, math.ceil(w.cpus.count)))
                if mult == 0:
                    arithmetic = "every message it can (0: unlimited)"
                elif children is None or target is None:
                    continue  # the hidden share cannot be weighed against the target
                else:
                    # A replica holds mult x children unacked messages off the list.  With
                    # late acks the running tasks are among them, so mult x children - children
                    # wait; with early acks (the default) the running ones are acked already and
                    # all of them wait (tuner/plan/autoscale.py:hidden).  KEDA wants
                    # ceil(length / target) replicas, so the waiting ones shift its answer by
                    # waiting / target of a replica per running replica: fire from half a one.
                    held = mult * children
                    late = w.value("task_acks_late")
                    acks_late = late is not None and late.judgeable and late.value is True
                    waiting = held - children if acks_late else held
                    if waiting * 2 < target:
                        continue
                    arithmetic = (
                        f"{mult:g} x {children:g} children = {held:g} unacked tasks, "
                        f"{waiting:g} of them waiting ({'late' if acks_late else 'early'} acks), "
                        f"against a target of {target:g} per replica"
                    )
                fix = _prefetch_fix(ctx, trigger.type != KEDA_RABBITMQ)
                assert w.command is not None
                ctx.report(
                    "CT320",
                    source.path,
                    trigger.span,
                    f"KEDA scales {workload.kind} '{workload.name}' "
                    f"({_at(wsource, w.command.span)}) on {counted}, but each replica reserves "
                    f"{arithmetic} ({origin}): reserved tasks leave the count, so a backlog that "
                    f"needs another replica can sit reserved while KEDA sees a short or empty "
                    f"queue; {fix}",
                )


def _env(command: CommandLine, name: str) -> str | None:
    return dict(command.env).get(name)


def check_grace(ctx: Context) -> None:
    for w in ctx.workers:
        command = w.command
        if command is None or not command.owner:
            continue
        for source, workload in _manifests(ctx):
            if f"{workload.kind}/{workload.name}" != command.owner or source.path != w.command_path:
                continue
            grace = DEFAULT_GRACE if workload.grace is None else _number(workload.grace)
            if grace is None:
                continue
            shown = (
                f"terminationGracePeriodSeconds {grace:g}s ({_at(source, workload.grace_span)})"
                if workload.grace_span is not None
                else f"the default terminationGracePeriodSeconds of {DEFAULT_GRACE}s "
                f"({workload.kind} at {_at(source, workload.span)})"
            )
            if _env(command, "REMAP_SIGTERM") == "SIGQUIT":
                # SIGTERM starts a cold shutdown, after the soft shutdown (celery/apps/worker.py).
                entry = w.get("worker_soft_shutdown_timeout")
                soft = _number(entry.value) if entry is not None else None
                if entry is None or soft is None or soft <= grace:
                    continue
                ctx.report(
                    "CT321",
                    entry.path,
                    entry.span,
                    f"worker_soft_shutdown_timeout = {soft:g}s but the pod gets {shown} after "
                    "SIGTERM (REMAP_SIGTERM=SIGQUIT): the kubelet kills the worker before its "
                    "soft shutdown ends, and the running tasks with it",
                    setting="worker_soft_shutdown_timeout",
                    value=entry.value,
                )
                continue
            # SIGTERM starts a warm shutdown: the worker waits for its running tasks.
            hard_e, soft_e = w.get("task_time_limit"), w.get("task_soft_time_limit")
            limit_e = hard_e if hard_e is not None and _number(hard_e.value) else soft_e
            limit = _number(limit_e.value) if limit_e is not None else None
            if limit_e is None or limit is None or limit <= grace:
                continue
            ctx.report(
                "CT321",
                limit_e.path,
                limit_e.span,
                f"tasks may run {limit:g}s (`{where(limit_e)}`) but the pod of {workload.kind} "
                f"'{workload.name}' gets {shown} after SIGTERM: at scale-in or a rollout the "
                "kubelet kills the worker while such a task runs; raise "
                "terminationGracePeriodSeconds above the time limit",
                setting=limit_e.setting,
                value=limit_e.value,
            )
