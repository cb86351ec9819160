from __future__ import annotations

import time

import pytest

from tuner.bench.broker import Broker, check_reachable, mask
from tuner.bench.errors import BenchError


@pytest.mark.parametrize("url", ["redis://127.0.0.1:1/0", "amqp://guest:guest@127.0.0.1:1//"])
def test_unreachable_broker_is_a_clear_error_without_hanging(url: str) -> None:
    start = time.monotonic()
    with pytest.raises(BenchError, match="unreachable") as info:
        check_reachable(Broker(url), timeout=5.0)
    assert time.monotonic() - start < 60  # refused at once; generous for a loaded machine
    assert "guest:guest" not in str(info.value)  # passwords are masked
    assert "\n" not in str(info.value)


def test_unsupported_scheme() -> None:
    with pytest.raises(BenchError, match="unsupported scheme 'sqs'"):
        Broker("sqs://key:secret@").validate()


def test_mask_hides_the_password_only() -> None:
    assert mask("amqp://user:secret@host:5672//") == "amqp://user:***@host:5672//"
    assert mask("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"


def test_embedded_broker_needs_no_server() -> None:
    check_reachable(Broker())  # nothing to reach
    assert Broker().describe().startswith("embedded")


def test_reachable_redis(redis_url: str) -> None:
    check_reachable(Broker(redis_url))


def test_reachable_rabbitmq(amqp_url: str) -> None:
    check_reachable(Broker(amqp_url))
