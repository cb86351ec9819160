"""Inside the worker: task and process signals, recorded as JSON lines (one file per process).

Each record is one small ``os.write`` on an ``O_APPEND`` descriptor, so lines never interleave,
whatever the pool (prefork children, threads, solo).  Times are ``time.monotonic()``, which is
system-wide on Linux, so the bench process compares them with its own scheduled send times.

Record keys: ``k`` kind (``t`` task done, ``f`` failure, ``c`` child process start, ``r`` worker
ready, ``u`` unknown task, ``x`` rejected message), ``p`` pid, ``id`` task id, ``s``/``e`` start
and end, ``c`` CPU seconds of the task's thread, ``st`` final state.
"""

from __future__ import annotations

import json
import os
import threading
import time
from typing import Any

_dir = ""
_node = ""
_fds: dict[int, int] = {}
_lock = threading.Lock()
_started: dict[str, tuple[float, float]] = {}


def _fd() -> int:
    pid = os.getpid()
    fd = _fds.get(pid)
    if fd is None:
        with _lock:
            fd = _fds.get(pid)
            if fd is None:
                path = os.path.join(_dir, f"events-{pid}.jsonl")
                fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
                _fds[pid] = fd
    return fd


def emit(record: dict[str, Any]) -> None:
    os.write(_fd(), (json.dumps(record, separators=(",", ":")) + "\n").encode())


def on_prerun(task_id: str = "", **_: Any) -> None:
    _started[task_id] = (time.monotonic(), time.thread_time())


def on_postrun(task_id: str = "", state: str | None = None, **_: Any) -> None:
    end, cpu_end = time.monotonic(), time.thread_time()
    start, cpu_start = _started.pop(task_id, (end, cpu_end))
    emit(
        {
            "k": "t",
            "id": task_id,
            "p": os.getpid(),
            "s": start,
            "e": end,
            "c": cpu_end - cpu_start,
            "st": state or "UNKNOWN",
        }
    )


def on_failure(task_id: str = "", exception: BaseException | None = None, **_: Any) -> None:
    emit(
        {
            "k": "f",
            "id": task_id,
            "p": os.getpid(),
            "e": time.monotonic(),
            "x": type(exception).__name__,
        }
    )


def on_unknown(name: str = "", **_: Any) -> None:
    emit({"k": "u", "n": name, "p": os.getpid()})


def on_rejected(**_: Any) -> None:
    emit({"k": "x", "p": os.getpid()})


def on_process_init(**_: Any) -> None:
    emit({"k": "c", "p": os.getpid(), "pp": os.getppid(), "t": time.monotonic()})


def on_ready(**_: Any) -> None:
    now = time.monotonic()
    emit({"k": "r", "p": os.getpid(), "t": now, "n": _node})
    path = os.path.join(_dir, f"ready-{_node}.json")
    with open(path + ".tmp", "w") as f:
        json.dump({"pid": os.getpid(), "t": now, "node": _node}, f)
    os.replace(path + ".tmp", path)


def install(directory: str, node: str) -> None:
    """Connect the handlers (idempotent); records go to ``directory``."""
    from celery import signals

    global _dir, _node
    _dir, _node = directory, node
    pairs = [
        (signals.task_prerun, on_prerun),
        (signals.task_postrun, on_postrun),
        (signals.task_failure, on_failure),
        (signals.task_unknown, on_unknown),
        (signals.task_rejected, on_rejected),
        (signals.worker_process_init, on_process_init),
        (signals.worker_ready, on_ready),
    ]
    for signal, handler in pairs:
        signal.connect(handler, weak=False, dispatch_uid=f"tuner.bench.probe.{handler.__name__}")
