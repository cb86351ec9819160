"""Task signal handlers: celery-exporter's counters and run time, plus queue wait.

Each handler runs where Celery sends the signal: ``task_received``, ``task_revoked`` and
``task_rejected`` in the main process (the consumer), the others where the task runs (a prefork
child, a pool thread, or the solo worker).  A handler never raises into Celery.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from tuner.metrics.publish import SENT_HEADER
from tuner.metrics.state import STATE

logger = logging.getLogger("tuner.metrics")


def _safe(fn: Callable[..., None]) -> Callable[..., None]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        if STATE.metrics is None:
            return
        try:
            fn(*args, **kwargs)
        except Exception:  # a metric must never break a task
            logger.debug("tuner.metrics: %s failed", fn.__name__, exc_info=True)

    return wrapper


def _queue(delivery_info: Any) -> str:
    if isinstance(delivery_info, dict):
        return str(delivery_info.get("routing_key") or delivery_info.get("exchange") or "")
    return ""


def _labels(name: Any, delivery_info: Any) -> dict[str, str]:
    return {
        "name": str(name or ""),
        "hostname": STATE.hostname,
        "queue_name": _queue(delivery_info),
    }


_children: dict[tuple[int, str, str, str], Any] = {}


def _child(metric: Any, labels: dict[str, str]) -> Any:
    """``metric.labels(**labels)``, cached: the lookup costs more than the update."""
    key = (id(metric), labels["name"], labels["hostname"], labels["queue_name"])
    child = _children.get(key)
    if child is None:
        child = _children[key] = metric.labels(**labels)
    return child


def _count(event: str, name: Any, delivery_info: Any) -> None:
    assert STATE.metrics is not None
    _child(STATE.metrics.events[event], _labels(name, delivery_info)).inc()


def _task_labels(task: Any) -> dict[str, str]:
    request = getattr(task, "request", None)
    return _labels(getattr(task, "name", None), getattr(request, "delivery_info", None))


def _timestamp(value: Any) -> float | None:
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value).timestamp()
        except ValueError:
            return None
    return None


def queue_wait(request: Any, now: float) -> float | None:
    """Seconds from publish (or from the ETA, if later) to ``now``; None if not stamped."""
    sent = _timestamp(getattr(request, SENT_HEADER, None))
    if sent is None:
        return None
    eta = _timestamp(getattr(request, "eta", None))
    return max(0.0, now - max(sent, eta or sent))


@_safe
def on_received(request: Any = None, **_: Any) -> None:
    _count("received", getattr(request, "name", None), getattr(request, "delivery_info", None))


@_safe
def on_prerun(task_id: str = "", task: Any = None, **_: Any) -> None:
    assert STATE.metrics is not None
    now = time.time()
    STATE.started[task_id] = time.monotonic()
    STATE.concurrency.change(+1)
    labels = _task_labels(task)
    _child(STATE.metrics.events["started"], labels).inc()
    wait = queue_wait(getattr(task, "request", None), now)
    if wait is not None:
        _child(STATE.metrics.queue_wait, labels).observe(wait)


@_safe
def on_postrun(task_id: str = "", task: Any = None, **_: Any) -> None:
    assert STATE.metrics is not None
    start = STATE.started.pop(task_id, None)
    STATE.concurrency.change(-1)
    if start is not None:
        _child(STATE.metrics.runtime, _task_labels(task)).observe(time.monotonic() - start)
    if STATE.stats is not None:
        STATE.stats.task_done()


@_safe
def on_success(sender: Any = None, **_: Any) -> None:
    assert STATE.metrics is not None
    _child(STATE.metrics.events["succeeded"], _task_labels(sender)).inc()


@_safe
def on_failure(sender: Any = None, task_id: str = "", **_: Any) -> None:
    assert STATE.metrics is not None
    labels = _task_labels(sender)
    if not labels["queue_name"]:  # sent by the main process (child lost): find the request
        from celery.worker import state as worker_state

        request = worker_state.requests.get(task_id)
        labels = _labels(getattr(sender, "name", None), getattr(request, "delivery_info", None))
    _child(STATE.metrics.events["failed"], labels).inc()


@_safe
def on_retry(sender: Any = None, request: Any = None, **_: Any) -> None:
    name = getattr(sender, "name", None) or getattr(request, "task", None)
    _count("retried", name, getattr(request, "delivery_info", None))


@_safe
def on_revoked(request: Any = None, **_: Any) -> None:
    _count("revoked", getattr(request, "name", None), getattr(request, "delivery_info", None))


@_safe
def on_rejected(message: Any = None, **_: Any) -> None:
    headers = getattr(message, "headers", None) or {}
    _count("rejected", headers.get("task"), getattr(message, "delivery_info", None))


def connect() -> None:
    from celery import signals

    pairs = [
        (signals.task_received, on_received),
        (signals.task_prerun, on_prerun),
        (signals.task_postrun, on_postrun),
        (signals.task_success, on_success),
        (signals.task_failure, on_failure),
        (signals.task_retry, on_retry),
        (signals.task_revoked, on_revoked),
        (signals.task_rejected, on_rejected),
    ]
    for signal, handler in pairs:
        signal.connect(handler, weak=False, dispatch_uid=f"tuner.metrics.{handler.__name__}")
