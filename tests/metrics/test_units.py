"""The exporter's pure parts: queue wait from the stamp, concurrency time, settings."""

from __future__ import annotations

import time
from datetime import datetime, timezone
from types import SimpleNamespace

import pytest

from tuner.metrics.gil import Concurrency
from tuner.metrics.publish import SENT_HEADER, stamp_sent
from tuner.metrics.settings import DEFAULT_PORT, Settings
from tuner.metrics.tasks import queue_wait


def test_stamp_sets_the_header_once() -> None:
    headers: dict[str, object] = {}
    before = time.time()
    stamp_sent(headers=headers)
    sent = headers[SENT_HEADER]
    assert isinstance(sent, float) and before <= sent <= time.time()
    stamp_sent(headers=headers)  # a re-publish (retry) keeps the first stamp
    assert headers[SENT_HEADER] == sent


def test_queue_wait_from_the_stamp_or_the_later_eta() -> None:
    req = SimpleNamespace(**{SENT_HEADER: 100.0, "eta": None})
    assert queue_wait(req, 102.5) == 2.5
    eta = datetime.fromtimestamp(110.0, tz=timezone.utc).isoformat()
    req = SimpleNamespace(**{SENT_HEADER: 100.0, "eta": eta})
    assert queue_wait(req, 111.0) == pytest.approx(1.0)
    assert queue_wait(SimpleNamespace(), 5.0) is None  # not stamped: no observation
    assert queue_wait(SimpleNamespace(**{SENT_HEADER: 10.0}), 9.0) == 0.0  # clock skew


def test_concurrency_counts_only_time_with_two_or_more_tasks() -> None:
    c = Concurrency()
    c.change(+1)
    time.sleep(0.05)
    assert c.multi_seconds() == 0.0
    c.change(+1)
    time.sleep(0.05)
    c.change(-1)
    multi = c.multi_seconds()
    assert multi > 0.0
    time.sleep(0.05)
    assert c.multi_seconds() == multi
    c.change(-5)
    assert c.running == 0


def test_settings_from_conf_then_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings.from_conf({}).port == DEFAULT_PORT
    monkeypatch.setenv("CELERY_TUNE_METRICS_PORT", "0")
    monkeypatch.setenv("CELERY_TUNE_METRICS_GIL", "off")
    s = Settings.from_conf({"metrics_addr": "127.0.0.1"})
    assert (s.port, s.addr, s.gil) == (0, "127.0.0.1", False)
    assert Settings.from_conf({"metrics_port": 9999}).port == 9999
