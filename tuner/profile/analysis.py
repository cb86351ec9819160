"""Per-process figures from the sampled stacks: active, GIL held, GIL wait, idle, top functions.

Each figure is the share of sampling ticks in which the process was in that state:

- ``gil_pct``: some thread was running Python (bytecode or the interpreter's own C code), which
  needs the GIL;
- ``gil_wait_pct``: some thread inside task code was waiting for the GIL;
- ``active_pct``: some thread was running (Python or native code);
- ``idle_pct``: every thread was blocked (sleeping, polling, reading a pipe, waiting on a lock).

A tick can count towards several (a thread holds the GIL while another waits for it).
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from tuner.profile.classify import Frame, State, classify, in_task, short_path
from tuner.profile.trace import Trace, ticks

TOP_N = 5


@dataclass(frozen=True)
class TopFunction:
    function: str
    file: str
    pct: float  # of the process's samples with a thread running in this function


@dataclass(frozen=True)
class ProcessProfile:
    pid: int
    role: str
    worker: int
    samples: int
    seconds: float
    active_pct: float
    gil_pct: float
    gil_wait_pct: float
    idle_pct: float
    native_pct: float  # some thread in third-party native code (GIL unknown)
    task_threads: int  # threads inside task code at once (90th percentile over busy ticks)
    threads: int
    top: tuple[TopFunction, ...] = ()

    def as_dict(self) -> dict[str, object]:
        d = asdict(self)
        d["top"] = [asdict(t) for t in self.top]
        return d


def _where(stack: Sequence[Frame]) -> tuple[str, str]:
    """The function a running thread is in: its innermost Python frame (else innermost frame)."""
    for frame in reversed(stack):
        if frame.is_python:
            return frame.name, short_path(frame.file)
    last = stack[-1]
    return last.name, short_path(last.file)


def analyse(
    trace: Trace, role: str, worker: int, rate: float, top_n: int = TOP_N
) -> ProcessProfile:
    n = 0
    counts: Counter[str] = Counter()
    where: Counter[tuple[str, str]] = Counter()
    in_task_counts: list[int] = []
    for stacks in ticks(trace, rate):
        n += 1
        states = [classify(s) for s in stacks]
        pairs = list(zip(stacks, states, strict=True))
        running = [s for s, st in pairs if st in (State.RUN, State.NATIVE)]
        counts["gil"] += State.RUN in states
        counts["native"] += State.NATIVE in states
        counts["active"] += bool(running)
        counts["wait"] += any(st is State.WAIT_GIL and in_task(s) for s, st in pairs)
        counts["idle"] += all(st is State.BLOCKED for st in states)
        busy = sum(1 for s, st in pairs if st is not State.BLOCKED and in_task(s))
        if busy:
            in_task_counts.append(busy)
        for key in {_where(s) for s in running}:
            where[key] += 1

    def pct(k: int) -> float:
        return round(100.0 * k / n, 1) if n else 0.0

    top = tuple(TopFunction(fn, f, pct(c)) for (fn, f), c in where.most_common(top_n))
    task_threads = 0
    if in_task_counts:
        q = statistics.quantiles(in_task_counts, n=10) if len(in_task_counts) > 1 else []
        task_threads = round(q[-1]) if q else in_task_counts[0]
    return ProcessProfile(
        pid=trace.pid,
        role=role,
        worker=worker,
        samples=n,
        seconds=round(trace.seconds, 2),
        active_pct=pct(counts["active"]),
        gil_pct=pct(counts["gil"]),
        gil_wait_pct=pct(counts["wait"]),
        idle_pct=pct(counts["idle"]),
        native_pct=pct(counts["native"]),
        task_threads=task_threads,
        threads=len(trace.threads),
        top=top,
    )
