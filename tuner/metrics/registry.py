"""The multiprocess directory and the metric objects.

``prometheus_client`` keeps each process's values in memory-mapped files under one directory; the
worker's main process serves the sum over all of them.  :func:`prepare` must run in the main
process before the pool forks (the bootstep does it), so children inherit the setup.
"""

from __future__ import annotations

import glob
import os
import tempfile
from dataclasses import dataclass
from typing import Any

ENV_DIR = "PROMETHEUS_MULTIPROC_DIR"
TASK_LABELS = ("name", "hostname", "queue_name")
RUNTIME_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)
WAIT_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900)
TASK_EVENTS = ("received", "started", "succeeded", "failed", "rejected", "revoked", "retried")


@dataclass
class Metrics:
    """Every metric a worker process writes (the main process and pool children alike)."""

    registry: Any
    events: dict[str, Any]  # "started" -> Counter celery_task_started_total, ...
    runtime: Any
    queue_wait: Any
    process_cpu: Any
    process_rss: Any
    process_tasks: Any
    cpu_total: Any
    gil_wait: Any
    gil_busy: Any


def prepare_directory(configured: str | None) -> tuple[str, bool]:
    """The directory to use, cleaned of every earlier ``*.db``; and whether we created it."""
    path = configured or os.environ.get(ENV_DIR)
    created = False
    if not path:
        path = tempfile.mkdtemp(prefix="celery-tune-metrics-")
        created = True
    os.makedirs(path, exist_ok=True)
    for stale in glob.glob(os.path.join(path, "*.db")):
        os.remove(stale)
    os.environ[ENV_DIR] = path  # children and prometheus_client read it from here
    return path, created


def create(path: str | None) -> Metrics:
    """Switch ``prometheus_client`` to multiprocess values in ``path`` and define the metrics.

    The switch is explicit (not only the environment variable), so it also works when the
    user's code imported ``prometheus_client`` before the worker started.  ``path=None``: plain
    in-process values, for listing the metrics (:func:`served_names`).
    """
    from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, values

    if path is not None:
        os.environ[ENV_DIR] = path
        values.ValueClass = values.MultiProcessValue()  # type: ignore[no-untyped-call]
    reg = CollectorRegistry(auto_describe=True)  # private: the served registry is rebuilt
    events = {
        e: Counter(f"celery_task_{e}", f"Tasks {e} by this worker.", TASK_LABELS, registry=reg)
        for e in TASK_EVENTS
    }
    # No label tells the main process from a child: a value that exists in the parent at a fork
    # is copied (as 0) into the child's file, so a label set only the parent uses would show
    # up once per child.  ``liveall`` adds the ``pid`` label.
    pid_labels = ("hostname",)
    return Metrics(
        registry=reg,
        events=events,
        runtime=Histogram(
            "celery_task_runtime",
            "Task run time in the pool, seconds (task_prerun to task_postrun).",
            TASK_LABELS,
            buckets=RUNTIME_BUCKETS,
            registry=reg,
        ),
        queue_wait=Histogram(
            "celery_task_queue_wait_seconds",
            "Publish (or ETA) to start of the task in the pool, seconds (wall clocks).",
            TASK_LABELS,
            buckets=WAIT_BUCKETS,
            registry=reg,
        ),
        process_cpu=Gauge(
            "celery_worker_process_cpu_seconds",
            "CPU seconds (user+system) used by this worker process so far.",
            pid_labels,
            multiprocess_mode="liveall",
            registry=reg,
        ),
        process_rss=Gauge(
            "celery_worker_process_resident_memory_bytes",
            "Resident memory of this worker process, bytes.",
            pid_labels,
            multiprocess_mode="liveall",
            registry=reg,
        ),
        process_tasks=Gauge(
            "celery_worker_process_tasks",
            "Tasks this worker process has run so far (to relate RSS growth to tasks).",
            pid_labels,
            multiprocess_mode="liveall",
            registry=reg,
        ),
        cpu_total=Counter(
            "celery_worker_cpu_seconds",
            "CPU seconds used by the worker's processes, exited children included.",
            ("hostname",),
            registry=reg,
        ),
        gil_wait=Counter(
            "celery_worker_gil_wait_seconds",
            "Seconds a thread wanting the GIL waited for it while 2+ tasks ran in the process.",
            ("hostname", "pid"),
            registry=reg,
        ),
        gil_busy=Counter(
            "celery_worker_gil_busy_seconds",
            "Seconds a thread wanting the GIL waited for it (gilknocker's raw reading).",
            ("hostname", "pid"),
            registry=reg,
        ),
    )


SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",)}


def served_names() -> set[str]:
    """Every sample name the exporter can serve (the metrics above and the live ones)."""
    from tuner.metrics.server import LIVE_FAMILIES

    families = [(f.name, f.type) for f in create(None).registry.collect()] + list(LIVE_FAMILIES)
    return {name + suffix for name, kind in families for suffix in SUFFIXES[kind]}
