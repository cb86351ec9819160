"""Prometheus metrics served by a Celery worker (prefork, threads, solo, AffinityPool).

Enable it in the module that defines the app, with one line::

    app.steps["worker"].add(WorkerMetrics)      # from tuner.metrics import WorkerMetrics

The bootstep runs in the worker's main process before the pool starts: it prepares the
``prometheus_client`` multiprocess directory (cleaned on start), connects the task and process
signals (inherited by prefork children through the fork) and serves ``/metrics`` on
``metrics_port`` (default 9809).  Importing this package also stamps every message published by
this process with its send time (header ``celery_tune_sent``), from which the worker measures
queue wait.  See docs/metrics.md.
"""

from __future__ import annotations

from tuner.metrics import publish
from tuner.metrics.step import WorkerMetrics

__all__ = ["WorkerMetrics"]

publish.install()
