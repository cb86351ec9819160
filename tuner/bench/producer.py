"""Sending tasks to the run's queue, exactly as ``send_task`` would, on our own connection.

The message is built by Celery (``app.amqp.as_task_v2``) and published with kombu on a connection
made from the run's broker session, so ``CELERY_BROKER_URL`` in the environment cannot redirect it
and no result backend is touched.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import TracebackType
from typing import Any

from tuner.bench.broker import BrokerSession, mask
from tuner.bench.errors import BenchError


class Producer:
    def __init__(self, session: BrokerSession, queue: str) -> None:
        from celery import Celery

        self.session = session
        self.app = Celery("tuner-bench-producer", set_as_current=False)
        self.queue_name = queue
        self.queue = session.queue(queue)
        self.connection = session.connection()
        try:
            self.producer = self.connection.Producer(serializer="json")
        except Exception as exc:
            self.connection.release()
            raise BenchError(f"broker {mask(session.url)}: cannot publish ({exc})") from None

    def send(self, task_id: str, name: str, args: Any, kwargs: Mapping[str, Any]) -> None:
        message = self.app.amqp.as_task_v2(task_id, name, list(args), dict(kwargs))
        try:
            self.producer.publish(
                message.body,
                exchange="",
                routing_key=self.queue_name,
                serializer="json",
                headers=message.headers,
                declare=[self.queue],
                delivery_mode=2,
                retry=True,
                retry_policy={"max_retries": 3, "interval_start": 0.1, "interval_step": 0.2},
                **message.properties,
            )
        except BenchError:
            raise
        except Exception as exc:
            raise BenchError(
                f"broker {mask(self.session.url)}: publishing failed ({exc})"
            ) from None

    def close(self) -> None:
        self.connection.release()

    def __enter__(self) -> Producer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
