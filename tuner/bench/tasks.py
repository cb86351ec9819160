"""The built-in benchmark tasks, plain functions registered on the bench's own app.

``spin`` is the unit of CPU work: the bench calibrates its iterations per CPU-second in the bench
process (:func:`tuner.bench.workloads.spin_rate`), which runs the same interpreter and code.
"""

from __future__ import annotations

import time
from typing import Any

SPIN = "tuner.bench.spin"
NAP = "tuner.bench.nap"
WORK = "tuner.bench.work"
LEAK = "tuner.bench.leak"
FAIL = "tuner.bench.fail"

_HOARD: list[bytearray] = []  # what ``leak`` keeps, per child process


def spin(n: int) -> int:
    """Pure-Python CPU work: ``n`` iterations, holding the GIL throughout."""
    x = 0
    for i in range(n):
        x = (x + i * i) % 1000003
    return x


def nap(seconds: float) -> None:
    """Sleep-bound work (releases the GIL)."""
    time.sleep(seconds)


def work(n: int, seconds: float) -> int:
    """CPU work, then a wait: the shape of a task that computes and then calls a service."""
    x = spin(n)
    time.sleep(seconds)
    return x


def leak(n: int, kib: int) -> int:
    """CPU work that keeps ``kib`` KiB more memory in this process on every call."""
    x = spin(n)
    _HOARD.append(bytearray(b"\x01") * (kib * 1024))  # written, so resident
    return x


def fail(n: int) -> None:
    """CPU work that then raises: for workloads that fail on purpose."""
    spin(n)
    raise RuntimeError("deliberate failure (tuner.bench.fail)")


BUILTINS = {SPIN: spin, NAP: nap, WORK: work, LEAK: leak, FAIL: fail}


def register(app: Any) -> None:
    """Register the built-in tasks on a Celery app."""
    for name, fn in BUILTINS.items():
        app.task(name=name)(fn)
