"""The confirmation rule's error rates, by simulation through the real decision code.

False winners: how often a winner is called among identical configurations (goal: <= 5%).
Power: how often a pick with a true 20% lower p99 is recommended (goal: >= 80% at the default
budget, ``--confirm 8`` rounds).  See tests/optimize/decision_sim.py for the noise model.

    python benchmarks/bench_decision.py [--studies 4000] [--rounds 8] [--seed 1]

Each line: the scenario, the rate, its Monte-Carlo standard error (and for power, the mean number
of rounds run: the interim look stops early once the pick is confirmed).  A few minutes.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import optuna

from tests.optimize.decision_sim import (
    NULL_SCENARIOS,
    Scenario,
    false_winner_rate,
    power_and_rounds,
)
from tuner.optimize.confirm import DEFAULT_ROUNDS


def _show(s: Scenario, studies: int, seed: int) -> None:
    rate, rounds = power_and_rounds(s, studies, seed)
    print(f"  {s.describe()}: {rate}; mean rounds run {rounds:.2f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--studies", type=int, default=4000)
    parser.add_argument("--rounds", type=int, default=DEFAULT_ROUNDS)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    print(f"false winners among identical configurations ({args.studies} studies each):")
    for i, kw in enumerate(NULL_SCENARIOS):
        s = Scenario(rounds=args.rounds, **kw)
        print(f"  {s.describe()}: {false_winner_rate(s, args.studies, args.seed + i)}")
    print(f"power: the pick's p99 truly 20% lower ({args.studies} studies each):")
    for baselines in (1, 2):
        for cv in (0.05, 0.10, 0.15, 0.20, 0.30, 0.50):
            s = Scenario(rounds=args.rounds, baselines=baselines, p99_cv=cv, p99_effect=0.8)
            _show(s, args.studies, args.seed + 100)
    s = Scenario(rounds=args.rounds, objectives=("throughput",), throughput_cv=0.05)
    for effect in (1.1, 1.5):
        _show(replace(s, throughput_effect=effect), args.studies, args.seed + 200)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
