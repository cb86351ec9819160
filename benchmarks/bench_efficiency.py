"""Efficiency of ``cpu --saturate`` with prefork at concurrency = CPUs.

Goal: efficiency >= 0.9 (median), where efficiency = task CPU time in the window / (window x
CPUs available): the share of the machine spent inside task bodies.

    python benchmarks/bench_efficiency.py [--runs 3] [--duration 10] [--warmup 2]

Prints every run (throughput, efficiency, worker CPU utilisation, task CPU time), then medians.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tuner.bench.broker import Broker
from tuner.bench.config import WorkerConfig
from tuner.bench.load import LoadSpec
from tuner.bench.runner import available_cpus, run_config
from tuner.bench.workloads import preset

GOAL = 0.9


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    args = parser.parse_args()
    cpus = available_cpus()
    work = preset("cpu")
    load = LoadSpec(mode="saturate", warmup=args.warmup, duration=args.duration)
    config = WorkerConfig(label="prefork", concurrency=int(cpus))
    eff: list[float] = []
    util: list[float] = []
    for i in range(args.runs):
        m = run_config(config, work, load, Broker(), repeat=i, cpus=cpus).metrics
        assert m.efficiency is not None
        eff.append(m.efficiency)
        util.append(m.cpu_util)
        print(
            f"run {i + 1}: {m.throughput:6.2f} tasks/s  efficiency {m.efficiency:.3f}  "
            f"worker CPU {m.cpu_util:.1%}  task CPU {m.task_cpu_mean or 0:.4f} s  "
            f"(load average {os.getloadavg()[0]:.2f})"
        )
    med = statistics.median(eff)
    print(
        f"cpu --saturate, prefork -c {int(cpus)}, {args.runs} runs: efficiency median {med:.3f} "
        f"(min {min(eff):.3f}, max {max(eff):.3f}); worker CPU median {statistics.median(util):.1%}"
    )
    print(f"{'meets' if med >= GOAL else 'MISSES'} the goal of efficiency >= {GOAL}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
