"""Expert seeds: the configurations an expert would try first, enqueued after the baselines.

TPE starts from a few random trials; on a budget of ten, random draws of pool, concurrency and
limits land mostly where the answer cannot be (threads for pure-Python CPU work, ``-c 1``,
``max_tasks_per_child=1``).  The seeds below are derived from what is known before any trial (the
workload's kind, the CPUs, the broker, the Celery version and the GIL probe's decision), in
priority order:

1. prefork, one child per CPU, Celery's prefetch (when that is not already a baseline);
2. the same with prefetch multiplier 1 and late acks: the Optimizing guide's recipe for long
   tasks (each child reserves only the task it runs);
3. ``worker_disable_prefetch`` (Redis, Celery >= 5.6): fetch only when a child is free;
4. prefork with CPUs + 1 children (one spare while another child waits on I/O or the broker);
5. the AffinityPool (one child pinned per CPU), when it is available;
6. threads, one per CPU, when the probe found that the task releases the GIL; for I/O work,
   threads and gevent (when installed) with many slots;
7. the blog recipe, a *trap*: prefork, prefetch 2, ``max_tasks_per_child=100`` (the bench's
   ``blog-recipe`` baseline).  It is measured so the report can say how it compares.

Every seed lies inside the space: pinned values (``--fixed``) apply to it, a seed the space cannot
hold is dropped with a note (the space is never widened for a seed), and seeds that run the same
configuration as a baseline or an earlier seed are dropped.  The trap is checked against the space
as the user shaped it (``--space``, ``--fixed``), not against the priors' narrowing
(:mod:`tuner.optimize.priors`), since ruling it out is what the priors claim: it runs as itself,
and its trial's parameters are its nearest point in the searched space.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from tuner.optimize.space import (
    AFFINITY_POOL,
    DEFAULTS,
    Choice,
    Param,
    Scalar,
    Space,
    affinity_pool_available,
    choose,
    disable_prefetch_honoured,
    installed,
)

if TYPE_CHECKING:
    from tuner.optimize.probe import GilProbe

MIN_TPE_TRIALS = 2  # trials left to the sampler after the baselines and seeds
IO_SLOTS_PER_CPU = 8
SHARED_POOLS = ("threads", "gevent", "eventlet")  # one process, one GIL, a fraction of the memory
DOCS_PREFETCH = "https://docs.celeryq.dev/en/stable/userguide/optimizing.html#prefetch-limits"
DOCS_RESERVE = (
    "https://docs.celeryq.dev/en/stable/userguide/optimizing.html#reserve-one-task-at-a-time"
)


@dataclass(frozen=True)
class Seed:
    """One expert candidate: a full choice, and why an expert would try it."""

    label: str
    choice: Choice
    why: str
    trap: bool = False

    def as_dict(self) -> dict[str, object]:
        return {"label": self.label, "why": self.why, "trap": self.trap, "choice": self.choice}


def _choice(**values: Scalar) -> Choice:
    return {**DEFAULTS, **values}


def _from_bench(name: str, cpus: int) -> Choice:
    """A bench baseline (:data:`tuner.bench.config.BASELINES`) as a choice, ``cpus`` children."""
    from tuner.bench.config import BASELINES
    from tuner.optimize.baselines import choice_of

    choice = choice_of(BASELINES[name](cpus))
    if choice["pool"] == "processes":
        choice["pool"] = "prefork"
    if choice["concurrency"] is None:
        choice["concurrency"] = cpus
    return choice


def candidates(
    cpus: int,
    kind: str,
    *,
    broker_url: str | None,
    probe: GilProbe | None = None,
    max_concurrency: int | None = None,
    memory: bool = False,
) -> list[Seed]:
    """Every expert candidate, in priority order (before fitting them to a space).

    Pools that share one process (threads, gevent) come first for I/O work and whenever memory
    is part of the goal (``memory``: ``--max-rss`` or an ``rss`` objective), since one process
    holds a fraction of prefork's memory; when the GIL probe found the task releases the GIL they
    come right after the docs' recipe.  The trap is always last.
    """
    seeds = _candidates(cpus, kind, broker_url=broker_url, probe=probe,
                        max_concurrency=max_concurrency)  # fmt: skip
    shared = [x for x in seeds if x.choice["pool"] in SHARED_POOLS and not x.trap]
    if not shared:
        return seeds
    rest = [x for x in seeds if x not in shared]
    if memory or kind == "io":
        return shared + rest
    at = next((i + 1 for i, x in enumerate(rest) if x.label == "docs-long-tasks"), 0)
    return rest[:at] + shared + rest[at:]


def _candidates(
    cpus: int,
    kind: str,
    *,
    broker_url: str | None,
    probe: GilProbe | None,
    max_concurrency: int | None,
) -> list[Seed]:
    seeds = [
        Seed(
            "prefork-cpus",
            _choice(pool="prefork", concurrency=cpus),
            f"prefork with one child per CPU ({cpus}) and Celery's prefetch: every CPU busy, "
            "no child waiting for a CPU",
        ),
        Seed(
            "docs-long-tasks",
            _from_bench("docs-long-tasks", cpus),
            f"prefork, {cpus} children, prefetch multiplier 1 + late acks: Celery's Optimizing "
            "guide for long tasks, so a child reserves only the task it runs and no task waits "
            f"behind a long one in another child's prefetch ({DOCS_PREFETCH}, {DOCS_RESERVE})",
        ),
    ]
    if disable_prefetch_honoured(broker_url):
        seeds.append(
            Seed(
                "disable-prefetch",
                _choice(pool="prefork", concurrency=cpus, disable_prefetch=True),
                f"prefork, {cpus} children, worker_disable_prefetch: a task is fetched only when "
                "a child is free, without late acks (Celery >= 5.6, Redis only; "
                f"{DOCS_RESERVE})",
            )
        )
    seeds.append(
        Seed(
            "prefork-cpus+1",
            _choice(pool="prefork", concurrency=cpus + 1),
            f"prefork with CPUs + 1 children ({cpus + 1}): a spare child keeps the CPUs busy "
            "while another one waits on the broker or on I/O",
        )
    )
    if affinity_pool_available():
        seeds.append(
            Seed(
                "affinity",
                _choice(pool=AFFINITY_POOL, concurrency=cpus),
                f"the AffinityPool: {cpus} prefork children, each pinned to its own CPU, so the "
                "OS does not move a busy child between CPUs",
            )
        )
    if probe is not None and not probe.holds_gil:
        seeds.append(
            Seed(
                "threads-cpus",
                _choice(pool="threads", concurrency=cpus),
                f"threads, one per CPU ({cpus}): the GIL probe found that the task releases the "
                f"GIL (a thread waited for it in {probe.gil_wait_pct:.0f}% of samples), so threads "
                "can run side by side in one process, with a fraction of prefork's memory",
            )
        )
    if kind == "io":
        slots = IO_SLOTS_PER_CPU * cpus
        if max_concurrency is not None:
            slots = max(1, min(slots, max_concurrency))
        seeds.append(
            Seed(
                "threads-many",
                _choice(pool="threads", concurrency=slots),
                f"threads with many slots ({slots}): I/O-bound tasks mostly wait, and a waiting "
                "thread releases the GIL, so one process can keep many tasks in flight",
            )
        )
        if installed("gevent"):
            seeds.append(
                Seed(
                    "gevent-many",
                    _choice(pool="gevent", concurrency=slots),
                    f"gevent with many slots ({slots}): green threads make waiting on I/O cheap "
                    "(the tasks' I/O must be gevent-friendly)",
                )
            )
    seeds.append(
        Seed(
            "blog-recipe",
            _from_bench("blog-recipe", cpus),
            "a trap, measured for comparison: the recipe often copied from blog posts (prefetch "
            "multiplier 2, max_tasks_per_child=100; the bench's blog-recipe baseline); "
            "recycling children bounds leaks and otherwise only adds fork cost",
            trap=True,
        )
    )
    return seeds


def canonical(choice: Mapping[str, Scalar], cpus: int) -> Choice:
    """What ``choice`` runs: settings its pool ignores dropped, Celery's concurrency made explicit.

    Two choices with the same canonical form run the same configuration.
    """
    out = choose(Space(fixed={**DEFAULTS, **choice}), _unreachable)
    if out["pool"] != "solo" and out["concurrency"] is None:
        out["concurrency"] = cpus
    return out


def _unreachable(param: Param) -> Scalar:  # pragma: no cover - every key is fixed
    raise AssertionError(param.key)


def _show(value: Scalar) -> str:
    return "none" if value is None else str(value).lower()


def fit(space: Space, choice: Mapping[str, Scalar], cpus: int) -> tuple[Choice, list[str]]:
    """``choice`` with the space's pinned values applied, and what the space cannot hold: a value
    outside a searched parameter, or another value than Celery's default for a setting the space
    neither searches nor pins."""
    outside: list[str] = []

    def pick(param: Param) -> Scalar:
        value = choice.get(param.key, DEFAULTS[param.key])
        if not param.contains(value):
            outside.append(f"{param.key} {_show(value)} is outside {param.describe()}")
        return value

    fitted = choose(space, pick)
    wanted, got = canonical(choice, cpus), canonical(fitted, cpus)
    for key, value in wanted.items():
        if key not in space.fixed and space.get(key) is None and got[key] != value:
            outside.append(f"{key} {_show(value)} is not searched (it stays {_show(got[key])})")
    return fitted, outside


def nearest(space: Space, choice: Mapping[str, Scalar]) -> Choice:
    """The point of ``space`` nearest ``choice``: a value outside a parameter becomes Celery's
    default when the parameter holds it, else the closest bound (ranges) or the first choice."""

    def pick(param: Param) -> Scalar:
        value = choice.get(param.key, DEFAULTS[param.key])
        if param.contains(value):
            return value
        if param.contains(DEFAULTS[param.key]):
            return DEFAULTS[param.key]
        if param.choices:
            return param.choices[0]
        assert param.low is not None and param.high is not None
        if isinstance(value, int) and not isinstance(value, bool):
            return min(max(value, param.low), param.high)
        return param.low

    return choose(space, pick)


@dataclass(frozen=True)
class SeedPlan:
    """The seeds to enqueue, and a note for each candidate left out."""

    seeds: tuple[Seed, ...]
    notes: tuple[str, ...]


def limit(trials: int, baselines: int) -> int:
    """How many seeds a run of ``trials`` may enqueue: the sampler keeps at least two trials."""
    return max(0, trials - baselines - MIN_TPE_TRIALS)


def plan(
    space: Space,
    *,
    cpus: int,
    kind: str,
    broker_url: str | None,
    probe: GilProbe | None,
    baselines: Mapping[str, Mapping[str, Scalar]],
    trials: int,
    trap_space: Space | None = None,
    candidates_: Sequence[Seed] | None = None,
    memory: bool = False,
) -> SeedPlan:
    """Fit the candidates to ``space``, drop duplicates, and keep as many as ``trials`` allows.

    ``trap_space`` is the space before the priors' narrowing (default: ``space``): a trap is
    checked against it, since the priors rule out what the trap is there to show.
    """
    conc = space.get("concurrency")
    found = (
        list(candidates_)
        if candidates_ is not None
        else candidates(
            cpus,
            kind,
            broker_url=broker_url,
            probe=probe,
            max_concurrency=conc.high if conc is not None else None,
            memory=memory,
        )
    )
    seen: dict[str, Choice] = {
        label: canonical(choice, cpus) for label, choice in baselines.items()
    }
    kept: list[Seed] = []
    notes: list[str] = []
    for seed in found:
        fitted, outside = fit((trap_space or space) if seed.trap else space, seed.choice, cpus)
        if outside:
            notes.append(f"seed {seed.label} left out: {'; '.join(outside)}")
            continue
        effective = canonical(fitted, cpus)
        if seed.trap:
            changed = sorted(
                k for k, v in canonical(seed.choice, cpus).items() if effective[k] != v
            )
            if changed:
                notes.append(
                    f"seed {seed.label} left out: the pinned {', '.join(changed)} would change it"
                )
                continue
        same = next((label for label, c in seen.items() if c == effective), None)
        if same is not None:
            notes.append(f"seed {seed.label} left out: it runs the same configuration as {same}")
            continue
        seen[seed.label] = effective
        kept.append(replace(seed, choice=fitted))
    room = limit(trials, len(baselines))
    if len(kept) > room:
        cut = [s.label for s in kept[room:]]
        notes.append(
            f"seed{'s' if len(cut) > 1 else ''} {', '.join(cut)} left out: {trials} trials leave "
            f"room for {room} seed{'' if room == 1 else 's'} after {len(baselines)} "
            f"baseline{'' if len(baselines) == 1 else 's'} and {MIN_TPE_TRIALS} sampled trials"
        )
        kept = kept[:room]
    return SeedPlan(tuple(kept), tuple(notes))


__all__ = ["Seed", "SeedPlan", "candidates", "canonical", "fit", "limit", "nearest", "plan"]
