"""Overhead per measured configuration on the embedded broker: worker start, ready, shutdown.

Goal: <= 1.5 s per configuration (median).  Each run sends 5 tiny tasks (saturating, no
warm-up); overhead = the run's wall time minus the time spent sending and draining the load.

    python benchmarks/bench_overhead.py [--runs 10] [--pool prefork]

Prints the median and the spread (min-max) of each phase over the runs.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tuner.bench.broker import Broker
from tuner.bench.config import WorkerConfig
from tuner.bench.load import LoadSpec
from tuner.bench.runner import run_config
from tuner.bench.workloads import preset

GOAL = 1.5


def _line(name: str, xs: list[float]) -> str:
    return (
        f"{name:<22} median {statistics.median(xs):6.3f} s  (min {min(xs):.3f}, max {max(xs):.3f})"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--pool", default="prefork")
    parser.add_argument("--concurrency", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    work = preset("cpu", scale=0.1)
    load = LoadSpec(mode="saturate", warmup=0.0, duration=None, tasks=5)
    config = WorkerConfig(label=args.pool, pool=args.pool, concurrency=args.concurrency)
    start: list[float] = []
    stop: list[float] = []
    overhead: list[float] = []
    for _ in range(args.runs):
        t0 = time.perf_counter()
        result = run_config(config, work, load, Broker())
        wall = time.perf_counter() - t0
        phases = result.phases
        start.append(phases["start"])
        stop.append(phases["stop"])
        overhead.append(wall - phases["load"] - phases["drain"])
    print(
        f"embedded broker, pool {args.pool}, concurrency {args.concurrency}, {args.runs} runs "
        f"(load average at the end {os.getloadavg()[0]:.2f})"
    )
    print(_line("start -> ready", start))
    print(_line("warm shutdown + kill", stop))
    print(_line("overhead per config", overhead))
    verdict = "meets" if statistics.median(overhead) <= GOAL else "MISSES"
    print(f"{verdict} the goal of <= {GOAL} s per configuration (median)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
