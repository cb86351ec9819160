"""The app a measured worker runs: ``celery -A tuner.bench.worker_app worker ...``.

The bench passes everything in the ``CELERY_TUNE_BENCH`` environment variable (JSON): broker,
settings, the probe's directory, the node name and the bench's PID.  With ``app`` set, the user's
app is imported and reconfigured; otherwise the bench's own app with the built-in tasks.  A
watchdog thread kills the worker's whole process group if the bench process goes away.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import threading
import time
from typing import Any

from celery import Celery

from tuner.bench import probe, tasks

SPEC_ENV = "CELERY_TUNE_BENCH"
WATCH_INTERVAL = 0.2


def _load_app(name: str | None) -> Any:
    if not name:
        own = Celery("tuner-bench")
        tasks.register(own)
        return own
    from celery.app.utils import find_app

    return find_app(name)


def configure(app: Any, spec: dict[str, Any]) -> None:
    accept = list(app.conf.accept_content or [])
    conf: dict[str, Any] = {
        "broker_url": spec["broker_url"],
        "broker_read_url": None,
        "broker_write_url": None,
        "broker_connection_retry_on_startup": False,
        "result_backend": None,
        "task_ignore_result": True,
        "worker_enable_remote_control": False,
        "worker_send_task_events": False,
        "task_send_sent_event": False,
        "worker_direct": False,
        "accept_content": accept if "json" in accept else [*accept, "json"],
    }
    if spec.get("transport_options"):
        conf["broker_transport_options"] = spec["transport_options"]
    if spec.get("transport"):
        conf["broker_transport"] = spec["transport"]
    conf.update(spec.get("settings", {}))
    app.conf.update(conf)


def watch_parent(parent: int, run_dir: str | None, interval: float = WATCH_INTERVAL) -> None:
    """Once ``parent`` is no longer our parent (it died), remove the run's private directory
    and kill this process group."""
    if os.getpgrp() != os.getpid():
        return  # not started in a group of our own: never kill someone else's group
    while True:
        if os.getppid() != parent:
            if run_dir and os.path.basename(run_dir).startswith("celery-tune-"):
                shutil.rmtree(run_dir, ignore_errors=True)
            os.killpg(os.getpgrp(), signal.SIGKILL)
        time.sleep(interval)


_spec: dict[str, Any] = json.loads(os.environ[SPEC_ENV])
app = _load_app(_spec.get("app"))
configure(app, _spec)
probe.install(_spec["events_dir"], _spec["node"])
threading.Thread(
    target=watch_parent,
    args=(int(_spec["parent_pid"]), _spec.get("run_dir")),
    name="bench-watchdog",
    daemon=True,
).start()
