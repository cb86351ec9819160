"""The search space: what a trial may change, how it is sampled, ``--space`` TOML and ``--fixed``.

A *choice* is a plain dict of :class:`tuner.bench.config.WorkerConfig` field values.  The walk in
:func:`choose` encodes the conditions between settings once, for sampling and for projecting a
baseline onto the space alike: solo has no concurrency, a disabled prefetch has no multiplier,
max-tasks/max-memory per child exist only for prefork pools, and reject-on-worker-lost only with
late acks.
"""

from __future__ import annotations

import importlib
import importlib.util
import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, cast

from tuner.bench.config import FIELD_SETTINGS

if TYPE_CHECKING:
    from optuna.trial import BaseTrial

Scalar = str | int | bool | None
Choice = dict[str, Scalar]

AFFINITY_POOL = "tuner.pools.prefork:AffinityPool"
AFFINITY_POOL_ALIAS = "tuner.pools:AffinityPool"  # the same class, under its earlier path
PREFORK_NAMES = (
    "prefork",
    "processes",
    "celery.concurrency.prefork:TaskPool",
    AFFINITY_POOL,
    AFFINITY_POOL_ALIAS,
)
GREEN_POOLS = ("gevent", "eventlet")
POOL_ALIASES = ("prefork", "processes", "threads", "solo", "gevent", "eventlet", "custom")

# Space key (a WorkerConfig field) -> the Celery setting it stands for (-O has none).
SETTINGS: dict[str, str] = {**FIELD_SETTINGS, "optimization": ""}
# What a key is when neither the space nor a pin says otherwise: Celery's defaults.
DEFAULTS: Choice = {
    "pool": "prefork",
    "concurrency": None,
    "prefetch_multiplier": 4,
    "disable_prefetch": False,
    "max_tasks_per_child": None,
    "max_memory_per_child": None,
    "acks_late": False,
    "reject_on_worker_lost": None,
    "optimization": None,
}
INT_KEYS = {
    "concurrency": 1,
    "prefetch_multiplier": 0,
    "max_tasks_per_child": 1,
    "max_memory_per_child": 1,
}
BOOL_KEYS = ("disable_prefetch", "acks_late", "reject_on_worker_lost")
NULLABLE = ("concurrency", "max_tasks_per_child", "max_memory_per_child", "reject_on_worker_lost")


class SpaceError(ValueError):
    """Bad ``--space`` or ``--fixed`` input; the message is one line naming where and what."""


def gate(key: str) -> str:
    """The Optuna parameter that says whether an optional limit is set at all."""
    return f"use_{key}"


def is_prefork(pool: Scalar) -> bool:
    return isinstance(pool, str) and pool.replace(".TaskPool", ":TaskPool") in PREFORK_NAMES


@dataclass(frozen=True)
class Param:
    """One searched setting: categorical ``choices``, or integers ``low``..``high``.

    ``none`` adds "no limit" (None) as an alternative, through the :func:`gate` parameter.
    """

    key: str
    choices: tuple[Scalar, ...] = ()
    low: int | None = None
    high: int | None = None
    log: bool = False
    none: bool = False

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {}
        if self.choices:
            out["choices"] = list(self.choices)
        else:
            out.update(low=self.low, high=self.high, log=self.log)
        if self.none:
            out["none"] = True
        return out

    def describe(self) -> str:
        if self.choices:
            text = ", ".join("none" if c is None else str(c).lower() for c in self.choices)
            shown = "{" + text + "}"
        else:
            shown = f"{self.low}..{self.high}" + (" (log)" if self.log else "")
        return shown + (" or none" if self.none else "")

    def contains(self, value: Scalar) -> bool:
        if value is None:
            return self.none or None in self.choices
        if self.choices:
            return value in self.choices and not _bool_int_confusion(value, self.choices)
        assert self.low is not None and self.high is not None
        return (
            isinstance(value, int)
            and not isinstance(value, bool)
            and self.low <= value <= self.high
        )

    def widened(self, value: Scalar) -> Param:
        """This parameter, grown just enough to contain ``value``."""
        if self.contains(value):
            return self
        if value is None:
            return replace(self, none=True)
        if self.choices:
            return replace(self, choices=(*self.choices, value))
        assert isinstance(value, int) and self.low is not None and self.high is not None
        return replace(self, low=min(self.low, value), high=max(self.high, value))


def _bool_int_confusion(value: Scalar, choices: Iterable[Scalar]) -> bool:
    """``True in (1,)`` is true in Python; a space must not mix them up."""
    return not any(type(c) is type(value) and c == value for c in choices)


@dataclass(frozen=True)
class Space:
    """Searched parameters plus pinned values (``fixed``) and extra Celery settings."""

    params: tuple[Param, ...] = ()
    fixed: Mapping[str, Scalar] = field(default_factory=dict)
    extra: Mapping[str, object] = field(default_factory=dict)

    def get(self, key: str) -> Param | None:
        for param in self.params:
            if param.key == key:
                return param
        return None

    def as_dict(self) -> dict[str, object]:
        return {
            "params": {p.key: p.as_dict() for p in self.params},
            "fixed": dict(self.fixed),
            "extra": dict(self.extra),
        }

    def pin(self, fixed: Mapping[str, Scalar], extra: Mapping[str, object] = {}) -> Space:
        """This space with ``fixed`` keys pinned (no longer searched)."""
        params = tuple(p for p in self.params if p.key not in fixed)
        return Space(params, {**self.fixed, **fixed}, {**self.extra, **extra})

    def widened(self, choice: Mapping[str, Scalar]) -> Space:
        """Grow the searched parameters so that ``choice`` lies inside (see :func:`project`)."""
        reached: dict[str, Scalar] = {}

        def pick(param: Param) -> Scalar:
            reached[param.key] = choice.get(param.key, DEFAULTS[param.key])
            return reached[param.key]

        choose(self, pick)
        params = tuple(p.widened(reached[p.key]) if p.key in reached else p for p in self.params)
        return replace(self, params=params)

    def describe(self) -> list[str]:
        lines = [f"{p.key} = {p.describe()}" for p in self.params]
        lines += [f"{k} = {_show(v)} (fixed)" for k, v in self.fixed.items()]
        lines += [f"{k} = {_show(v)} (fixed)" for k, v in self.extra.items()]
        return lines


def _show(value: object) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


# -- the walk -----------------------------------------------------------------------------------

Picker = Callable[[Param], Scalar]


def choose(space: Space, pick: Picker) -> Choice:
    """Walk the space in a fixed order, calling ``pick`` for each searched parameter reached."""

    def get(key: str) -> Scalar:
        if key in space.fixed:
            return space.fixed[key]
        param = space.get(key)
        return pick(param) if param is not None else DEFAULTS[key]

    out: Choice = dict(DEFAULTS)
    out["pool"] = get("pool")
    if out["pool"] != "solo":
        out["concurrency"] = get("concurrency")
    out["disable_prefetch"] = get("disable_prefetch")
    if not out["disable_prefetch"]:
        out["prefetch_multiplier"] = get("prefetch_multiplier")
    if is_prefork(out["pool"]):
        out["max_tasks_per_child"] = get("max_tasks_per_child")
        out["max_memory_per_child"] = get("max_memory_per_child")
    out["acks_late"] = get("acks_late")
    if out["acks_late"]:
        out["reject_on_worker_lost"] = get("reject_on_worker_lost")
    out["optimization"] = get("optimization")
    return out


def suggest(trial: BaseTrial, space: Space) -> Choice:
    """Sample one choice through an Optuna trial (enqueued values are honoured by Optuna)."""

    def pick(param: Param) -> Scalar:
        if param.none and not trial.suggest_categorical(gate(param.key), [False, True]):
            return None
        if param.choices:
            choices = [c for c in param.choices if c is not None or not param.none]
            return cast(Scalar, trial.suggest_categorical(param.key, choices))
        assert param.low is not None and param.high is not None
        return trial.suggest_int(param.key, param.low, param.high, log=param.log)

    return choose(space, pick)


def project(space: Space, choice: Mapping[str, Scalar], cpus: int) -> dict[str, Scalar]:
    """The Optuna params that make :func:`suggest` reproduce ``choice`` (for ``enqueue_trial``).

    Celery's ``concurrency=None`` means ``os.cpu_count()``: it is projected as ``cpus``.
    """
    params: dict[str, Scalar] = {}

    def pick(param: Param) -> Scalar:
        value = choice.get(param.key, DEFAULTS[param.key])
        if param.key == "concurrency" and value is None and not param.none:
            value = cpus
        if param.none:
            params[gate(param.key)] = value is not None
            if value is None:
                return None
        params[param.key] = value
        return value

    choose(space, pick)
    return params


def baseline_choice(choice: Mapping[str, Scalar], cpus: int) -> Choice:
    """``choice`` with Celery's implicit concurrency made explicit, as :func:`project` sees it."""
    out: Choice = {**DEFAULTS, **choice}
    if out["concurrency"] is None and out["pool"] != "solo":
        out["concurrency"] = cpus
    return out


# -- the default space --------------------------------------------------------------------------


def installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def affinity_pool_available() -> bool:
    """True when ``tuner.pools.prefork:AffinityPool`` can be imported."""
    if not installed("tuner.pools.prefork"):
        return False
    try:
        module = importlib.import_module("tuner.pools.prefork")
    except Exception:
        return False
    return hasattr(module, "AffinityPool")


def celery_version() -> tuple[int, int]:
    from importlib.metadata import PackageNotFoundError, version

    try:
        parts = version("celery").split(".")
        return int(parts[0]), int(re.sub(r"\D.*", "", parts[1]) or 0)
    except (PackageNotFoundError, ValueError, IndexError):
        return (0, 0)


def disable_prefetch_honoured(broker_url: str | None) -> bool:
    """``worker_disable_prefetch`` is Celery >= 5.6 and honoured on Redis only."""
    is_redis = broker_url is not None and broker_url.startswith(("redis://", "rediss://"))
    return is_redis and celery_version() >= (5, 6)


def default_space(cpus: int, workload_kind: str, *, broker_url: str | None, leaky: bool) -> Space:
    """The issue's default space, adapted to what this machine and broker support."""
    pools: list[Scalar] = ["prefork", "threads", "solo"]
    if workload_kind == "io":
        pools += [p for p in GREEN_POOLS if installed(p)]
    if affinity_pool_available():
        pools.append(AFFINITY_POOL)
    params = [
        Param("pool", choices=tuple(pools)),
        Param("concurrency", low=1, high=max(1, 4 * cpus)),
    ]
    if disable_prefetch_honoured(broker_url):
        params.append(Param("disable_prefetch", choices=(False, True)))
    params += [
        Param("prefetch_multiplier", low=1, high=16, log=True),
        Param("max_tasks_per_child", low=1, high=10_000, log=True, none=True),
    ]
    if leaky:
        # KiB, as Celery: 32 MiB .. 1 GiB of resident memory per child.
        params.append(
            Param("max_memory_per_child", low=32_768, high=1_048_576, log=True, none=True)
        )
    params.append(Param("acks_late", choices=(False, True)))
    return Space(tuple(params))


def grid_size(space: Space) -> float:
    """How many distinct choices the space holds (inf for integer ranges wider than 64)."""
    total = 1.0
    for p in space.params:
        if p.choices:
            n = float(len(p.choices))
        else:
            assert p.low is not None and p.high is not None
            n = float(p.high - p.low + 1) if p.high - p.low < 64 else math.inf
        total *= n + (1 if p.none else 0)
    return total
