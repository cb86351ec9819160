"""Real workers on the Redis and RabbitMQ servers on loopback; only the run's queue is touched."""

from __future__ import annotations

import importlib
import uuid
from typing import Any

import pytest

from tests.bench.conftest import QUICK, wait_gone
from tuner.bench.broker import Broker
from tuner.bench.config import WorkerConfig
from tuner.bench.runner import run_config
from tuner.bench.workloads import preset

pytestmark = pytest.mark.slow


kombu: Any = importlib.import_module("kombu")
NotFound: Any = importlib.import_module("amqp.exceptions").NotFound


def _connection(url: str) -> Any:
    return kombu.Connection(url)


def test_redis_nothing_lost_and_only_our_queue_removed(redis_url: str) -> None:
    import redis

    client = redis.Redis.from_url(redis_url)
    sentinel = f"celery-tune-test-sentinel-{uuid.uuid4().hex[:6]}"
    client.rpush(sentinel, "keep me")
    try:
        result = run_config(
            WorkerConfig(concurrency=2, acks_late=True), preset("cpu", scale=0.2), QUICK,
            Broker(redis_url),
        )  # fmt: skip
        m = result.metrics
        assert m.tasks_sent >= 40 and m.tasks_done == m.tasks_sent and m.tasks_lost == 0
        queue = f"celery-tune.{result.run_id}"
        assert not client.exists(queue)
        assert list(client.scan_iter(match=f"*{result.run_id}*")) == []  # bindings included
        assert client.lrange(sentinel, 0, -1) == [b"keep me"]
        assert wait_gone(result.worker_pids, within=30.0) == []
    finally:
        client.delete(sentinel)


def test_rabbitmq_nothing_lost_and_only_our_queue_removed(amqp_url: str) -> None:
    sentinel = kombu.Queue(f"celery-tune-test-sentinel-{uuid.uuid4().hex[:6]}", auto_delete=False)
    with _connection(amqp_url) as conn:
        channel = conn.channel()
        bound = sentinel(channel)
        bound.declare()
        conn.Producer(channel).publish({"keep": "me"}, routing_key=sentinel.name)
        try:
            result = run_config(
                WorkerConfig(concurrency=2, prefetch_multiplier=1, acks_late=True),
                preset("cpu", scale=0.2), QUICK, Broker(amqp_url),
            )  # fmt: skip
            m = result.metrics
            assert m.tasks_sent >= 40 and m.tasks_done == m.tasks_sent and m.tasks_lost == 0
            queue = f"celery-tune.{result.run_id}"
            check = conn.channel()
            with pytest.raises(NotFound):
                check.queue_declare(queue=queue, passive=True)
            check = conn.channel()
            # Remote control was off: no pidbox queue was declared for the worker either.
            with pytest.raises(NotFound):
                check.queue_declare(
                    queue=f"bench-{result.run_id}-0@celery-tune.celery.pidbox", passive=True
                )
            _, count, _ = conn.channel().queue_declare(queue=sentinel.name, passive=True)
            assert count == 1
        finally:
            bound.delete()
