"""Per-process CPU seconds, resident memory and task count, written by each process itself."""

from __future__ import annotations

import os
import threading
import time

from tuner.metrics.registry import Metrics

_PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_bytes() -> int:
    with open("/proc/self/statm", "rb") as f:
        return int(f.read().split()[1]) * _PAGE


def cpu_seconds() -> float:
    t = os.times()
    return t.user + t.system


class ProcessStats:
    """Updates this process's gauges at most once per ``interval`` (and on demand)."""

    def __init__(self, metrics: Metrics, hostname: str, interval: float) -> None:
        self.metrics = metrics
        self.labels = {"hostname": hostname}
        self.interval = interval
        self.pid = os.getpid()
        self.tasks = 0
        self._cpu_seen = cpu_seconds()
        self._next = 0.0
        self._lock = threading.Lock()

    def task_done(self) -> None:
        with self._lock:
            self.tasks += 1
        self.maybe_update()

    def maybe_update(self) -> None:
        now = time.monotonic()
        if now >= self._next:
            self._next = now + self.interval
            self.update()

    def update(self) -> None:
        m = self.metrics
        cpu = cpu_seconds()
        with self._lock:
            delta, self._cpu_seen = cpu - self._cpu_seen, cpu
            tasks = self.tasks
        m.process_cpu.labels(**self.labels).set(cpu)
        m.process_rss.labels(**self.labels).set(rss_bytes())
        m.process_tasks.labels(**self.labels).set(tasks)
        if delta > 0:
            m.cpu_total.labels(hostname=self.labels["hostname"]).inc(delta)
