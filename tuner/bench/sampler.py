"""CPU time and memory of the worker process trees, sampled with psutil (~4 Hz).

CPU: user + system time of every live process in each tree, plus the time of the children each
one already reaped (``children_user``/``children_system``), so recycled prefork children still
count.  Memory: the sum of RSS over each tree (shared pages count once per process).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

import psutil


@dataclass(frozen=True)
class Sample:
    t: float  # time.monotonic()
    cpu: float  # cumulative CPU seconds of all trees
    rss: int  # bytes, all trees


class TreeSampler:
    def __init__(self, pids: Sequence[int], interval: float = 0.25) -> None:
        self.interval = interval
        self.mains: list[psutil.Process] = []
        for pid in pids:
            with contextlib.suppress(psutil.NoSuchProcess):
                self.mains.append(psutil.Process(pid))
        self.samples: list[Sample] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def sample(self) -> Sample:
        """Take one sample now (thread-safe) and keep it."""
        with self._lock:
            cpu = 0.0
            rss = 0
            for main in self.mains:
                try:
                    with main.oneshot():
                        t = main.cpu_times()
                        cpu += t.user + t.system + t.children_user + t.children_system
                        rss += main.memory_info().rss
                    children = main.children(recursive=True)
                except psutil.Error:
                    continue
                for child in children:
                    try:
                        with child.oneshot():
                            t = child.cpu_times()
                            cpu += t.user + t.system + t.children_user + t.children_system
                            rss += child.memory_info().rss
                    except psutil.Error:
                        continue
            s = Sample(time.monotonic(), cpu, rss)
            self.samples.append(s)
            return s

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def start(self) -> TreeSampler:
        self.sample()
        self._thread = threading.Thread(target=self._loop, name="bench-sampler", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2.0)
