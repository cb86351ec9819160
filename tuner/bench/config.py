"""What one measured worker is: :class:`WorkerConfig`, the baselines, ``--set``, ``--config``.

A config holds the settings the tuner varies as fields and any other Celery setting in ``extra``.
:meth:`WorkerConfig.applied_settings` is everything the worker gets, so a user's app cannot leak its
own worker settings into a comparison; :meth:`WorkerConfig.settings` is only what differs from
Celery's defaults (for emitting a config file).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from tuner.bench.errors import BenchError

POOL_ALIASES = ("prefork", "processes", "threads", "solo", "gevent", "eventlet")
# AffinityPool under its path and under its earlier alias (the same class).
PREFORK_POOLS = (
    "prefork",
    "processes",
    "tuner.pools.prefork:AffinityPool",
    "tuner.pools:AffinityPool",
)

# WorkerConfig field -> the Celery setting it stands for (``optimization`` is ``-O`` only).
FIELD_SETTINGS: dict[str, str] = {
    "pool": "worker_pool",
    "concurrency": "worker_concurrency",
    "prefetch_multiplier": "worker_prefetch_multiplier",
    "disable_prefetch": "worker_disable_prefetch",
    "max_tasks_per_child": "worker_max_tasks_per_child",
    "max_memory_per_child": "worker_max_memory_per_child",
    "acks_late": "task_acks_late",
    "reject_on_worker_lost": "task_reject_on_worker_lost",
}
SETTING_FIELDS = {setting: name for name, setting in FIELD_SETTINGS.items()}

# Settings the bench owns: the broker is --broker, remote control would declare queues on it.
REFUSED = {
    "broker_url": "use --broker",
    "broker_read_url": "use --broker",
    "broker_write_url": "use --broker",
    "broker_host": "use --broker",
    "worker_enable_remote_control": "the bench keeps remote control off",
    "task_always_eager": "eager tasks never reach a worker",
}
# Documented settings that Celery's defaults.py lacks (see celery-facts.md): accepted as known.
UNLISTED = {
    "redis_backend_credential_provider",
    "redis_backend_health_check_interval",
    "redis_client_name",
    "result_backend_thread_safe",
    "override_backends",
    "worker_pidfile",
    "worker_logfile",
    "worker_uid",
    "worker_gid",
    "worker_umask",
    "worker_executable",
}
# From a --config file only worker_* and task_* settings are taken, minus routing and eager mode.
FILE_SKIPPED = {
    "task_routes",
    "task_queues",
    "task_default_queue",
    "task_default_exchange",
    "task_default_exchange_type",
    "task_default_routing_key",
    "task_create_missing_queues",
    "task_always_eager",
    "task_eager_propagates",
    "task_store_eager_result",
    "worker_enable_remote_control",
    "worker_send_task_events",
    "worker_direct",
}


@dataclass(frozen=True)
class WorkerConfig:
    """One worker configuration to measure."""

    label: str = "config"
    pool: str = "prefork"
    concurrency: int | None = None
    prefetch_multiplier: int = 4
    disable_prefetch: bool = False
    max_tasks_per_child: int | None = None
    max_memory_per_child: int | None = None  # KiB, as Celery
    acks_late: bool = False
    reject_on_worker_lost: bool | None = None
    optimization: str | None = None
    extra: Mapping[str, object] = field(default_factory=dict, hash=False)

    def field_settings(self) -> dict[str, object]:
        return {setting: getattr(self, name) for name, setting in FIELD_SETTINGS.items()}

    def settings(self) -> dict[str, object]:
        """The new-style Celery settings this config sets, where they differ from the defaults."""
        default = WorkerConfig()
        out = {
            setting: value
            for setting, value in self.field_settings().items()
            if value != getattr(default, SETTING_FIELDS[setting])
        }
        out.update(self.extra)
        return out

    def applied_settings(self) -> dict[str, object]:
        """Every setting the worker gets (defaults included: a user's app cannot override them)."""
        out = self.field_settings()
        if not self.disable_prefetch:
            del out["worker_disable_prefetch"]  # Celery warns about it on non-Redis brokers
        out.update(self.extra)
        return out

    def worker_args(self) -> list[str]:
        """``celery worker`` options for this config (the rest goes through the settings)."""
        args: list[str] = []
        if self.pool in POOL_ALIASES:
            args += ["-P", self.pool]
        if self.concurrency is not None:
            args += ["-c", str(self.concurrency)]
        args += ["--prefetch-multiplier", str(self.prefetch_multiplier)]
        if self.max_tasks_per_child is not None:
            args += ["--max-tasks-per-child", str(self.max_tasks_per_child)]
        if self.max_memory_per_child is not None:
            args += ["--max-memory-per-child", str(self.max_memory_per_child)]
        if self.optimization is not None:
            args += ["-O", self.optimization]
        return args

    def effective_concurrency(self) -> int:
        """How many tasks the pool runs at once (Celery's default is ``os.cpu_count()``)."""
        if self.pool == "solo":
            return 1
        if self.concurrency is not None:
            return self.concurrency
        if self.extra.get("worker_concurrency") == "auto":
            from tuner.audit.cpus import detect

            return max(1, int(detect().count))
        return os.cpu_count() or 1

    def is_prefork(self) -> bool:
        return self.pool in PREFORK_POOLS or self.pool.endswith("prefork:TaskPool")

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {f.name: getattr(self, f.name) for f in fields(self)}
        out["extra"] = dict(self.extra)
        return out


def physical_cores() -> int:
    import psutil

    return psutil.cpu_count(logical=False) or os.cpu_count() or 1


def _celery_default(cores: int) -> WorkerConfig:
    return WorkerConfig(label="celery-default")


def _docs_long_tasks(cores: int) -> WorkerConfig:
    return WorkerConfig(label="docs-long-tasks", prefetch_multiplier=1, acks_late=True)


def _blog_recipe(cores: int) -> WorkerConfig:
    return WorkerConfig(
        label="blog-recipe", prefetch_multiplier=2, max_tasks_per_child=100, concurrency=cores
    )


BASELINES: dict[str, Callable[[int], WorkerConfig]] = {
    "celery-default": _celery_default,
    "docs-long-tasks": _docs_long_tasks,
    "blog-recipe": _blog_recipe,
}
BASELINE_HELP = {
    "celery-default": "Celery's defaults (prefork, concurrency = CPUs, prefetch 4)",
    "docs-long-tasks": "the Optimizing guide's advice for long tasks: prefetch 1 + late acks",
    "blog-recipe": "prefetch 2, max-tasks-per-child 100, concurrency = physical cores",
}


def baseline(name: str, cores: int | None = None) -> WorkerConfig:
    """A named baseline; ``cores`` is the physical core count (detected when None)."""
    if name not in BASELINES:
        raise BenchError(f"unknown baseline {name!r} (choose from {', '.join(BASELINES)})")
    return BASELINES[name](cores if cores is not None else physical_cores())


def known_settings() -> set[str]:
    from celery.app.defaults import DEFAULTS

    return {key for key in DEFAULTS if key == key.lower()} | UNLISTED


def parse_value(text: str) -> object:
    """A ``--set`` value: bool, None, int, float, JSON list/object/string, else the plain text."""
    t = text.strip()
    low = t.lower()
    if low in ("true", "yes", "on"):
        return True
    if low in ("false", "no", "off"):
        return False
    if low in ("none", "null"):
        return None
    for convert in (int, float):
        try:
            return convert(t)
        except ValueError:
            pass
    if t[:1] in '[{"':
        try:
            return json.loads(t)
        except json.JSONDecodeError as exc:
            raise BenchError(f"value {t!r}: not valid JSON ({exc.msg})") from None
    return t


def _as_int(key: str, value: object, minimum: int, *, nullable: bool) -> int | None:
    if value is None and nullable:
        return None
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise BenchError(f"{key}: expected an integer, got {value!r}")
    if nullable and value == 0 and minimum == 1:
        return None  # Celery treats 0 as "no limit"
    if value < minimum:
        raise BenchError(f"{key}: must be >= {minimum}, got {value}")
    return value


def _as_bool(key: str, value: object, *, nullable: bool) -> bool | None:
    if value is None and nullable:
        return None
    if isinstance(value, str):
        value = parse_value(value)
    if not isinstance(value, bool):
        raise BenchError(f"{key}: expected true or false, got {value!r}")
    return value


def _suggest(key: str, known: Iterable[str]) -> str:
    import difflib

    close = difflib.get_close_matches(key, list(known), n=1)
    return f" (did you mean {close[0]}?)" if close else ""


def from_settings(
    settings: Mapping[str, object], label: str, base: WorkerConfig | None = None
) -> WorkerConfig:
    """A config from setting names (new style, or WorkerConfig field names) and values."""
    values: dict[str, object] = {}
    extra: dict[str, object] = dict(base.extra) if base else {}
    known: set[str] | None = None
    for raw_key, value in settings.items():
        key = raw_key.strip()
        name = key if key in FIELD_SETTINGS or key == "optimization" else SETTING_FIELDS.get(key)
        if name is None:
            if key in REFUSED:
                raise BenchError(f"{key}: not settable here ({REFUSED[key]})")
            known = known if known is not None else known_settings()
            if key not in known:
                hint = _suggest(key, [*known, *FIELD_SETTINGS, "optimization"])
                raise BenchError(f"{key}: not a Celery setting{hint}")
            extra[key] = value
            continue
        values[name] = _convert_field(name, key, value, extra)
    cfg = replace(base or WorkerConfig(), label=label, extra=extra, **values)  # type: ignore[arg-type]
    return cfg


def _convert_field(name: str, key: str, value: object, extra: dict[str, object]) -> object:
    if name == "pool":
        if not isinstance(value, str) or not value.strip():
            raise BenchError(f"{key}: expected a pool name, got {value!r}")
        pool = value.strip()
        if pool not in POOL_ALIASES and ":" not in pool and "." not in pool:
            raise BenchError(
                f"{key}: unknown pool {pool!r} (use {', '.join(POOL_ALIASES)} or module:Class)"
            )
        return pool
    if name == "concurrency":
        if isinstance(value, str) and value.strip() == "auto":
            extra["worker_concurrency"] = "auto"
            return None
        return _as_int(key, value, 1, nullable=True)
    if name == "prefetch_multiplier":
        return _as_int(key, value, 0, nullable=False)
    if name in ("max_tasks_per_child", "max_memory_per_child"):
        return _as_int(key, value, 1, nullable=True)
    if name in ("disable_prefetch", "acks_late"):
        return _as_bool(key, value, nullable=False)
    if name == "reject_on_worker_lost":
        return _as_bool(key, value, nullable=True)
    if name == "optimization":
        if value not in (None, "fair", "default"):
            raise BenchError(f"{key}: expected fair or default, got {value!r}")
        return value
    raise AssertionError(name)  # pragma: no cover


_PAIR_SPLIT = re.compile(r",(?=\s*[A-Za-z_][\w.]*\s*=)")


def parse_set(text: str) -> WorkerConfig:
    """One ``--set`` value: ``key=value[,key=value...]``; ``label=NAME`` names the config."""
    pairs: dict[str, object] = {}
    label = None
    for part in _PAIR_SPLIT.split(text):
        key, sep, value = part.partition("=")
        key = key.strip()
        if not sep or not key:
            raise BenchError(f"--set {text!r}: expected key=value, got {part.strip()!r}")
        if key == "label":
            label = value.strip()
            continue
        try:
            pairs[key] = parse_value(value)
        except BenchError as exc:
            raise BenchError(f"--set {key}: {exc}") from None
    if not pairs and label is None:
        raise BenchError(f"--set {text!r}: no settings given")
    try:
        return from_settings(pairs, label or text.strip())
    except BenchError as exc:
        raise BenchError(f"--set: {exc}") from None


def config_from_file(path: str) -> tuple[WorkerConfig, list[str]]:
    """A config from a Celery config file or worker command line, read statically.

    Returns the config and the names of the settings that were left out (not worker/task ones).
    """
    from tuner.audit.extract import ConfigError, worker_settings

    if not Path(path).is_file():
        raise BenchError(f"{path}: no such file")
    try:
        found = worker_settings(path)
    except ConfigError as exc:
        raise BenchError(str(exc)) from None
    kept: dict[str, object] = {}
    skipped: list[str] = []
    for key, value in found.items():
        if key.startswith(("worker_", "task_")) and key not in FILE_SKIPPED:
            kept[key] = value
        else:
            skipped.append(key)
    try:
        return from_settings(kept, Path(path).name), skipped
    except BenchError as exc:
        raise BenchError(f"{path}: {exc}") from None


def unique_labels(configs: Iterable[WorkerConfig]) -> list[WorkerConfig]:
    """Configs with distinct labels (a repeated label gets ``#2``, ``#3``...)."""
    seen: dict[str, int] = {}
    out = []
    for cfg in configs:
        n = seen.get(cfg.label, 0) + 1
        seen[cfg.label] = n
        out.append(cfg if n == 1 else replace(cfg, label=f"{cfg.label}#{n}"))
    return out
