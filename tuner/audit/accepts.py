"""What Celery accepts for each type-checked setting, from how it *consumes* the value.

``type=`` in ``celery/app/defaults.py`` is not what Celery accepts: ``result_expires`` is typed
float but takes a timedelta, the prefetch multiplier goes through ``int()``, booleans are only
truth-tested.  CT111 checks only the settings below, each with the Celery (or billiard) line that
consumes it; any other setting's type is not judged.  ``tests/audit/test_accepts.py`` loads each
kind of value into a real Celery app, worker or pool.

Kinds:

``int()``
    Celery calls ``int()`` on it: ints, floats and numeric strings work; another string raises
    ``ValueError`` at worker start.
``concurrency``
    An int, a numeric string (``int()``-ed) or ``"auto"``; any other string makes the worker log a
    warning and fall back to the CPU count; ``True`` is refused by billiard.
``positive-int``
    billiard checks ``isinstance(value, int)``: a float or a string raises ``ValueError``, a bool
    ``TypeError``.
``number``
    Used as a number; billiard refuses a bool with ``TypeError``.  Strings are not judged.
``expires``
    A number of seconds or a ``timedelta`` (``prepare_expires`` calls ``total_seconds()``).
``truth``
    Only tested for truth: ``0``/``1`` work, and so does any object; only a string that reads as
    false (``"False"``, ``"0"``, ``"no"``) is a mistake, since a non-empty string is true.
``pool-limit``
    An int or None: kombu compares ``len(self._dirty) >= self.limit`` (``Resource.acquire``),
    so a string raises ``TypeError`` when the producer pool is first used, and a bool is refused.
``ssl``
    A dict of ssl options, or a bool.
``ssl-dict``
    A dict of ssl options (``connparams.update(value)``), or a false value.
"""

from __future__ import annotations

from typing import Final

ACCEPTS: Final[dict[str, tuple[str, str]]] = {
    "worker_concurrency": ("concurrency", "celery/worker/worker.py:WorkController.setup_instance"),
    "worker_prefetch_multiplier": (
        "int()",
        "celery/worker/worker.py:WorkController.setup_defaults",
    ),
    "worker_max_tasks_per_child": ("positive-int", "billiard/pool.py:Pool.__init__"),
    "worker_max_memory_per_child": ("number", "billiard/pool.py:Pool.__init__"),
    "task_time_limit": ("number", "billiard/pool.py:Pool.__init__ (timeout)"),
    "task_soft_time_limit": ("number", "billiard/pool.py:Pool.__init__ (soft_timeout)"),
    "result_expires": ("expires", "celery/backends/base.py:Backend.prepare_expires"),
    "result_chord_expires": (
        "expires",
        "celery/backends/base.py:BaseKeyValueStoreBackend.chord_expires",
    ),
    "result_failure_expires": ("expires", "celery/backends/redis.py:RedisBackend.__init__"),
    "broker_pool_limit": (
        "pool-limit",
        "celery/app/base.py:Celery.pool -> kombu/resource.py:Resource.acquire",
    ),
    "broker_use_ssl": ("ssl", "celery/app/base.py:Celery._connection (ssl=...)"),
    "redis_backend_use_ssl": ("ssl-dict", "celery/backends/redis.py:RedisBackend.__init__"),
    "task_acks_late": ("truth", "celery/worker/request.py:Request.execute"),
    "task_reject_on_worker_lost": ("truth", "celery/worker/request.py:Request.on_failure"),
    "task_always_eager": ("truth", "celery/app/task.py:Task.apply_async"),
    "task_track_started": ("truth", "celery/app/trace.py:build_tracer"),
    "task_allow_error_cb_on_chord_header": ("truth", "celery/canvas.py:_chord.link_error"),
    "task_remote_tracebacks": ("truth", "celery/result.py:AsyncResult._to_remote_traceback"),
    "task_inherit_parent_priority": ("truth", "celery/app/base.py:Celery.send_task"),
    "task_store_eager_result": ("truth", "celery/backends/base.py:Backend._ensure_not_eager"),
    "broker_channel_error_retry": ("truth", "celery/worker/consumer/consumer.py:Consumer.start"),
    "worker_cancel_long_running_tasks_on_connection_loss": (
        "truth",
        "celery/worker/consumer/consumer.py:Consumer.on_connection_error_after_connected",
    ),
    "worker_enable_prefetch_count_reduction": (
        "truth",
        "celery/worker/consumer/consumer.py:Consumer.on_connection_error_after_connected",
    ),
    "worker_disable_prefetch": ("truth", "celery/worker/consumer/tasks.py:Tasks.start"),
    "worker_detect_quorum_queues": ("truth", "celery/worker/consumer/tasks.py:Tasks.qos_global"),
    "worker_enable_remote_control": (
        "truth",
        "celery/worker/consumer/control.py:Control.include_if",
    ),
    "worker_enable_soft_shutdown_on_idle": (
        "truth",
        "celery/worker/worker.py:WorkController.wait_for_soft_shutdown",
    ),
    "worker_hijack_root_logger": ("truth", "celery/app/log.py:Logging.setup_logging_subsystem"),
    "worker_deduplicate_successful_tasks": ("truth", "celery/app/trace.py:build_tracer"),
    "broker_connection_retry": (
        "truth",
        "celery/worker/consumer/consumer.py:Consumer.ensure_connected",
    ),
    "broker_connection_retry_on_startup": (
        "truth",
        "celery/worker/consumer/consumer.py:Consumer.ensure_connected",
    ),
}
"""setting -> (kind, the consuming source: file:function)."""

FALSE_WORDS: Final = frozenset({"false", "f", "no", "n", "off", "0", "none", "null", ""})


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _int_text(value: str) -> bool:
    try:
        int(value)
    except ValueError:
        return False
    return True


def problem(setting: str, value: object) -> str | None:
    """Why Celery cannot use ``value`` for ``setting`` (None: it can, or the setting is not
    checked).  Phrased to follow "`name` = value: "."""
    entry = ACCEPTS.get(setting)
    if entry is None or value is None:
        return None
    kind, _ = entry
    if kind == "int()":
        if isinstance(value, str) and not _int_text(value):
            return "Celery calls int() on it, which raises ValueError at worker start"
    elif kind == "concurrency":
        if isinstance(value, str) and value != "auto" and not _int_text(value):
            return (
                "not an integer or 'auto': the worker logs a warning and starts one child "
                "per CPU instead"
            )
        if value is True:
            return "billiard refuses a bool for the number of processes (TypeError)"
    elif kind == "positive-int":
        if isinstance(value, bool):
            return "billiard refuses a bool here (TypeError at worker start)"
        if not _is_int(value):
            return "billiard requires an int (ValueError at worker start)"
    elif kind == "number":
        if isinstance(value, bool):
            return "billiard refuses a bool here (TypeError at worker start)"
    elif kind == "expires":
        if isinstance(value, bool):
            return "a bool is not a number of seconds or a timedelta"
        if isinstance(value, str) and not _int_text(value):
            return "not a number of seconds or a timedelta"
    elif kind == "truth":
        if isinstance(value, str) and value.strip().lower() in FALSE_WORDS:
            return f"a non-empty string is true: {value!r} turns it on" if value else None
    elif kind == "pool-limit":
        if isinstance(value, bool):
            return "kombu refuses a bool for the pool limit (TypeError)"
        if isinstance(value, str):
            return "kombu compares the limit with an int: TypeError when the pool is first used"
    elif kind == "ssl":
        if not isinstance(value, (dict, bool)):
            return "must be a dict of ssl options or a bool"
    elif kind == "ssl-dict" and value and not isinstance(value, dict):
        return "must be a dict of ssl options (Celery calls connparams.update() with it)"
    return None


def env_string_breaks(setting: str) -> bool:
    """Whether reading the setting from the environment without converting it is a mistake:
    billiard refuses a str where it wants an int, and ``"false"`` is a true string."""
    entry = ACCEPTS.get(setting)
    return entry is not None and entry[0] in ("positive-int", "truth", "pool-limit")
