"""The worker side of the metrics tests: tests/celery_live.py's app, with the exporter enabled
the way a user enables it (one line in the app's module)."""

from __future__ import annotations

from celery_live import app  # type: ignore[import-not-found, unused-ignore]

from tuner.metrics import WorkerMetrics

app.steps["worker"].add(WorkerMetrics)

__all__ = ["app"]
