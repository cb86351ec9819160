"""The worker bootstep: ``app.steps["worker"].add(WorkerMetrics)``."""

from __future__ import annotations

import logging
import os
import shutil
from typing import Any, ClassVar

from celery import bootsteps, signals

from tuner.metrics import registry, tasks
from tuner.metrics.gil import GilSampler
from tuner.metrics.process import ProcessStats
from tuner.metrics.settings import Settings
from tuner.metrics.state import STATE

logger = logging.getLogger("tuner.metrics")


def _start_gil(role_stats: ProcessStats) -> None:
    settings, metrics = STATE.settings, STATE.metrics
    if settings is None or metrics is None or not settings.gil:
        return
    sampler = GilSampler(
        metrics.gil_wait,
        metrics.gil_busy,
        STATE.hostname,
        STATE.concurrency,
        interval_us=settings.gil_interval_us,
        period=settings.update_interval,
        on_tick=role_stats.maybe_update,
    )
    if sampler.start():
        STATE.gil = sampler


def on_child_init(**_: Any) -> None:
    """``worker_process_init`` (in a new prefork child): fresh per-process state, own sampler.

    The sampler thread is started here, after the fork: threads do not survive a fork.
    """
    if STATE.metrics is None or STATE.settings is None or os.getpid() == STATE.main_pid:
        return  # the solo pool sends it in the main process, which the bootstep handles
    STATE.after_fork()
    STATE.stats = ProcessStats(STATE.metrics, STATE.hostname, STATE.settings.update_interval)
    STATE.stats.update()
    _start_gil(STATE.stats)


def on_child_shutdown(**_: Any) -> None:
    """``worker_process_shutdown`` (in a prefork child that exits): last values, drop live gauges.

    A child killed without running this (SIGKILL, OOM) is found by the main process instead
    (see :class:`tuner.metrics.server.LiveCollector`).
    """
    if STATE.metrics is None:
        return
    try:
        from prometheus_client import multiprocess

        if STATE.stats is not None:
            STATE.stats.update()
        multiprocess.mark_process_dead(os.getpid(), STATE.directory)  # type: ignore[no-untyped-call]
    except Exception:  # never block a child's exit
        logger.debug("tuner.metrics: child shutdown", exc_info=True)


class WorkerMetrics(bootsteps.StartStopStep):  # type: ignore[misc]
    """Serve Prometheus metrics from this worker (see docs/metrics.md)."""

    requires: ClassVar[set[str]] = {"celery.worker.components:Pool"}
    label = "Metrics"

    def __init__(self, worker: Any, **kwargs: Any) -> None:
        super().__init__(worker, **kwargs)
        settings = Settings.from_conf(worker.app.conf)
        directory, created = registry.prepare_directory(settings.directory)
        STATE.settings = settings
        STATE.directory, STATE.created_directory = directory, created
        STATE.hostname = str(getattr(worker, "hostname", "") or "")
        STATE.main_pid = os.getpid()
        STATE.metrics = registry.create(directory)
        tasks.connect()
        signals.worker_process_init.connect(
            on_child_init, weak=False, dispatch_uid="tuner.metrics.on_child_init"
        )
        signals.worker_process_shutdown.connect(
            on_child_shutdown, weak=False, dispatch_uid="tuner.metrics.on_child_shutdown"
        )
        self.server: Any = None

    def start(self, worker: Any) -> None:
        from celery.concurrency.prefork import TaskPool

        from tuner.metrics.server import serve

        assert STATE.metrics is not None and STATE.settings is not None
        settings = STATE.settings
        STATE.stats = ProcessStats(STATE.metrics, STATE.hostname, settings.update_interval)
        STATE.stats.update()
        if not isinstance(worker.pool, TaskPool):  # threads, solo: tasks run in this process
            _start_gil(STATE.stats)
        self.server, port = serve(settings.addr, settings.port)
        logger.warning(
            "tuner.metrics: serving http://%s:%d/metrics (multiprocess dir %s)",
            settings.addr,
            port,
            STATE.directory,
        )

    def stop(self, worker: Any) -> None:
        if STATE.gil is not None:
            STATE.gil.stop()
            STATE.gil = None
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None
        # Children still exiting keep writing to their (now unlinked) files: harmless.
        if STATE.created_directory and STATE.main_pid == os.getpid():
            shutil.rmtree(STATE.directory, ignore_errors=True)

    def terminate(self, worker: Any) -> None:
        self.stop(worker)
