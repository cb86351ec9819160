"""Repeatability: coefficient of variation of ``cpu --saturate`` throughput over repeats.

Goal: CV <= 5% over 5 repeats.  Prefork at concurrency = CPUs on the embedded broker; each
repeat is a fresh worker (its own processes), as ``--repeat`` does.

    python benchmarks/bench_repeatability.py [--runs 5] [--duration 10] [--warmup 2]

Prints every run, then the median, spread and CV of throughput and efficiency.
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
from tuner.bench.runner import run_config
from tuner.bench.workloads import preset

GOAL_CV = 0.05


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    args = parser.parse_args()
    cpus = os.cpu_count() or 1
    work = preset("cpu")
    load = LoadSpec(mode="saturate", warmup=args.warmup, duration=args.duration)
    config = WorkerConfig(label="prefork", concurrency=cpus)
    thr: list[float] = []
    for i in range(args.runs):
        m = run_config(config, work, load, Broker(), repeat=i).metrics
        thr.append(m.throughput)
        eff = m.efficiency or 0.0
        print(
            f"run {i + 1}: {m.throughput:6.2f} tasks/s  efficiency {eff:.3f}  lost {m.tasks_lost}"
            f"  (load average {os.getloadavg()[0]:.2f})"
        )
    cv = statistics.stdev(thr) / statistics.mean(thr)
    print(
        f"cpu --saturate, prefork -c {cpus}, {args.warmup:g} s warm-up + {args.duration:g} s, "
        f"{args.runs} runs: median {statistics.median(thr):.2f} tasks/s "
        f"(min {min(thr):.2f}, max {max(thr):.2f}), CV {cv:.1%}"
    )
    print(f"{'meets' if cv <= GOAL_CV else 'MISSES'} the goal of CV <= {GOAL_CV:.0%}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
