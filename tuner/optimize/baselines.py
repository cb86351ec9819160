"""The baselines every study starts from: Celery's defaults and the user's current config.

The user's config (``--config FILE``) is read statically, with the audit's readers: a Python
config module, Django settings, or a file holding a ``celery worker`` command line (Procfile,
systemd unit, Dockerfile, compose, Kubernetes).  Nothing is imported or run.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from tuner.optimize.space import DEFAULTS, Choice, Scalar

if TYPE_CHECKING:
    from tuner.bench.config import WorkerConfig

DEFAULT_LABEL = "celery-default"
INPUT_LABEL = "input-config"
CARRIED = ("task_time_limit", "task_soft_time_limit")


class ConfigError(ValueError):
    """``--config`` cannot be used; one line naming file, line and problem."""


@dataclass(frozen=True)
class InputConfig:
    """The user's config: its WorkerConfig, the same as a choice, and what else it sets.

    ``extra`` (its other worker/task settings, e.g. time limits and serializers) is applied to
    every tuned trial too, so trials differ from the input only in the searched settings.
    """

    path: str
    config: WorkerConfig
    choice: Choice
    extra: Mapping[str, object] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    @property
    def carried(self) -> dict[str, object]:
        """Settings the emitted config repeats from the input (time limits)."""
        return {k: v for k, v in self.extra.items() if k in CARRIED}


def read_config(path: str, cpus: int) -> InputConfig:
    """Read ``path`` statically (the bench's reader, built on the audit's); ConfigError if bad."""
    from tuner.audit.extract import ConfigError as ExtractError
    from tuner.audit.extract import extract
    from tuner.bench.config import FIELD_SETTINGS, config_from_file
    from tuner.bench.errors import BenchError

    try:
        config, skipped = config_from_file(path)
        unresolved = extract(path).unresolved
    except (BenchError, ExtractError) as exc:
        raise ConfigError(str(exc)) from None
    notes = [
        f"{path}: {name} is unknown statically; Celery's default is used" for name in unresolved
    ]
    if skipped:
        notes.append(f"{path}: not used for measuring: {', '.join(sorted(skipped))}")
    extra = {k: v for k, v in config.extra.items() if k not in FIELD_SETTINGS}
    config = replace(config, label=INPUT_LABEL)
    if config.pool == "processes":
        config = replace(config, pool="prefork")
    choice = choice_of(config)
    if config.extra.get("worker_concurrency") == "auto":
        ran = config.effective_concurrency()
        notes.append(f"{path}: worker_concurrency 'auto' is {ran} on this machine")
        choice["concurrency"] = ran
    return InputConfig(path, config, choice, extra, tuple(notes))


def choice_of(config: WorkerConfig) -> Choice:
    """A WorkerConfig as a choice (the space's vocabulary)."""
    out: Choice = {}
    for key in DEFAULTS:
        value: Scalar = getattr(config, key, DEFAULTS[key])
        out[key] = value
    return out


def worker_config(
    choice: Mapping[str, Scalar], label: str, extra: Mapping[str, object] = {}
) -> WorkerConfig:
    """The bench's WorkerConfig for a choice."""
    from tuner.bench.config import WorkerConfig

    def num(key: str) -> int | None:
        value = choice.get(key, DEFAULTS[key])
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    pool = choice.get("pool", "prefork")
    prefetch = num("prefetch_multiplier")
    rowl = choice.get("reject_on_worker_lost")
    optimization = choice.get("optimization")
    return WorkerConfig(
        label=label,
        pool=str(pool),
        concurrency=num("concurrency"),
        prefetch_multiplier=4 if prefetch is None else prefetch,
        disable_prefetch=bool(choice.get("disable_prefetch")),
        max_tasks_per_child=num("max_tasks_per_child"),
        max_memory_per_child=num("max_memory_per_child"),
        acks_late=bool(choice.get("acks_late")),
        reject_on_worker_lost=rowl if isinstance(rowl, bool) else None,
        optimization=optimization if isinstance(optimization, str) else None,
        extra=dict(extra),
    )


def celery_default(cpus: int) -> WorkerConfig:
    """Celery's defaults, as the bench defines them."""
    from tuner.bench.config import BASELINES

    return BASELINES[DEFAULT_LABEL](cpus)
