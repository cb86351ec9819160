"""The ``/metrics`` endpoint of the worker's main process.

It serves the sum of every process's files (``MultiProcessCollector``) plus what only the main
process knows at scrape time: reserved and active requests, and pool children that exited.  A
child that exited is found from its files in the directory: its live gauges are dropped
(``multiprocess.mark_process_dead``) and it counts as a restart.
"""

from __future__ import annotations

import glob
import os
import re
import threading
from collections.abc import Iterator
from typing import Any

from tuner.metrics.state import STATE

_PID_FILE = re.compile(r"_(\d+)\.db$")
LIVE_FAMILIES = (
    ("celery_worker_up", "gauge"),
    ("celery_worker_tasks_reserved", "gauge"),
    ("celery_worker_tasks_active", "gauge"),
    ("celery_worker_tasks_scheduled", "gauge"),
    ("celery_worker_child_restarts", "counter"),
)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class LiveCollector:
    """Metrics computed in the main process when Prometheus scrapes."""

    def __init__(self) -> None:
        self.dead: set[int] = set()
        self._lock = threading.Lock()

    def sweep(self) -> None:
        """Mark every child whose files remain but whose process is gone."""
        from prometheus_client import multiprocess

        pids = set()
        for path in glob.glob(os.path.join(STATE.directory, "*.db")):
            m = _PID_FILE.search(path)
            if m:
                pids.add(int(m.group(1)))
        with self._lock:
            for pid in sorted(pids - self.dead - {STATE.main_pid}):
                if not _alive(pid):
                    multiprocess.mark_process_dead(pid, STATE.directory)  # type: ignore[no-untyped-call]
                    self.dead.add(pid)

    def collect(self) -> Iterator[Any]:
        from celery.worker import state as worker_state
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        self.sweep()
        if STATE.stats is not None:
            STATE.stats.update()
        host = [STATE.hostname]
        reserved = set(worker_state.reserved_requests)
        active = set(worker_state.active_requests)
        families = [
            ("celery_worker_up", "1 while the worker serves metrics.", 1),
            (
                "celery_worker_tasks_reserved",
                "Tasks prefetched by the worker but not started in the pool (prefetch hoarding).",
                len(reserved - active),
            ),
            ("celery_worker_tasks_active", "Tasks running in the pool.", len(active)),
            (
                "celery_worker_tasks_scheduled",
                "Tasks held for their ETA/countdown.",
                len(worker_state.scheduled_requests),
            ),
        ]
        for name, doc, value in families:
            g = GaugeMetricFamily(name, doc, labels=["hostname"])
            g.add_metric(host, value)
            yield g
        c = CounterMetricFamily(
            "celery_worker_child_restarts",
            "Pool child processes that exited while the worker ran (and were replaced).",
            labels=["hostname"],
        )
        c.add_metric(host, len(self.dead))
        yield c


def serve(addr: str, port: int) -> tuple[Any, int]:
    """Start the HTTP server thread; returns (server, the port it listens on)."""
    from prometheus_client import CollectorRegistry, start_http_server
    from prometheus_client.multiprocess import MultiProcessCollector

    registry = CollectorRegistry()
    registry.register(LiveCollector())  # first: its sweep drops dead children's live gauges
    MultiProcessCollector(registry, path=STATE.directory)  # type: ignore[no-untyped-call]
    server, _thread = start_http_server(port, addr=addr, registry=registry)
    return server, int(server.server_address[1])
