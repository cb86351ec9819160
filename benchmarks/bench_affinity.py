"""AffinityPool against plain prefork, in one run, interleaved (prefork, affinity, prefork, ...).

For each workload (``cpu``, ``cpu-heavy-tail``) and concurrency (CPUs, 2 x CPUs):

- throughput from saturating runs (every child kept busy);
- p99 latency from open-loop Poisson runs at ``--load`` x the saturated prefork throughput.

Ratios are affinity / prefork, paired by repeat; the script prints each ratio's median and its
spread (min-max over the repeats), and the medians of the raw figures.

    python benchmarks/bench_affinity.py [--repeat 3] [--duration 6] [--broker redis://...]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tuner.bench.broker import Broker  # noqa: E402
from tuner.bench.config import WorkerConfig  # noqa: E402
from tuner.bench.load import LoadSpec  # noqa: E402
from tuner.bench.runner import RunResult, available_cpus, run_many  # noqa: E402
from tuner.bench.workloads import preset  # noqa: E402

AFFINITY = "tuner.pools.prefork:AffinityPool"


def _configs(concurrency: int) -> list[WorkerConfig]:
    return [
        WorkerConfig(label="prefork", pool="prefork", concurrency=concurrency),
        WorkerConfig(label="affinity", pool=AFFINITY, concurrency=concurrency),
    ]


def _pairs(results: Sequence[RunResult], metric: str) -> tuple[list[float], list[float]]:
    base = [getattr(r.metrics, metric) for r in results if r.config.label == "prefork"]
    aff = [getattr(r.metrics, metric) for r in results if r.config.label == "affinity"]
    return base, aff


def _summary(base: list[float], aff: list[float]) -> dict[str, object]:
    ratios = [a / b for a, b in zip(aff, base, strict=True) if b > 0]
    return {
        "prefork_median": round(statistics.median(base), 4),
        "affinity_median": round(statistics.median(aff), 4),
        "ratio_median": round(statistics.median(ratios), 3) if ratios else None,
        "ratio_min": round(min(ratios), 3) if ratios else None,
        "ratio_max": round(max(ratios), 3) if ratios else None,
        "prefork_runs": [round(x, 4) for x in base],
        "affinity_runs": [round(x, 4) for x in aff],
    }


def run_case(
    workload_name: str, concurrency: int, args: argparse.Namespace, broker: Broker
) -> dict[str, object]:
    workload = preset(workload_name)
    configs = _configs(concurrency)
    sat = run_many(
        configs,
        workload,
        LoadSpec(mode="saturate", warmup=args.warmup, duration=args.duration),
        broker,
        repeat=args.repeat,
    )
    tp_base, tp_aff = _pairs(sat, "throughput")
    rate = args.load * statistics.median(tp_base)
    open_ = run_many(
        configs,
        workload,
        LoadSpec(mode="open", rate=rate, warmup=args.warmup, duration=args.duration, seed=1),
        broker,
        repeat=args.repeat,
    )
    p99_base, p99_aff = _pairs(open_, "p99")
    lost = sum(r.metrics.tasks_lost + r.metrics.tasks_failed for r in [*sat, *open_])
    return {
        "workload": workload_name,
        "concurrency": concurrency,
        "throughput": _summary(tp_base, tp_aff),
        "open_rate": round(rate, 2),
        "p99": _summary(p99_base, p99_aff),
        "tasks_lost_or_failed": lost,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--duration", type=float, default=6.0)
    parser.add_argument("--warmup", type=float, default=1.5)
    parser.add_argument("--load", type=float, default=0.7, help="open-loop load (of capacity)")
    parser.add_argument("--broker", default=None, help="default: embedded filesystem transport")
    parser.add_argument("--workloads", default="cpu,cpu-heavy-tail")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    cpus = int(available_cpus())
    broker = Broker(args.broker)
    cases = []
    started = time.monotonic()
    for name in args.workloads.split(","):
        for concurrency in (cpus, 2 * cpus):
            case = run_case(name.strip(), concurrency, args, broker)
            cases.append(case)
            tp, p99 = case["throughput"], case["p99"]
            assert isinstance(tp, dict) and isinstance(p99, dict)
            print(
                f"{name:15} c={concurrency:<3} throughput ratio {tp['ratio_median']} "
                f"[{tp['ratio_min']}-{tp['ratio_max']}] ({tp['prefork_median']} vs "
                f"{tp['affinity_median']} tasks/s) | p99 ratio {p99['ratio_median']} "
                f"[{p99['ratio_min']}-{p99['ratio_max']}] ({p99['prefork_median']} vs "
                f"{p99['affinity_median']} s) at {case['open_rate']} tasks/s",
                flush=True,
            )
    out = {
        "cpus": cpus,
        "repeat": args.repeat,
        "duration": args.duration,
        "warmup": args.warmup,
        "load": args.load,
        "broker": broker.describe(),
        "seconds": round(time.monotonic() - started, 1),
        "cases": cases,
    }
    if args.json:
        args.json.write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
