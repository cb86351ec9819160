"""Reading what the probe recorded: tails the per-process JSONL files as they grow."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

NOT_FINAL = ("RETRY",)  # a retried task runs again under the same id


@dataclass(frozen=True)
class TaskRecord:
    id: str
    pid: int
    start: float | None  # None: failed outside a task run (e.g. its child process was lost)
    end: float
    cpu: float | None
    state: str

    @property
    def failed(self) -> bool:
        return self.state == "FAILURE"


@dataclass
class EventLog:
    """Everything the workers reported so far; call :meth:`poll` to read new records."""

    directory: Path
    finished: dict[str, TaskRecord] = field(default_factory=dict)  # first final record per id
    child_starts: list[tuple[int, int, float]] = field(default_factory=list)  # pid, ppid, t
    ready: dict[int, float] = field(default_factory=dict)  # worker main pid -> ready time
    unknown: list[str] = field(default_factory=list)
    rejected: int = 0
    max_run: float = 0.0
    _offsets: dict[str, int] = field(default_factory=dict)

    def poll(self) -> int:
        """Read new records; returns how many tasks finished since the last call."""
        before = len(self.finished)
        try:
            names = [n for n in os.listdir(self.directory) if n.startswith("events-")]
        except FileNotFoundError:
            return 0
        for name in names:
            offset = self._offsets.get(name, 0)
            path = self.directory / name
            try:
                if os.stat(path).st_size <= offset:
                    continue
                with open(path, "rb") as f:
                    f.seek(offset)
                    data = f.read()
            except OSError:
                continue
            cut = data.rfind(b"\n") + 1
            if cut == 0:
                continue
            self._offsets[name] = offset + cut
            for line in data[:cut].splitlines():
                if line.strip():
                    self._record(json.loads(line))
        return len(self.finished) - before

    def _record(self, r: dict[str, Any]) -> None:
        kind = r.get("k")
        if kind == "t":
            state = str(r["st"])
            task_id = str(r["id"])
            known = self.finished.get(task_id)
            if state in NOT_FINAL or (known is not None and known.start is not None):
                return  # a retry, or a redelivery of a task already counted
            start, end = float(r["s"]), float(r["e"])
            self.max_run = max(self.max_run, end - start)
            record = TaskRecord(task_id, int(r["p"]), start, end, float(r["c"]), state)
            self.finished[task_id] = record
        elif kind == "f":
            task_id = str(r["id"])
            if task_id not in self.finished:
                end = float(r["e"])
                record = TaskRecord(task_id, int(r["p"]), None, end, None, "FAILURE")
                self.finished[task_id] = record
        elif kind == "c":
            self.child_starts.append((int(r["p"]), int(r.get("pp", 0)), float(r["t"])))
        elif kind == "r":
            self.ready[int(r["p"])] = float(r["t"])
        elif kind == "u":
            self.unknown.append(str(r.get("n")))
        elif kind == "x":
            self.rejected += 1

    def per_worker(self, mains: list[int]) -> list[int]:
        """Tasks run by each worker node (given their main PIDs), prefork children included."""
        parent = {pid: ppid for pid, ppid, _t in self.child_starts}
        counts = dict.fromkeys(mains, 0)
        for rec in self.finished.values():
            owner = rec.pid if rec.pid in counts else parent.get(rec.pid)
            if owner in counts:
                counts[owner] += 1
        return [counts[m] for m in mains]

    def restarts(self, initial: int) -> int:
        """Child processes started beyond each worker's first ``initial`` (recycled or replaced).

        A child's owner is the worker it reports as parent; solo's "child" is the worker itself.
        """
        per_owner: dict[int, int] = {}
        for pid, ppid, _t in self.child_starts:
            owner = ppid if ppid in self.ready else pid
            per_owner[owner] = per_owner.get(owner, 0) + 1
        return sum(max(0, n - initial) for n in per_owner.values())
