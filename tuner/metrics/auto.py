"""Enable the exporter from configuration alone: ``include = ["tuner.metrics.auto"]``.

Celery imports the modules of the ``include`` setting when a worker starts, before it sends
``worker_init``; the handler below then adds :class:`~tuner.metrics.WorkerMetrics` to the
worker's bootsteps, which are built right after.  Importing this module from the app's own
module (``import tuner.metrics.auto``) works the same.  Producers that import it stamp send times.
"""

from __future__ import annotations

from typing import Any

from celery import signals

from tuner.metrics import WorkerMetrics


def add_step(sender: Any = None, **_: Any) -> None:
    """``worker_init``: add the bootstep to this worker's app (once)."""
    steps = sender.app.steps["worker"]
    if WorkerMetrics not in steps:
        steps.add(WorkerMetrics)


signals.worker_init.connect(add_step, weak=False, dispatch_uid="tuner.metrics.auto.add_step")
