"""Write the sampled stacks of every process as one speedscope file (a flamegraph per thread)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from tuner.profile.classify import short_path
from tuner.profile.trace import Trace

SCHEMA = "https://www.speedscope.app/file-format-schema.json"


def document(traces: Sequence[tuple[Trace, str]]) -> dict[str, object]:
    """An evented speedscope document: one profile per (process, thread); idle stacks included."""
    frames: list[dict[str, object]] = []
    index: dict[tuple[str, str, int], int] = {}
    profiles: list[dict[str, object]] = []
    for trace, role in traces:
        by_thread: dict[int, list[dict[str, object]]] = {}
        for e in trace.events:
            args = e.get("args")
            file, line = (
                (str(args.get("filename", "")), int(str(args.get("line") or 0)))
                if isinstance(args, dict)
                else ("", 0)
            )
            key = (str(e.get("name", "?")), file, line)
            if key not in index:
                index[key] = len(frames)
                frame: dict[str, object] = {"name": key[0], "file": short_path(file)}
                if line:
                    frame["line"] = line
                frames.append(frame)
            kind = "O" if e["ph"] == "B" else "C"
            at = int(float(str(e["ts"])))
            by_thread.setdefault(int(str(e["tid"])), []).append(
                {"type": kind, "frame": index[key], "at": at}
            )
        for n, (tid, events) in enumerate(sorted(by_thread.items()), 1):
            profiles.append(
                {
                    "type": "evented",
                    "name": f"pid {trace.pid} ({role}) thread {n} [{tid:#x}]",
                    "unit": "microseconds",
                    "startValue": trace.start,
                    "endValue": trace.end,
                    "events": events,
                }
            )
    return {
        "$schema": SCHEMA,
        "shared": {"frames": frames},
        "profiles": profiles,
        "name": "celery-tune profile",
        "activeProfileIndex": 0,
        "exporter": "celery-tune",
    }


def write(path: Path, traces: Sequence[tuple[Trace, str]]) -> None:
    path.write_text(json.dumps(document(traces)))
