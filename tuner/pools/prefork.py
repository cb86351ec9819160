"""``AffinityPool``: Celery's prefork pool with each child pinned to one CPU.

Select it with ``worker_pool = "tuner.pools.prefork:AffinityPool"`` in the config, or with
``CELERY_CUSTOM_WORKER_POOL=tuner.pools.prefork:AffinityPool celery -A proj worker -P custom``.
(``tuner.pools:AffinityPool`` is the same class.)  This module's name ends in ``prefork`` on
purpose: Celery's tooling recognises a prefork pool by the last component of the pool class's
module (see :mod:`tuner.pools`).

How it works: the parent picks the CPU for each new child just before the fork (the least-used
CPU of the set, counting only live children, so a replacement takes the CPU its predecessor
freed) and records pid -> CPU.  The child applies the CPU first thing in ``worker_process_init``
(it inherits the choice through the fork); the parent also applies it to the new pid right after
the start, which covers the ``spawn`` start method.  Pinning cannot reduce GIL contention:
separate processes never share a GIL (see docs/affinity.md).
"""

from __future__ import annotations

import logging
import os
from typing import Any

from billiard.pool import Pool as _BilliardPool
from celery import signals
from celery.concurrency.asynpool import AsynPool as _AsynPool
from celery.concurrency.prefork import TaskPool

from tuner.affinity import (
    SETTING_CPUS,
    SETTING_PHYSICAL_ONLY,
    AffinityError,
    CpuAssigner,
    format_cpulist,
    resolve,
    supported,
)

__all__ = [
    "DISPATCH_UID",
    "AffinityAsynPool",
    "AffinityBlockingPool",
    "AffinityPool",
    "child_cpu",
    "pin_child",
]

# The package's name, as before the move to this module, so logging set up for it still applies.
logger = logging.getLogger("tuner.pools")
DISPATCH_UID = "tuner.pools.AffinityPool.pin_child"

# Set by the parent just before it forks a child; the child reads its inherited copy.
_pending_cpu: int | None = None
_child_cpu: int | None = None


def _pin(pid: int, cpu: int) -> bool:
    try:
        os.sched_setaffinity(pid, {cpu})
    except ProcessLookupError:
        return False
    except OSError as exc:
        logger.warning("AffinityPool: cannot pin pid %d to CPU %d: %s", pid, cpu, exc.strerror)
        return False
    return True


def pin_child(**_: object) -> None:
    """``worker_process_init`` handler: pin this child to the CPU its parent chose for it."""
    global _child_cpu
    cpu = _pending_cpu
    if cpu is None:
        return
    if _pin(0, cpu):
        _child_cpu = cpu
        logger.debug("AffinityPool: child %d pinned to CPU %d", os.getpid(), cpu)


def child_cpu() -> int | None:
    """In a pool child: the CPU this child was pinned to (None if unpinned)."""
    return _child_cpu


class _AffinityMixin:
    """Wraps billiard's ``_create_worker_process``: choose a CPU, fork, record, pin."""

    _pool: list[Any]

    def __init__(self, *args: Any, affinity: CpuAssigner | None = None, **kwargs: Any) -> None:
        self._affinity = affinity
        super().__init__(*args, **kwargs)

    def _create_worker_process(self, i: int) -> Any:
        global _pending_cpu
        assigner = self._affinity
        if assigner is None:
            return super()._create_worker_process(i)  # type: ignore[misc]
        with assigner.lock:
            live = [p.pid for p in self._pool if p.pid is not None]
            cpu = assigner.pick(live)
            shared = assigner.load(cpu) > 0
            _pending_cpu = cpu
            try:
                proc = super()._create_worker_process(i)  # type: ignore[misc]
            finally:
                _pending_cpu = None
            if proc.pid is not None:
                assigner.assign(proc.pid, cpu)
        if proc.pid is not None:
            _pin(proc.pid, cpu)
            logger.debug("AffinityPool: child %d -> CPU %d", proc.pid, cpu)
        if shared and not assigner.warned_shared:
            assigner.warned_shared = True
            logger.warning(
                "AffinityPool: more children than CPUs (%s): children share CPUs, spread evenly",
                format_cpulist(assigner.cpus),
            )
        return proc


class AffinityAsynPool(_AffinityMixin, _AsynPool):  # type: ignore[misc]
    """The event-loop prefork pool (brokers with async I/O) with pinning."""


class AffinityBlockingPool(_AffinityMixin, _BilliardPool):  # type: ignore[misc]
    """The thread-driven prefork pool (other brokers) with pinning."""


class AffinityPool(TaskPool):  # type: ignore[misc]
    """Prefork pool whose children are each pinned to one CPU of the worker's allowed set.

    Settings (the environment variables win): ``worker_affinity_cpus`` /
    ``CELERY_TUNE_AFFINITY_CPUS`` (a cpulist such as ``"0-3,8"``), and
    ``worker_affinity_physical_only`` / ``CELERY_TUNE_AFFINITY_PHYSICAL_ONLY`` (skip SMT siblings).
    """

    Pool = AffinityAsynPool
    BlockingPool = AffinityBlockingPool

    assigner: CpuAssigner | None = None

    def on_start(self) -> None:
        self.assigner = self._make_assigner()
        if self.assigner is not None:
            signals.worker_process_init.connect(pin_child, weak=False, dispatch_uid=DISPATCH_UID)
        self.options["affinity"] = self.assigner
        try:
            super().on_start()
        finally:
            self.options.pop("affinity", None)

    def _make_assigner(self) -> CpuAssigner | None:
        if not supported():
            logger.warning(
                "AffinityPool: os.sched_setaffinity is not available on this platform; "
                "running as plain prefork (children are not pinned)"
            )
            return None
        conf = self.app.conf if self.app is not None else {}
        try:
            plan = resolve(conf.get(SETTING_CPUS), conf.get(SETTING_PHYSICAL_ONLY))
        except AffinityError as exc:
            logger.error("AffinityPool: %s; children are NOT pinned", exc)
            return None
        for warning in plan.warnings:
            logger.warning("AffinityPool: %s", warning)
        n = len(plan.cpus)
        limit = self.limit or n
        logger.info(
            "AffinityPool: pinning %d children to CPUs %s (%s)",
            limit,
            format_cpulist(plan.cpus),
            plan.source,
        )
        assigner = CpuAssigner(plan.cpus)
        if limit > n:
            logger.warning(
                "AffinityPool: %d children on %d CPUs: up to %d per CPU, spread evenly; a pinned "
                "child cannot move to an idle CPU, so fewer children than CPUs is the better fit",
                limit,
                n,
                -(-limit // n),
            )
            assigner.warned_shared = True
        return assigner

    def assignments(self) -> dict[int, int]:
        """pid -> CPU of the live children."""
        return self.assigner.assignments() if self.assigner is not None else {}

    def _get_info(self) -> dict[str, Any]:
        info: dict[str, Any] = super()._get_info()
        if self.assigner is not None:
            info["affinity-cpus"] = format_cpulist(self.assigner.cpus)
            live = {p.pid for p in self._pool._pool} if self._pool is not None else set()
            info["affinity"] = {pid: cpu for pid, cpu in self.assignments().items() if pid in live}
        return info
