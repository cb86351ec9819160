"""Producer side: stamp each published task with its send time (wall clock, seconds)."""

from __future__ import annotations

import time
from typing import Any

SENT_HEADER = "celery_tune_sent"
DISPATCH_UID = "tuner.metrics.publish.stamp_sent"


def stamp_sent(headers: dict[str, Any] | None = None, **_: Any) -> None:
    """``before_task_publish`` handler: protocol 2 headers get ``celery_tune_sent``."""
    if headers is not None and SENT_HEADER not in headers:
        headers[SENT_HEADER] = time.time()


def install() -> None:
    from celery import signals

    signals.before_task_publish.connect(stamp_sent, weak=False, dispatch_uid=DISPATCH_UID)
