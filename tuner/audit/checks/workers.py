"""Checks on a worker's effective configuration: config plus command line, with Celery defaults
where the config is known, and nothing assumed where it is not."""

from __future__ import annotations

import math
import re

from tuner.audit.context import Context, elsewhere, pool_kind, where
from tuner.audit.model import Value
from tuner.audit.workers import Entry, Worker

GREEN_OR_THREADS = ("threads", "gevent", "eventlet")
GREEN = ("gevent", "eventlet")
VISIBILITY_DEFAULTS = {"redis": 3600.0, "rediss": 3600.0, "sqs": 1800.0}


def _known(value: Value | None) -> object:
    """The judgeable Python value, or None."""
    return value.value if value is not None and value.judgeable else None


def _number(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    return None


def _pool(w: Worker) -> str | None:
    value = w.value("worker_pool")
    if value is None:
        return None
    if not value.judgeable:
        return None
    return pool_kind(value.value if value.value is not None else "prefork")


def _allowed(w: Worker) -> int | None:
    return None if w.cpus is None else max(1, math.ceil(w.cpus.count))


def _performance(ctx: Context, w: Worker, pool: str | None) -> None:
    allowed = _allowed(w)
    conc = w.get("worker_concurrency")
    n = _number(_known(conc.value)) if conc else None
    # An unstated pool is Celery's default, prefork.
    pool_entry = w.get("worker_pool")
    if pool in ("prefork", None) and conc and n is not None and allowed and n > allowed:
        auto = ""
        if _in_container(w) and ctx.celery_version is not None and ctx.celery_version >= (5, 7):
            auto = "; on Celery 5.7+ `--concurrency auto` sizes the pool from the CPU quota"
        pool_at = elsewhere(pool_entry, conc.path)
        children = f"prefork children (the pool{pool_at})" if pool_at else "prefork children"
        ctx.report_entry(
            "CT201",
            conc,
            f"`{where(conc)}` = {n:g} {children} for {w.cpus}: CPU-bound tasks only take "
            f"turns, and each child costs memory{auto}",
        )
    elif pool in ("prefork", None) and conc is not None and _always_above(conc.cpu_formula):
        # `nproc` counts the CPUs of the machine (or, in a container, the node) it runs on,
        # and a CPU limit is never above that count, so 2 x nproc is too many anywhere.
        pool_at = elsewhere(pool_entry, conc.path)
        children = f"prefork children (the pool{pool_at})" if pool_at else "prefork children"
        ctx.report_entry(
            "CT201",
            conc,
            f"`{where(conc)}` starts more {children} than `nproc` counts CPUs, on any machine: "
            "CPU-bound tasks only take turns, and each child costs memory",
        )
    mtpc = w.get("worker_max_tasks_per_child")
    if pool in ("prefork", None) and mtpc is not None and _known(mtpc.value) == 1:
        pool_at = elsewhere(pool_entry, mtpc.path)
        ctx.report_entry(
            "CT207",
            mtpc,
            f"`{where(mtpc)}` = 1 forks a new child for every task"
            f"{' (the prefork pool' + pool_at + ')' if pool_at else ''}",
        )
    # auditprec (issue 9): `-P eventlet`/`-P gevent` on the command line is a deliberate
    # choice of green threads for I/O-bound tasks (the only way to get the monkey-patching
    # early, CT105), not a CPU-bound worker on the wrong pool: CT202 stays quiet there.
    deliberate = pool in GREEN and pool_entry is not None and pool_entry.source == "cmdline"
    if pool in GREEN_OR_THREADS and pool_entry is not None and n != 1 and not deliberate:
        ctx.report_entry(
            "CT202",
            pool_entry,
            f"the {pool} pool runs every task in one process with one GIL: only one CPU-bound "
            "task runs Python at a time; use prefork",
        )
    autoscale = w.command.get("autoscale") if w.command else None
    if autoscale is not None and allowed and isinstance(autoscale.value.value, str):
        top = autoscale.value.value.split(",")[0].strip()
        if top.isdigit() and int(top) > allowed:
            ctx.report(
                "CT206",
                w.command_path,
                autoscale.span,
                f"`--autoscale {autoscale.value.value}` grows to {top} children for {w.cpus}",
                value=autoscale.value,
            )
    acks = w.get("task_acks_late")
    mult = w.value("worker_prefetch_multiplier")
    mult_n = _number(_known(mult))
    if acks and _known(acks.value) is True and mult_n is not None and mult_n > 1:
        anchor = w.get("worker_prefetch_multiplier") or acks
        ctx.report_entry(
            "CT203",
            anchor,
            f"late acks{elsewhere(acks, anchor.path)} with a prefetch multiplier of {mult_n:g}: "
            f"each child reserves "
            f"{mult_n:g} tasks it cannot start; set worker_prefetch_multiplier = 1",
        )
    if (
        w.command is not None
        and w.command.cpu_limit is not None
        and w.config_known
        and conc is None
        and pool in ("prefork", None)
    ):
        ctx.report(
            "CT209",
            w.command_path,
            w.command.span,
            f"concurrency is unset, so Celery starts os.cpu_count() children (the node's CPUs), "
            f"not the container's limit{f' of {w.cpus}' if w.cpus else ''}; pass --concurrency",
        )
    elif _unconfigured_in_pod(ctx, w, conc, pool) and w.command is not None:
        ctx.report(
            "CT209",
            w.command_path,
            w.command.span,
            "no --concurrency here, and no config in this audit sets worker_concurrency: unless "
            "the app's config does, a prefork worker (Celery's default pool) starts "
            f"os.cpu_count() children, the node's CPUs, not the container's limit"
            f"{f' of {w.cpus.count:g}' if w.cpus else ''}; pass --concurrency",
        )


def _always_above(formula: str) -> bool:
    """Shell arithmetic over the CPU count that exceeds the count for every count."""
    if not formula:
        return False
    from tuner.audit.readers.arith import cpu_expression

    at = cpu_expression(formula)
    if at is None:
        return False
    for n in range(1, MAX_CPUS + 1):
        value = at(n)
        if value is None or value <= n:
            return False
    return True


# The largest CPU count checked by _always_above (more than any machine Celery runs on).
MAX_CPUS = 1024

# Environment variables through which a worker's concurrency may be set: click's
# CELERY_WORKER_CONCURRENCY, or a name the app's config may read.
CONCURRENCY_ENV = re.compile(r"CONCURREN|WORKERS|PROCESSES|NUM_PROC|CPUS|CORES", re.IGNORECASE)


def _in_container(w: Worker) -> bool:
    return w.command is not None and w.command.cpu_limit is not None


def _unconfigured_in_pod(ctx: Context, w: Worker, conc: Entry | None, pool: str | None) -> bool:
    """A Kubernetes container with a CPU limit, judged from the manifest alone: no config module
    in the run, and nothing in the command or the container's env that could set concurrency."""
    command = w.command
    if command is None or command.cpu_limit is None or not command.owner:
        return False
    if ctx.projects or w.config_known or conc is not None or pool not in ("prefork", None):
        return False
    if command.get("autoscale") is not None or command.config_module:
        return False
    return not any(name == "*" or CONCURRENCY_ENV.search(name) for name, _ in command.env)


def _ignored_by_pool(ctx: Context, w: Worker, pool: str | None) -> None:
    pool_entry = w.get("worker_pool")
    if pool in ("threads", "solo", "gevent", "eventlet"):
        for name in ("worker_max_tasks_per_child", "worker_max_memory_per_child"):
            e = w.get(name)
            if e is not None and _known(e.value) is not None:
                ctx.report_entry(
                    "CT104",
                    e,
                    f"`{where(e)}` only works with prefork; the {pool} pool"
                    f"{elsewhere(pool_entry, e.path)} ignores it",
                )
    conc = w.get("worker_concurrency")
    if pool == "solo" and conc is not None and _number(_known(conc.value)) not in (None, 1.0):
        ctx.report_entry(
            "CT104",
            conc,
            f"`{where(conc)}` is ignored by the solo pool{elsewhere(pool_entry, conc.path)}: "
            "it runs one task at a time",
        )


def _unset(entry: Entry | None) -> bool:
    """Not set, or set to a known None (what Celery tests with ``is None``)."""
    return entry is None or (entry.value.kind == "known" and entry.value.value is None)


def _broker_scheme(w: Worker) -> str | None:
    url = _known(w.value("broker_url"))
    if isinstance(url, str) and "://" in url:
        return url.split("://", 1)[0].split("+")[0].lower()
    return None


def _reliability(ctx: Context, w: Worker) -> None:
    hard_e, soft_e = w.get("task_time_limit"), w.get("task_soft_time_limit")
    hard = _number(_known(w.value("task_time_limit")))
    soft = _number(_known(w.value("task_soft_time_limit")))
    if soft_e is not None and hard is not None and soft is not None and soft >= hard:
        ctx.report_entry(
            "CT106",
            soft_e,
            f"soft time limit {soft:g}s is not below the hard limit {hard:g}s"
            f"{elsewhere(hard_e, soft_e.path)}: the soft limit never fires",
        )
    acks_e, reject_e = w.get("task_acks_late"), w.get("task_reject_on_worker_lost")
    acks = _known(w.value("task_acks_late"))
    if reject_e is not None and _known(reject_e.value) is True and acks is False:
        ctx.report_entry(
            "CT113",
            reject_e,
            "task_reject_on_worker_lost has no effect without task_acks_late = True"
            + (
                f" (task_acks_late = False{elsewhere(acks_e, reject_e.path)})"
                if elsewhere(acks_e, reject_e.path)
                else ""
            ),
        )
    if acks_e is not None and acks is True and reject_e is None and w.config_known:
        ctx.report_entry(
            "CT302",
            acks_e,
            "late acks without task_reject_on_worker_lost: a task whose child is killed "
            "(OOM, SIGKILL) is acked and lost; decide True or False explicitly",
        )
    scheme = _broker_scheme(w)
    limit = hard if hard is not None else soft
    limit_e: Entry | None = hard_e if hard is not None else soft_e
    if scheme in VISIBILITY_DEFAULTS and limit is not None and limit_e is not None:
        options = _known(w.value("broker_transport_options"))
        vt = VISIBILITY_DEFAULTS[scheme]
        vt_entry = w.get("broker_url")
        if isinstance(options, dict) and _number(options.get("visibility_timeout")) is not None:
            vt = float(options["visibility_timeout"])
            vt_entry = w.get("broker_transport_options")
        if vt < limit:
            ctx.report_entry(
                "CT301",
                limit_e,
                f"tasks may run {limit:g}s but the {scheme} visibility_timeout is {vt:g}s"
                f"{elsewhere(vt_entry, limit_e.path)}: unacked tasks are redelivered and run twice",
            )
    if not w.config_known:
        return
    path, span = w.project.anchor if w.project else w.anchor()
    if hard is None and soft is None:
        ctx.report(
            "CT303",
            path,
            span,
            "no task time limit: a stuck task holds its child forever; set task_time_limit "
            "(and task_soft_time_limit below it)",
        )
    retry = w.get("broker_connection_retry")
    if (
        retry is not None
        and retry.value.judgeable
        and not retry.value.value
        and _unset(w.get("broker_connection_retry_on_startup"))
    ):
        # celery/worker/consumer/consumer.py, Consumer.ensure_connected: with
        # broker_connection_retry_on_startup None, `not broker_connection_retry` decides, and
        # only then is the CPendingDeprecationWarning printed.
        ctx.report_entry(
            "CT306",
            retry,
            f"`{where(retry)}` = {retry.value.value!r} without broker_connection_retry_on_startup:"
            " Celery warns (CPendingDeprecationWarning) at every worker start that from 6.0 this "
            "no longer stops retries at startup; set broker_connection_retry_on_startup = False",
        )


def check_workers(ctx: Context) -> None:
    for w in ctx.workers:
        pool = _pool(w)
        _performance(ctx, w, pool)
        _ignored_by_pool(ctx, w, pool)
        _reliability(ctx, w)
