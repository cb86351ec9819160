"""The racing pruner's error rates, by simulation through the real pruner and a real Optuna study.

Each simulated study runs ``--trials`` trials (the first ``--baselines`` are baselines, never
stopped) in an in-memory Optuna study with the pruner under test.  Every trial reports its
running value once a second, after 1, 2, ... T-1 s of a T-second run, as a live trial does, and
calls ``trial.should_prune()``; only the measurement is simulated:

* throughput: each second's rate = truth x run offset (log-sd 3%, the run-to-run noise) x noise
  (log-sd ``cv``, AR(1) with rho 0.3 between seconds: the load drifts) x a start-up ramp (the
  first second 0-15% low, a different amount for each configuration); the running value is the
  mean so far;
* p99: each second's p99 = truth x offset x heavy-tailed noise (Student t, 3 degrees of
  freedom, scaled to log-sd ``cv``); the running p99 is a power mean (p = 3) of the seconds so
  far, so a bad second weighs as it does in a pooled percentile.

Trials' truths: the baselines at 0.85 of the reference, tuned trials uniform over 0.45-1.05.
Reported, over the tuned trials of every study:

* false stops: stopped before full length though truly within 5% of the study's best truth;
* power: stopped before full length when truly >= 25% worse than the study's best;
* best lost: studies whose truly best trial was stopped;
* saved: measured seconds saved, as a share of every trial at full length.

The overload rule is simulated on an open loop (Poisson arrivals at 20/s, the configuration
serving at ``capacity`` x 20/s, 2 s of warm-up before the window): false stops among
configurations that keep up (capacity >= 1.0), power among those at <= 0.75.

    python benchmarks/bench_fidelity.py [--studies 1000] [--trials 10] [--seed 1]

About 10 s per 100 studies on a quiet machine (no workers: it is all simulation).
"""

from __future__ import annotations

import argparse
import math
import random
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import optuna
from optuna.trial import TrialState

from tuner.optimize.fidelity import OPEN_ATTR, RacingPruner

Pruner = Callable[[float], optuna.pruners.BasePruner]


@dataclass(frozen=True)
class Scenario:
    objective: str  # "throughput" (maximised) or "p99" (minimised)
    cv: float  # per-second noise, log-sd
    seconds: int = 5
    offset: float = 0.03  # run-to-run noise, log-sd
    rho: float = 0.3
    ramp: float = 0.15

    def describe(self) -> str:
        return f"{self.objective}, {self.seconds} s trials, CV {self.cv:.0%} a second"


@dataclass
class Tally:
    near: int = 0
    near_stopped: int = 0
    far: int = 0
    far_stopped: int = 0
    studies: int = 0
    best_lost: int = 0
    seconds: float = 0.0
    full: float = 0.0
    stopped_at: list[float] = field(default_factory=list)

    def rate(self, hits: int, n: int) -> str:
        if n == 0:
            return "-"
        p = hits / n
        return f"{p:.1%} ({math.sqrt(p * (1 - p) / n):.1%})"


def _t3(rng: random.Random) -> float:
    """Student t with 3 degrees of freedom, scaled to unit variance."""
    z = rng.gauss(0, 1)
    chi2 = sum(rng.gauss(0, 1) ** 2 for _ in range(3))
    return z / math.sqrt(chi2 / 3) / math.sqrt(3)


def series(s: Scenario, truth: float, rng: random.Random) -> list[float]:
    """Running values after 1..T s (the last one is the full-length value)."""
    offset = math.exp(rng.gauss(0, s.offset))
    ramp = 1 - rng.uniform(0, s.ramp)
    e = rng.gauss(0, 1)
    out, seconds = [], []
    for i in range(s.seconds):
        if s.objective == "throughput":
            e = s.rho * e + math.sqrt(1 - s.rho**2) * rng.gauss(0, 1)
            x = truth * offset * math.exp(s.cv * e - s.cv**2 / 2) * (ramp if i == 0 else 1)
            seconds.append(x)
            out.append(sum(seconds) / len(seconds))
        else:
            x = truth * offset * math.exp(s.cv * _t3(rng))
            seconds.append(x)
            out.append((sum(v**3 for v in seconds) / len(seconds)) ** (1 / 3))
    return out


def run_study(
    s: Scenario, make: Pruner, trials: int, baselines: int, rng: random.Random, tally: Tally
) -> None:
    maximize = s.objective == "throughput"
    study = optuna.create_study(
        direction="maximize" if maximize else "minimize", pruner=make(float(s.seconds))
    )
    truths = [0.85] * baselines + [rng.uniform(0.45, 1.05) for _ in range(trials - baselines)]
    if not maximize:
        truths = [1 / t for t in truths]  # p99: lower is better
    best = max(truths) if maximize else min(truths)
    best_index = truths.index(best)
    tally.studies += 1
    for number, truth in enumerate(truths):
        trial = study.ask()
        baseline = number < baselines
        if baseline:
            trial.set_user_attr("baseline", "celery-default")
        values = series(s, truth, rng)
        stopped_at = None
        for step, value in enumerate(values[:-1]):  # reports after 1..T-1 s
            trial.report(value, step)
            if not baseline and trial.should_prune():
                stopped_at = step + 1
                break
        tally.full += s.seconds
        if stopped_at is None:
            study.tell(trial, values[-1])
            tally.seconds += s.seconds
        else:
            study.tell(trial, state=TrialState.PRUNED)
            tally.seconds += stopped_at
            tally.stopped_at.append(stopped_at)
            if number == best_index:
                tally.best_lost += 1
        if baseline:
            continue
        ratio = truth / best if maximize else best / truth
        if ratio >= 0.95:
            tally.near += 1
            tally.near_stopped += stopped_at is not None
        if ratio <= 0.75:
            tally.far += 1
            tally.far_stopped += stopped_at is not None


def race(s: Scenario, make: Pruner, studies: int, trials: int, baselines: int, seed: int) -> Tally:
    rng = random.Random(seed)
    tally = Tally()
    for _ in range(studies):
        run_study(s, make, trials, baselines, rng, tally)
    return tally


def overload_run(capacity: float, seconds: int, rng: random.Random) -> list[list[float]]:
    """Open-loop readings [elapsed, offered, served] once a second (10 ms ticks)."""
    rate, tick, warmup = 20.0, 0.01, 2.0
    queue = 0.0
    arrived = served = 0
    out = []
    for i in range(int((warmup + seconds) / tick)):
        t = i * tick
        a = 1 if rng.random() < rate * tick else 0
        queue += a
        done = 1 if queue >= 1 and rng.random() < capacity * rate * tick else 0
        queue -= done
        if t >= warmup:
            arrived += a
            served += done
            elapsed = t - warmup + tick
            if abs(elapsed - round(elapsed)) < tick / 2 and round(elapsed) >= 1:
                out.append([elapsed, arrived / elapsed, served / elapsed])
    return out


def overload(make: Pruner, studies: int, seconds: int, seed: int) -> tuple[Tally, Tally]:
    """The overload rule alone: p99 runs whose running value says nothing (equal truths)."""
    rng = random.Random(seed)
    keep, over = Tally(), Tally()
    for _ in range(studies):
        study = optuna.create_study(direction="minimize", pruner=make(float(seconds)))
        for number in range(4):
            capacity = 1.2 if number < 2 else rng.uniform(0.5, 1.5)
            trial = study.ask()
            if number == 0:
                trial.set_user_attr("baseline", "celery-default")
            readings = overload_run(capacity, seconds, rng)
            stopped = None
            for step, reading in enumerate(readings[:-1]):
                trial.set_user_attr(OPEN_ATTR, readings[max(0, step - 2) : step + 1])
                trial.report(1.0 + rng.gauss(0, 0.01), step)
                if number > 0 and trial.should_prune():
                    stopped = reading[0]
                    break
            if stopped is None:
                study.tell(trial, 1.0)
            else:
                study.tell(trial, state=TrialState.PRUNED)
            if number < 2:
                continue
            for tally, hit in ((keep, capacity >= 1.0), (over, capacity <= 0.75)):
                if hit:
                    tally.near += 1
                    tally.near_stopped += stopped is not None
                    tally.full += seconds
                    tally.seconds += stopped if stopped is not None else seconds
    return keep, over


PRUNERS: dict[str, Pruner] = {
    "racing (default)": lambda t: RacingPruner(t),
    "racing z=3": lambda t: RacingPruner(t, z=3.0),
    "racing z=2": lambda t: RacingPruner(t, z=2.0),
    "median (before)": lambda t: optuna.pruners.MedianPruner(
        n_startup_trials=3, n_warmup_steps=max(2, int(t / 3))
    ),
    "successive halving": lambda t: optuna.pruners.SuccessiveHalvingPruner(
        min_resource=1, reduction_factor=3
    ),
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--studies", type=int, default=1000)
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--baselines", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--all", action="store_true", help="every pruner on every scenario")
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    scenarios = [
        Scenario("throughput", 0.05),
        Scenario("throughput", 0.10),
        Scenario("throughput", 0.15),
        Scenario("throughput", 0.10, seconds=10),
        Scenario("p99", 0.20),
        Scenario("p99", 0.40),
    ]
    print(
        f"{args.studies} studies of {args.trials} trials ({args.baselines} baselines) per line; "
        "Monte-Carlo s.e. in brackets"
    )
    print(
        "| pruner | scenario | false stops (within 5%) | power (>= 25% worse) | best lost | saved |"
    )
    print("|---|---|---|---|---|---|")
    for i, s in enumerate(scenarios):
        names = list(PRUNERS) if args.all or i == 1 else ["racing (default)"]
        for name in names:
            t = race(s, PRUNERS[name], args.studies, args.trials, args.baselines, args.seed + i)
            print(
                f"| {name} | {s.describe()} | {t.rate(t.near_stopped, t.near)} | "
                f"{t.rate(t.far_stopped, t.far)} | {t.rate(t.best_lost, t.studies)} | "
                f"{1 - t.seconds / t.full:.0%} |"
            )
    keep, over = overload(PRUNERS["racing (default)"], args.studies, 5, args.seed + 99)
    print(
        f"overload rule, 5 s p99 runs at 20 tasks/s: false stops (capacity >= 1.0) "
        f"{keep.rate(keep.near_stopped, keep.near)}; power (capacity <= 0.75) "
        f"{over.rate(over.near_stopped, over.near)}, "
        f"{1 - over.seconds / max(over.full, 1e-9):.0%} of their seconds saved"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
