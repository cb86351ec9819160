"""The embedded broker's transport: messages and tables appear atomically, in order."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from tuner.bench.broker import Broker, open_broker


def test_concurrent_put_and_get_never_yield_a_partial_message(tmp_path: Path) -> None:
    session = open_broker(Broker(), tmp_path)
    queue_name = "atomic-test"
    total = 1500
    payload = {"blob": "x" * 4000}  # large enough that a write is not instantaneous
    received: list[Any] = []
    errors: list[BaseException] = []

    def produce() -> None:
        conn = session.connection()
        try:
            producer = conn.Producer(serializer="json")
            queue = session.queue(queue_name)
            for i in range(total):
                producer.publish(
                    {"i": i, **payload}, exchange="", routing_key=queue_name, declare=[queue]
                )
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            conn.release()

    conn = session.connection()
    try:
        simple = conn.SimpleQueue(session.queue(queue_name))
        thread = threading.Thread(target=produce)
        thread.start()
        while len(received) < total and (thread.is_alive() or len(received) < total):
            try:
                message = simple.get(timeout=5)
            except Exception as exc:  # Empty after the producer is done means loss
                errors.append(exc)
                break
            received.append(message.payload["i"])
            message.ack()
        thread.join()
        simple.close()
    finally:
        conn.release()
    assert errors == []
    assert sorted(received) == list(range(total))
    staging = Path(session.transport_options["data_folder_out"]) / ".staging"
    assert list(staging.iterdir()) == []
