"""The built-in benchmark tasks, plain functions registered on the bench's own app.

``burn`` is the unit of CPU work of the presets: pure-Python work until the task's thread has
used a given number of CPU seconds, as the kernel counts them in the worker.  ``spin`` does a fixed
number of iterations instead (see :func:`tuner.bench.workloads.spin_rate` for its calibration).
``crunch`` is the native counterpart of ``burn``: C code (zlib and OpenSSL's SHA-256) that runs
with the GIL released, until the thread has used its CPU seconds; ``blend`` does both in turn.
"""

from __future__ import annotations

import functools
import hashlib
import random
import time
import zlib
from typing import Any

SPIN = "tuner.bench.spin"
BURN = "tuner.bench.burn"
NAP = "tuner.bench.nap"
WORK = "tuner.bench.work"
LEAK = "tuner.bench.leak"
FAIL = "tuner.bench.fail"
CRUNCH = "tuner.bench.crunch"
BLEND = "tuner.bench.blend"

CHUNK = 2000  # iterations between two looks at the CPU clock (well under a millisecond)
_HOARD: list[bytearray] = []  # what ``leak`` keeps, per child process
# One native call's input: 64 KiB, far above hashlib's 2048-byte threshold for releasing the GIL
# (HASHLIB_GIL_MINSIZE in CPython's Modules/hashlib.h).  Compressing 64 KiB at level 6 takes about
# a millisecond of CPU, so a task overshoots its CPU seconds by about that much at most.
BLOCK_BYTES = 64 * 1024


@functools.cache
def block() -> bytes:
    """The buffer ``crunch`` works on: text-like, so that zlib has work to do (ratio about 3)."""
    rng = random.Random(0)
    words = [bytes(rng.choices(range(97, 123), k=rng.randint(2, 9))) for _ in range(512)]
    out = bytearray()
    while len(out) < BLOCK_BYTES:
        out += rng.choice(words) + b" "
    return bytes(out[:BLOCK_BYTES])


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


def crunch(cpu_seconds: float) -> int:
    """Native CPU work, GIL released, until this thread has used ``cpu_seconds`` of CPU.

    Each round compresses :func:`block` with zlib and hashes it with SHA-256.  CPython drops the
    GIL around both: ``zlib.compress`` calls ``deflate()`` between ``Py_BEGIN_ALLOW_THREADS`` and
    ``Py_END_ALLOW_THREADS`` (Modules/zlibmodule.c), and hashlib does so for inputs of at least
    ``HASHLIB_GIL_MINSIZE`` (2048) bytes (Modules/_hashopenssl.c).  Only the loop itself, a few
    microseconds per round, holds the GIL.  ``time.thread_time`` counts the thread's CPU time in C
    as well, so the cost is CPU seconds as for :func:`burn`.
    """
    data = block()
    end = time.thread_time() + cpu_seconds
    n = 0
    while time.thread_time() < end:
        n += len(zlib.compress(data, 6))
        n += hashlib.sha256(data).digest()[0]
    return n


def blend(native_seconds: float, python_seconds: float) -> int:
    """Native work with the GIL released (:func:`crunch`), then pure Python holding it."""
    return crunch(native_seconds) + burn(python_seconds)


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
BUILTINS |= {CRUNCH: crunch, BLEND: blend}


def register(app: Any) -> None:
    """Register the built-in tasks on a Celery app."""
    for name, fn in BUILTINS.items():
        app.task(name=name)(fn)
