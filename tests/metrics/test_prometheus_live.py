"""A real Prometheus server scrapes a live prefork worker; the values come back through its API."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

import tuner.metrics  # noqa: F401  (stamps send times on the tasks this test sends)
from tests.metrics.harness import prometheus_binary, start_metrics_worker, start_prometheus
from tests.metrics.test_deploy import dashboard_exprs
from tuner.bench.tasks import BURN, FAIL

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("live")]


def wait_query(prom: object, expr: str, at_least: float, timeout: float = 120.0) -> float:
    from tests.metrics.harness import Prometheus

    assert isinstance(prom, Prometheus)
    deadline = time.monotonic() + timeout
    value = None
    while time.monotonic() < deadline:
        value = prom.value(expr)
        if value is not None and value >= at_least:
            return value
        time.sleep(0.5)
    raise AssertionError(f"{expr} = {value} (< {at_least}) after {timeout}s")


def test_prometheus_scrapes_a_prefork_worker(tmp_path: Path) -> None:
    if prometheus_binary() is None:
        pytest.skip("prometheus not installed (Debian: apt-get install prometheus; .ci/run does)")
    with start_metrics_worker(tmp_path, ["-P", "prefork", "-c", "2"]) as mw:
        target = mw.url.removeprefix("http://").removesuffix("/metrics")
        with start_prometheus(tmp_path, [target]) as prom:
            mw.worker.send(BURN, [0.02], count=5)
            mw.worker.send(FAIL, [0.0], count=1)
            q = mw.worker.queue
            wait_query(prom, f'sum(celery_task_succeeded_total{{queue_name="{q}"}})', 5)
            wait_query(prom, f'sum(celery_task_failed_total{{queue_name="{q}"}})', 1)
            assert prom.value('up{job="celery"}') == 1
            assert prom.value("sum(celery_task_runtime_count)") == 6  # failures run too
            assert prom.value("sum(celery_task_queue_wait_seconds_count)") == 6
            assert prom.value("count(celery_worker_process_resident_memory_bytes)") == 3
            assert prom.value("sum(celery_worker_up)") == 1
            # every dashboard query parses and evaluates on the real server
            for expr in dashboard_exprs():
                prom.query(expr.replace("$__rate_interval", "1m"))
