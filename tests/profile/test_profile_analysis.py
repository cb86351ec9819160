"""Chrometrace replay, per-process figures and verdicts, on small hand-made traces."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tuner.profile import analysis, speedscope, trace, verdict
from tuner.profile.analysis import ProcessProfile

TASK = "/x/celery/app/trace.py"
CODE = "/x/app/tasks.py"
LIBC = "/usr/lib/x86_64-linux-gnu/libc.so.6"


def ev(ph: str, tid: int, ts: int, name: str, file: str, pid: int = 7) -> dict[str, object]:
    return {"ph": ph, "tid": tid, "ts": ts, "pid": pid, "name": name, "args": {"filename": file}}


def two_threads_sharing_the_gil() -> list[dict[str, object]]:
    """Two task threads; every 20 ms they swap: one runs ``spin``, the other waits for the GIL."""
    events = []
    for tid in (1, 2):
        events += [ev("B", tid, 0, "trace_task", TASK), ev("B", tid, 0, "spin", CODE)]
    events.append(ev("B", 2, 0, "pthread_cond_wait", LIBC))
    for k in range(1, 50):
        waiting, running = (1, 2) if k % 2 else (2, 1)
        events += [
            ev("E", running, k * 20_000, "pthread_cond_wait", LIBC),
            ev("B", waiting, k * 20_000, "pthread_cond_wait", LIBC),
        ]
    for tid in (1, 2):
        stack_top = ["pthread_cond_wait"] if (tid == 1) == (49 % 2 == 1) else []
        events += [ev("E", tid, 1_000_000, n, LIBC) for n in stack_top]
        events += [
            ev("E", tid, 1_000_000, "spin", CODE),
            ev("E", tid, 1_000_000, "trace_task", TASK),
        ]
    return events


def test_two_threads_on_one_gil() -> None:
    t = trace.parse(two_threads_sharing_the_gil(), pid=7)
    assert set(t.threads) == {1, 2}
    assert t.seconds == pytest.approx(1.0)
    p = analysis.analyse(t, "main", 7, rate=50)
    assert p.samples == 50
    assert p.gil_pct == 100.0 and p.gil_wait_pct == 100.0 and p.idle_pct == 0.0
    assert p.task_threads == 2
    assert p.top[0].function == "spin" and p.top[0].pct == 100.0
    assert verdict.verdict([p]).startswith("GIL-bound: 2 threads share one GIL")


def test_unbalanced_events_are_an_error(tmp_path: Path) -> None:
    with pytest.raises(trace.TraceError, match="unbalanced"):
        trace.parse([ev("B", 1, 0, "a", CODE), ev("E", 1, 5, "b", CODE)], pid=7)
    bad = tmp_path / "t.json"
    bad.write_text("{not json")
    with pytest.raises(trace.TraceError, match="cannot read"):
        trace.load(bad, 7)


def test_events_of_other_processes_are_ignored() -> None:
    events = [ev("B", 1, 0, "spin", CODE, pid=8), ev("E", 1, 100, "spin", CODE, pid=8)]
    assert trace.parse(events, pid=7).threads == {}


def test_speedscope_document_has_a_profile_per_thread() -> None:
    t = trace.parse(two_threads_sharing_the_gil(), pid=7)
    doc = speedscope.document([(t, "main")])
    profiles = doc["profiles"]
    assert isinstance(profiles, list) and len(profiles) == 2
    first = profiles[0]
    opens = sum(1 for e in first["events"] if e["type"] == "O")
    closes = sum(1 for e in first["events"] if e["type"] == "C")
    assert opens == closes > 0
    json.dumps(doc)


def profile(
    role: str, pid: int, gil: float, wait: float, idle: float, threads: int = 1
) -> ProcessProfile:
    return ProcessProfile(
        pid, role, 1, 100, 2.0, 100 - idle, gil, wait, idle, 0.0, threads, threads
    )


def test_verdicts_in_plain_words() -> None:
    prefork = [
        profile("main", 1, 3, 0, 97),
        profile("child", 2, 98, 0, 1),
        profile("child", 3, 95, 0, 4),
    ]
    assert verdict.verdict(prefork).startswith("CPU-bound in 2 processes, each with its own GIL")
    idle = [profile("main", 1, 3, 0, 97), profile("child", 2, 2, 0, 97)]
    assert verdict.verdict(idle).startswith("Mostly idle")
    busy_main = [profile("main", 1, 80, 0, 10), profile("child", 2, 98, 0, 1)]
    assert "main process held its GIL in 80%" in verdict.verdict(busy_main)
    assert verdict.verdict([profile("main", 1, 95, 0, 0)]).startswith("CPU-bound in 1 process")
    assert verdict.verdict([profile("main", 1, 1, 0, 99, 2)]).startswith("Mostly idle")


def test_native_work_on_threads_is_not_called_gil_bound() -> None:
    # the figures `profile -w native -P threads -c 2` read on a loaded machine (docs/profile.md)
    native = ProcessProfile(1, "main", 1, 350, 7.0, 99.7, 25.4, 49.4, 0.0, 82.6, 2, 8)
    assert verdict.verdict([native]).startswith("Native code, run side by side")
    held = ProcessProfile(1, "main", 1, 350, 7.0, 99.7, 25.4, 95.0, 0.0, 82.6, 2, 8)
    assert verdict.verdict([held]).startswith("GIL-bound: 2 threads share one GIL")
    python = ProcessProfile(1, "main", 1, 475, 10.0, 83.4, 66.7, 100.0, 0.0, 16.8, 2, 8)
    assert verdict.verdict([python]).startswith("GIL-bound: 2 threads share one GIL")
