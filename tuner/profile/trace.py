"""Read py-spy's chrometrace output (``record --format chrometrace --idle``) into per-tick stacks.

py-spy writes begin/end events only when a thread's stack changes, so each thread's stack is a
step function of time; :func:`ticks` reads every thread's stack on a regular grid at the sampling
rate, which is what the samples were.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tuner.profile.classify import Frame


class TraceError(ValueError):
    """The trace file is missing or malformed."""


@dataclass
class ThreadTimeline:
    tid: int
    times: list[int] = field(default_factory=list)  # microseconds, ascending
    stacks: list[tuple[Frame, ...]] = field(default_factory=list)  # stack from times[i] on

    def at(self, t: float, start: int = 0) -> tuple[int, tuple[Frame, ...] | None]:
        """(index, stack) in force at time ``t``; scanning forward from ``start``."""
        i = start
        while i + 1 < len(self.times) and self.times[i + 1] <= t:
            i += 1
        if not self.times or self.times[i] > t:
            return i, None
        return i, self.stacks[i]


@dataclass
class Trace:
    pid: int
    threads: dict[int, ThreadTimeline]
    start: int
    end: int
    events: list[dict[str, object]]  # as read, for the speedscope export

    @property
    def seconds(self) -> float:
        return max(0.0, (self.end - self.start) / 1e6)


def load(path: Path, pid: int) -> Trace:
    try:
        raw = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise TraceError(f"{path}: cannot read the py-spy trace ({exc})") from None
    if not isinstance(raw, list):
        raise TraceError(f"{path}: not a chrometrace event list")
    return parse(raw, pid)


def parse(events: list[dict[str, object]], pid: int) -> Trace:
    threads: dict[int, ThreadTimeline] = {}
    open_stacks: dict[int, list[Frame]] = {}
    start: int | None = None
    end = 0
    kept: list[dict[str, object]] = []
    for e in events:
        if not isinstance(e, dict) or e.get("ph") not in ("B", "E"):
            continue
        if e.get("pid", pid) != pid:
            continue
        try:
            tid, ts = int(str(e["tid"])), int(float(str(e["ts"])))
        except (KeyError, ValueError):
            raise TraceError(f"trace for pid {pid}: an event without tid or ts") from None
        args = e.get("args")
        filename, line = (
            (args.get("filename", ""), args.get("line")) if isinstance(args, dict) else ("", 0)
        )
        frame = Frame(str(e.get("name", "?")), str(filename), int(str(line or 0)))
        stack = open_stacks.setdefault(tid, [])
        if e["ph"] == "B":
            stack.append(frame)
        else:
            if not stack or stack[-1].name != frame.name:
                raise TraceError(f"trace for pid {pid}: unbalanced events for thread {tid}")
            stack.pop()
        tl = threads.setdefault(tid, ThreadTimeline(tid))
        snapshot = tuple(stack)
        if tl.times and tl.times[-1] == ts:
            tl.stacks[-1] = snapshot
        else:
            tl.times.append(ts)
            tl.stacks.append(snapshot)
        start = ts if start is None else min(start, ts)
        end = max(end, ts)
        kept.append(e)
    return Trace(pid, threads, start or 0, end, kept)


def ticks(trace: Trace, rate: float) -> Iterator[list[tuple[Frame, ...]]]:
    """The stacks of the threads alive at each sampling tick (empty stacks dropped)."""
    period = 1e6 / rate
    n = int((trace.end - trace.start) / period)
    cursors = dict.fromkeys(trace.threads, 0)
    for k in range(n):
        t = trace.start + (k + 0.5) * period
        stacks = []
        for tid, tl in trace.threads.items():
            cursors[tid], stack = tl.at(t, cursors[tid])
            if stack:
                stacks.append(stack)
        yield stacks
