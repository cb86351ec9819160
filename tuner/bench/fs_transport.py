"""The embedded broker's transport: kombu's filesystem transport with three fixes.

1. Messages appear atomically.  Stock ``_put`` creates ``<name>.msg`` and then writes it, and
   ``_get`` does not take the file lock, so a consumer polling at that moment can take an empty
   message (``JSONDecodeError`` in the worker, and the task is lost).  Here a message is written
   under a name the consumer ignores and renamed into place.
2. Exchange tables appear atomically.  Stock ``_queue_bind`` creates the table file empty and
   only then locks and fills it, so two processes binding at once can read ``""``.  Here the file
   is created complete (``os.link`` of a finished temporary file) before the locked update.
3. A warm shutdown is noticed at once.  Celery's blocking loop (used for transports without async
   I/O) waits in ``drain_events`` for up to 2 s; this one stops polling when the worker's
   shutdown flag is set.

Delivery order, polling and the on-disk format are otherwise kombu's.  Used by the bench's
producer and workers only.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
import uuid
from queue import Empty
from typing import Any

from kombu.transport import filesystem
from kombu.utils import json as kombu_json
from kombu.utils.objects import cached_property

_dumps: Any = kombu_json.dumps
STAGING = ".staging"  # inside the data folder; the consumer skips names without ".<queue>.msg"


def _stopping() -> bool:
    try:
        from celery.worker import state
    except ImportError:  # pragma: no cover - celery is a dependency
        return False
    flags = (state.should_stop, state.should_terminate)
    return any(flag is not None and flag is not False for flag in flags)


class Channel(filesystem.Channel):
    @cached_property
    def staging_folder(self) -> str:
        folder = os.path.join(self.data_folder_out, STAGING)
        os.makedirs(folder, exist_ok=True)
        return folder

    def _put(self, queue: Any, payload: Any, **kwargs: Any) -> None:  # type: ignore[override]
        name = f"{round(time.monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        staged = os.path.join(self.staging_folder, name)
        with open(staged, "wb") as f:
            f.write(_dumps(payload).encode())
        os.replace(staged, os.path.join(self.data_folder_out, name))

    def _queue_bind(self, exchange: str, routing_key: str, pattern: str, queue: str) -> None:
        base: Any = super()
        table = base._exchange_file(exchange)
        self.control_folder.mkdir(exist_ok=True)
        if not table.exists():
            fd, tmp = tempfile.mkstemp(dir=self.control_folder, prefix=".new-")
            try:
                os.write(fd, b"[]")
                os.close(fd)
                with contextlib.suppress(FileExistsError):
                    os.link(tmp, table)  # create-if-absent, complete from the first moment
            finally:
                os.unlink(tmp)
        base._queue_bind(exchange, routing_key, pattern, queue)


class Transport(filesystem.Transport):
    Channel = Channel

    def drain_events(self, connection: Any, timeout: Any = None) -> Any:  # type: ignore[override]
        start = time.monotonic()
        get: Any = self.cycle.get  # type: ignore[union-attr]
        interval = self.polling_interval
        while True:
            try:
                get(self._deliver, timeout=timeout)
            except Empty:
                if timeout is not None and time.monotonic() - start >= timeout:
                    raise TimeoutError() from None
                if _stopping():
                    raise TimeoutError() from None
                if interval is not None:
                    time.sleep(interval)
            else:
                return None
