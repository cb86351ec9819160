"""Monte-Carlo studies of the confirmation step, through the real code.

:func:`simulate` runs :func:`tuner.optimize.results.confirm` as ``celery-tune optimize`` does; the
only thing replaced is :func:`tuner.optimize.measure.measure`, the one function that starts real
workers, by a model of what a measurement returns:

* log p99 = log(true p99 of the config) + the round's shared condition + a per-run error + a
  drift that grows with time; the per-run error is normal, and one run in ten gets an extra
  upward spike (a burst of interference: the heavy upper tail seen on a loaded machine);
* throughput the same way, with its own (smaller) noise;
* ``cv`` is the total relative spread of one configuration's repeats (the figure a user sees);
  a quarter of its variance is shared by the configurations of a round, the rest is per run.

Everything else (interleaving, pairing, the interval, the Bonferroni share, ``decide``) is the
code that ships.  Used by ``tests/optimize/test_decision_sim.py`` and
``benchmarks/bench_decision.py``.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from unittest import mock

import optuna

from tuner.bench.broker import Broker
from tuner.bench.config import WorkerConfig
from tuner.bench.workloads import preset
from tuner.optimize.baselines import DEFAULT_LABEL, INPUT_LABEL
from tuner.optimize.confirm import DEFAULT_ROUNDS
from tuner.optimize.measure import Plan
from tuner.optimize.objectives import Goal
from tuner.optimize.results import PICK_LABEL, Confirmation, Pick, confirm
from tuner.optimize.setup import OptimizeOptions, Setup
from tuner.optimize.space import DEFAULTS, Space

SHARED = 0.25  # fraction of the noise variance a round's configurations share
SPIKE_P = 0.10  # chance that a run gets an upward spike
SPIKE = 2.0  # a spike is |N(0, SPIKE x sigma)|
BASE_P99 = 0.5  # seconds


def _unit(cv: float) -> float:
    """The sigma that gives a total log-sd of a lognormal with this CV, spikes included: the
    variance is sigma^2 (1 + p SPIKE^2 - (p SPIKE sqrt(2/pi))^2)."""
    spike_mean = SPIKE_P * SPIKE * math.sqrt(2 / math.pi)
    scale = 1 + SPIKE_P * SPIKE * SPIKE - spike_mean * spike_mean
    return math.sqrt(math.log1p(cv * cv) / scale)


BASE_THROUGHPUT = 40.0  # tasks/s


@dataclass(frozen=True)
class Scenario:
    """One kind of study: the goal, how many baselines, the noise, the pick's true effect."""

    objectives: tuple[str, ...] = ("p99",)
    baselines: int = 2  # 1: Celery's defaults only; 2: also the user's config (--config)
    p99_cv: float = 0.3
    throughput_cv: float = 0.05
    p99_effect: float = 1.0  # the pick's true p99 / the others' (0.8: 20% better)
    throughput_effect: float = 1.0
    drift: float = 0.0  # log-units per run: a steady trend in the machine's load
    rounds: int = DEFAULT_ROUNDS

    def describe(self) -> str:
        return (
            f"{'+'.join(self.objectives)}, {self.baselines + 1} configs, p99 CV {self.p99_cv:.0%}, "
            f"throughput CV {self.throughput_cv:.0%}, p99 x{self.p99_effect:g}, "
            f"throughput x{self.throughput_effect:g}, drift {self.drift:g}, {self.rounds} rounds"
        )


@dataclass
class _Model:
    scenario: Scenario
    rng: random.Random
    clock: int = 0
    round_of: dict[str, int] = field(default_factory=dict)
    shared: dict[int, tuple[float, float]] = field(default_factory=dict)

    def _noise(self, cv: float, shared: float) -> float:
        sigma = _unit(cv)
        e = self.rng.gauss(0.0, sigma * math.sqrt(1 - SHARED))
        if self.rng.random() < SPIKE_P:
            e += abs(self.rng.gauss(0.0, SPIKE * sigma))
        return shared + e

    def measure(self, config: WorkerConfig, *_: Any, **__: Any) -> dict[str, dict[str, Any]]:
        s = self.scenario
        label = config.label
        r = self.round_of[label] = self.round_of.get(label, -1) + 1
        if r not in self.shared:
            self.shared[r] = tuple(  # type: ignore[assignment]
                self.rng.gauss(0.0, _unit(cv) * math.sqrt(SHARED))
                for cv in (s.p99_cv, s.throughput_cv)
            )
        sp, st = self.shared[r]
        self.clock += 1
        tuned = label == PICK_LABEL
        p99 = BASE_P99 * (s.p99_effect if tuned else 1.0)
        thr = BASE_THROUGHPUT * (s.throughput_effect if tuned else 1.0)
        p99 *= math.exp(self._noise(s.p99_cv, sp) + s.drift * self.clock)
        thr *= math.exp(-self._noise(s.throughput_cv, st) - s.drift * self.clock)
        metrics = {
            "throughput": thr,
            "p99": p99,
            "p50": p99 / 5,
            "efficiency": None,
            "tasks_sent": 400,
            "tasks_done": 400,
            "tasks_failed": 0,
            "tasks_lost": 0,
            "child_restarts": 0,
            "overloaded": False,
        }
        return {"open": metrics}


def _setup(s: Scenario) -> tuple[Setup, Pick]:
    # Distinct configurations (so none is taken for a twin of another), equal by construction.
    baselines = {DEFAULT_LABEL: WorkerConfig(label=DEFAULT_LABEL, concurrency=2)}
    if s.baselines >= 2:
        baselines[INPUT_LABEL] = WorkerConfig(label=INPUT_LABEL, concurrency=3)
    setup = Setup(
        options=OptimizeOptions(),
        workload=preset("cpu-heavy-tail"),
        broker=Broker(),
        goal=Goal(s.objectives),
        space=Space(),
        cpus=2,
        baselines=baselines,
        baseline_choices={label: dict(DEFAULTS) for label in baselines},
        trial_extra={},
    )
    pick = Pick(None, WorkerConfig(label=PICK_LABEL, concurrency=4), dict(DEFAULTS))
    return setup, pick


@contextmanager
def _measured_by(model: _Model) -> Iterator[None]:
    with mock.patch("tuner.optimize.measure.measure", model.measure):
        yield


def current_label(s: Scenario) -> str:
    return INPUT_LABEL if s.baselines >= 2 else DEFAULT_LABEL


def study(s: Scenario, rng: random.Random) -> Confirmation:
    """One confirmation, as ``optimize`` runs it, on simulated measurements."""
    setup, pick = _setup(s)
    model = _Model(s, rng)
    plan = Plan(setup.goal, seconds=5.0, warmup=2.0, rate=20.0)
    study_ = optuna.create_study(directions=setup.goal.directions)
    with _measured_by(model):
        _, result = confirm(setup, study_, plan, pick, s.rounds)
    if result.error:
        raise AssertionError(f"simulated confirmation failed: {result.error}")
    return result


def false_winner(s: Scenario, result: Confirmation) -> bool:
    """Among identical configurations: did the decision call any winner?"""
    calls = [v.winner for v in result.search_verdicts.values()]
    return result.chosen != current_label(s) or any(c in ("tuned", "baseline") for c in calls)


@dataclass(frozen=True)
class Rate:
    hits: int
    n: int

    @property
    def p(self) -> float:
        return self.hits / self.n

    @property
    def se(self) -> float:
        """Monte-Carlo standard error of the rate."""
        return math.sqrt(max(self.p * (1 - self.p), 1.0 / self.n) / self.n)

    def __str__(self) -> str:
        return f"{self.p:.1%} (MC s.e. {self.se:.1%}, {self.hits}/{self.n})"


def false_winner_rate(s: Scenario, n: int, seed: int) -> Rate:
    rng = random.Random(seed)
    hits = sum(false_winner(s, study(s, rng)) for _ in range(n))
    return Rate(hits, n)


def power(s: Scenario, n: int, seed: int) -> Rate:
    """How often the pick, truly better, is recommended."""
    return power_and_rounds(s, n, seed)[0]


def power_and_rounds(s: Scenario, n: int, seed: int) -> tuple[Rate, float]:
    """Power, and the mean number of rounds run (the interim look may stop early)."""
    rng = random.Random(seed)
    results = [study(s, rng) for _ in range(n)]
    hits = sum(r.chosen == PICK_LABEL for r in results)
    return Rate(hits, n), sum(r.rounds for r in results) / n


NULL_SCENARIOS: Sequence[Mapping[str, Any]] = (
    {"objectives": ("p99",), "p99_cv": 0.1},
    {"objectives": ("p99",), "p99_cv": 0.5},
    {"objectives": ("p99",), "p99_cv": 0.3, "drift": 0.05},
    {"objectives": ("p99",), "p99_cv": 0.3, "baselines": 1},
    {"objectives": ("throughput",), "throughput_cv": 0.02},
    {"objectives": ("throughput",), "throughput_cv": 0.1},
    {"objectives": ("throughput", "p99"), "p99_cv": 0.5, "throughput_cv": 0.1},
)
