"""The built-in benchmark tasks, plain functions registered on the bench's own app.

``burn`` is the unit of CPU work of the presets: pure-Python work until the task's thread has
used a given number of CPU seconds, as the kernel counts them in the worker.  ``spin`` does a fixed
number of iterations instead (see :func:`tuner.bench.workloads.spin_rate` for its calibration).
"""

from __future__ import annotations

import time
from typing import Any

SPIN = "tuner.bench.spin"
BURN = "tuner.bench.burn"
NAP = "tuner.bench.nap"
WORK = "tuner.bench.work"
LEAK = "tuner.bench.leak"
FAIL = "tuner.bench.fail"

CHUNK = 2000  # iterations between two looks at the CPU clock (well under a millisecond)
_HOARD: list[bytearray] = []  # what ``leak`` keeps, per child process


def spin(n: int) -> int:
    """Pure-Python CPU work: ``n`` iterations, holding the GIL throughout."""
    x = 0
    for i in range(n):
        x = (x + i * i) % 1000003
    return x


def burn(cpu_seconds: float) -> int:
    """Pure-Python CPU work, holding the GIL, until this thread has used ``cpu_seconds`` of CPU.

    The cost is the same in every process, however fast the CPU runs it at the moment.
    """
    end = time.thread_time() + cpu_seconds
    x = 0
    while time.thread_time() < end:
        for i in range(CHUNK):
            x = (x + i * i) % 1000003
    return x


def nap(seconds: float) -> None:
    """Sleep-bound work (releases the GIL)."""
    time.sleep(seconds)


def work(cpu_seconds: float, seconds: float) -> int:
    """CPU work, then a wait: the shape of a task that computes and then calls a service."""
    x = burn(cpu_seconds)
    time.sleep(seconds)
    return x


def leak(cpu_seconds: float, kib: int) -> int:
    """CPU work that keeps ``kib`` KiB more memory in this process on every call."""
    x = burn(cpu_seconds)
    _HOARD.append(bytearray(b"\x01") * (kib * 1024))  # written, so resident
    return x


def fail(cpu_seconds: float) -> None:
    """CPU work that then raises: for workloads that fail on purpose."""
    burn(cpu_seconds)
    raise RuntimeError("deliberate failure (tuner.bench.fail)")


BUILTINS = {SPIN: spin, BURN: burn, NAP: nap, WORK: work, LEAK: leak, FAIL: fail}


def register(app: Any) -> None:
    """Register the built-in tasks on a Celery app."""
    for name, fn in BUILTINS.items():
        app.task(name=name)(fn)
