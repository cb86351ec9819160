"""Sample every process of a worker at once: one py-spy per process, all stopped together.

Children are found through psutil and looked for again twice a second, so a child that replaces
another during the window (max-tasks-per-child, a crash) is sampled for the rest of it.  Every
py-spy started here is stopped on every path (and dies with this process, see ``pyspy``).
"""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psutil

from tuner.profile import pyspy

MIN_REMAINING = 1.0  # don't attach to a new child with less than this left
RESCAN = 0.5
FLUSH_TIMEOUT = 15.0  # py-spy writing its output after Ctrl-C


@dataclass(frozen=True)
class Sampled:
    """What one py-spy produced for one process."""

    pid: int
    role: str  # "main" or "child"
    worker: int  # the main pid this process belongs to
    trace: Path | None  # None when py-spy wrote nothing (e.g. the process exited at once)
    error: str | None = None
    pyspy_samples: int | None = None
    pyspy_errors: int | None = None


HELPERS = ("resource_tracker", "semaphore_tracker", "forkserver")  # not pool children


def children(pid: int) -> list[int]:
    """The worker's pool processes (billiard's spawn helpers left out)."""
    out = []
    try:
        kids = psutil.Process(pid).children(recursive=False)
    except psutil.Error:
        return []
    for child in kids:
        try:
            cmdline = " ".join(child.cmdline())
        except psutil.Error:
            continue
        if not any(h in cmdline for h in HELPERS):
            out.append(child.pid)
    return sorted(out)


def sample(
    mains: list[int],
    seconds: float,
    rate: int,
    workdir: Path,
    *,
    exe: str | None = None,
    stop: threading.Event | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> list[Sampled]:
    """Record every process of the workers ``mains`` for ``seconds``; return what was written."""
    exe = exe or pyspy.find()
    for pid in mains:
        pyspy.check(pid, exe)
    stop = stop or threading.Event()
    recorders: dict[int, tuple[pyspy.Recorder, str, int]] = {}
    start = clock()
    deadline = start + seconds
    try:
        while True:
            now = clock()
            remaining = deadline - now
            if remaining <= 0 or stop.is_set():
                break
            for main in mains:
                for pid, role in [(main, "main")] + [(c, "child") for c in children(main)]:
                    if pid in recorders or (role == "child" and remaining < MIN_REMAINING):
                        continue
                    rec = pyspy.record(exe, pid, workdir, rate, remaining, now)
                    recorders[pid] = (rec, role, main)
            stop.wait(min(RESCAN, max(0.0, deadline - clock())))
        for rec, _, _ in recorders.values():
            rec.interrupt()
        flush_deadline = clock() + FLUSH_TIMEOUT
        for rec, _, _ in recorders.values():
            try:
                rec.proc.wait(timeout=max(0.1, flush_deadline - clock()))
            except subprocess.TimeoutExpired:  # a py-spy that hangs is killed below
                rec.kill()
    finally:
        for rec, _, _ in recorders.values():
            rec.kill()
    return [_result(rec, role, main) for rec, role, main in recorders.values()]


def _result(rec: pyspy.Recorder, role: str, main: int) -> Sampled:
    samples, errors = rec.samples_and_errors()
    if rec.output.is_file() and rec.output.stat().st_size > 2:
        return Sampled(rec.pid, role, main, rec.output, None, samples, errors)
    text = rec.stderr()
    error = None if "process exited" in text.lower() else pyspy.explain(text, rec.pid)
    return Sampled(rec.pid, role, main, None, error, samples, errors)
