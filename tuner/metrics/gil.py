"""GIL contention, sampled in-process with gilknocker (no ptrace).

gilknocker runs a native thread that, every ``interval_us`` microseconds, asks for the GIL and
times how long it waits: the share of time it waited is the GIL's occupancy as any thread that
wants it experiences it (``celery_worker_gil_busy_seconds_total``).  A single busy thread keeps
that share high although nothing else wants the GIL (a prefork child running Python), so the
contention counter, ``celery_worker_gil_wait_seconds_total``, counts the waiting only while two
or more tasks run in the process at once: then a task thread is what waits.  Both are
duration-weighted counters: every ``period`` the share is multiplied by the seconds it covers.

gilknocker's share is its waiting time over its whole run time, which includes the
``interval_us`` it sleeps between two knocks.  A waiting thread asks the holder to drop the GIL
after ``sys.getswitchinterval()`` (5 ms), so with the GIL always held each knock cycle is
``interval + switch`` long and waits ``switch`` of it: the raw share cannot exceed
``switch / (switch + interval)`` (83% at 1 ms).  The share is scaled by the inverse of that
bound (capped at 1), so a GIL that is always held reads 100%.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from typing import Any

logger = logging.getLogger("tuner.metrics")


class Concurrency:
    """How many tasks run in this process now, and for how long 2+ ran (seconds)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.running = 0
        self._multi = 0.0
        self._since = time.monotonic()

    def _advance(self, now: float) -> None:
        if self.running >= 2:
            self._multi += now - self._since
        self._since = now

    def change(self, delta: int) -> None:
        with self._lock:
            self._advance(time.monotonic())
            self.running = max(0, self.running + delta)

    def multi_seconds(self) -> float:
        with self._lock:
            self._advance(time.monotonic())
            return self._multi


class GilSampler:
    """A gilknocker knocker plus a Python thread that turns its readings into counters."""

    def __init__(
        self,
        wait: Any,
        busy: Any,
        hostname: str,
        concurrency: Concurrency,
        interval_us: int = 1000,
        period: float = 1.0,
        on_tick: Any = None,
    ) -> None:
        self.labels = {"hostname": hostname, "pid": str(os.getpid())}
        self.wait, self.busy = wait, busy
        self.concurrency = concurrency
        self.interval_us, self.period = interval_us, period
        self.on_tick = on_tick
        self._stop = threading.Event()
        self._knocker: Any = None
        self._thread: threading.Thread | None = None

    def start(self) -> bool:
        try:
            from gilknocker import KnockKnock
        except ImportError:  # pragma: no cover - a dependency, but be graceful
            logger.warning("tuner.metrics: gilknocker is not installed; no GIL metrics")
            return False
        self._knocker = KnockKnock(polling_interval_micros=self.interval_us)
        self._knocker.start()
        self._thread = threading.Thread(target=self._run, name="tuner-metrics-gil", daemon=True)
        self._thread.start()
        return True

    def _run(self) -> None:
        knocker = self._knocker
        last = time.monotonic()
        multi_last = self.concurrency.multi_seconds()
        wait = self.wait.labels(**self.labels)
        busy = self.busy.labels(**self.labels)
        knocker.reset_contention_metric()
        switch = sys.getswitchinterval()
        scale = (switch + self.interval_us / 1e6) / switch
        while not self._stop.wait(self.period):
            share = min(1.0, float(knocker.contention_metric or 0.0) * scale)
            knocker.reset_contention_metric()
            now, multi = time.monotonic(), self.concurrency.multi_seconds()
            busy.inc(share * (now - last))
            wait.inc(share * min(multi - multi_last, now - last))
            last, multi_last = now, multi
            if self.on_tick is not None:
                self.on_tick()

    def stop(self) -> None:
        self._stop.set()
        if self._knocker is not None and self._knocker.is_running:
            try:
                self._knocker.stop()
            except Exception:  # pragma: no cover - a stuck knocker must not block shutdown
                logger.debug("tuner.metrics: knocker did not stop", exc_info=True)
