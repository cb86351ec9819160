"""The broker a run talks to: Redis, RabbitMQ, or an embedded one that needs no server.

The embedded broker is kombu's filesystem transport in a temporary directory, polled every 10 ms.
Only the run's own queue is ever purged or deleted.
"""

from __future__ import annotations

import contextlib
import threading
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tuner.bench.errors import BenchError

SCHEMES = ("redis", "rediss", "amqp", "amqps", "pyamqp")
EMBEDDED_POLL = 0.01  # seconds between polls of the embedded broker's directory
EMBEDDED_TRANSPORT = "tuner.bench.fs_transport:Transport"  # kombu's filesystem transport, fixed


def _kombu() -> Any:
    import kombu

    return kombu


@dataclass(frozen=True)
class Broker:
    url: str | None = None  # None = embedded filesystem transport in a temp dir
    polling_interval: float = EMBEDDED_POLL

    @property
    def embedded(self) -> bool:
        return self.url is None

    @property
    def scheme(self) -> str:
        return "filesystem" if self.url is None else self.url.partition("://")[0].lower()

    def validate(self) -> Broker:
        if self.url is not None and self.scheme not in SCHEMES:
            raise BenchError(
                f"--broker {mask(self.url)}: unsupported scheme {self.scheme!r} "
                "(use redis:// or amqp://; omit --broker for the embedded one)"
            )
        return self

    def describe(self) -> str:
        return "embedded (filesystem transport)" if self.url is None else mask(self.url)


def mask(url: str) -> str:
    """The URL with any password replaced by ``***``."""
    parts = urllib.parse.urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
        return urllib.parse.urlunsplit(parts._replace(netloc=netloc))
    return url


@dataclass(frozen=True)
class BrokerSession:
    """A broker prepared for one run: the URL and transport options workers and producer share."""

    url: str
    transport_options: dict[str, Any]
    broker: Broker
    transport: str | None = None  # transport class ("module:Class"); None = from the URL

    def connection(self, connect_timeout: float = 5.0) -> Any:
        return _kombu().Connection(
            self.url,
            transport=self.transport,
            transport_options=self.transport_options,
            connect_timeout=connect_timeout,
        )

    def queue(self, name: str) -> Any:
        """The queue exactly as Celery's ``-Q`` declares it (direct exchange of the same name)."""
        kombu = _kombu()
        return kombu.Queue(name, kombu.Exchange(name, type="direct"), routing_key=name)

    def delete_queue(self, name: str) -> None:
        """Purge and delete the run's own queue (and its exchange); nothing else is touched."""
        conn = self.connection()
        try:
            with conn.channel() as channel:
                queue = self.queue(name)(channel)
                queue.declare()  # so that kombu knows the binding it has to remove (Redis)
                queue.purge()
                queue.delete()
                queue.exchange.delete()
        finally:
            conn.release()


def open_broker(broker: Broker, run_dir: Path) -> BrokerSession:
    """Prepare ``broker`` for a run whose private files live in ``run_dir``."""
    if broker.url is not None:
        return BrokerSession(broker.url, {}, broker)
    folder = run_dir / "broker"
    for sub in ("queue", "control", "processed"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    options: dict[str, Any] = {
        "data_folder_in": str(folder / "queue"),
        "data_folder_out": str(folder / "queue"),
        "control_folder": str(folder / "control"),
        "processed_folder": str(folder / "processed"),
        "store_processed": False,
        "polling_interval": broker.polling_interval,
    }
    return BrokerSession("filesystem://", options, broker, EMBEDDED_TRANSPORT)


def check_reachable(broker: Broker, timeout: float = 5.0) -> None:
    """Raise BenchError ("... unreachable ...") unless the broker accepts a connection in time."""
    if broker.url is None:
        return
    broker.validate()
    url = broker.url
    failure: list[BaseException] = []

    def attempt() -> None:
        conn = _kombu().Connection(url, connect_timeout=timeout)
        try:
            conn.ensure_connection(
                max_retries=1, interval_start=0, interval_step=0, timeout=timeout
            )
            with conn.channel():
                pass
        except BaseException as exc:  # reported to the caller below
            failure.append(exc)
        finally:
            with contextlib.suppress(Exception):  # best effort on a broken connection
                conn.release()

    thread = threading.Thread(target=attempt, name="broker-check", daemon=True)
    thread.start()
    thread.join(timeout + 1.0)
    if thread.is_alive():
        raise BenchError(f"broker {mask(url)} is unreachable: no answer within {timeout:g} s")
    if failure:
        exc = failure[0]
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise BenchError(f"broker {mask(url)} is unreachable: {reason}")
