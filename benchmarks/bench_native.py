"""Threads against prefork on native work (GIL released) and on pure-Python work.

For each workload (``native``, then ``cpu``) one ``celery-tune bench`` call: prefork and threads
at concurrency = CPUs, ``--saturate``, ``--repeat N`` interleaved (A B A B ...), the embedded
broker.  Prints, per workload and configuration, the medians (min-max) of throughput, peak RSS and
efficiency, the ratio threads/prefork of the medians, and the load average before and after.

    python benchmarks/bench_native.py [--repeat 5] [--duration 10] [--workloads native,cpu]

Goal (issue 11): on ``native`` threads approach prefork's throughput with less RSS; on ``cpu``
they do not (on a quiet machine).  Under load, the throughputs measure the share of CPU the
workers got from their neighbours as much as the pool.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KEYS = ("throughput", "rss_peak_mb", "efficiency")


def bench(workload: str, cpus: int, repeat: int, duration: float) -> dict[str, object]:
    cmd = [sys.executable, "-m", "tuner", "bench", "-w", workload, "--saturate", "--json"]
    cmd += ["--repeat", str(repeat), "--duration", str(duration), "--no-progress"]
    for pool in ("prefork", "threads"):
        cmd += ["--set", f"label={pool},worker_pool={pool},worker_concurrency={cpus}"]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"bench failed ({done.returncode}): {done.stderr.strip()[-400:]}")
    data: dict[str, object] = json.loads(done.stdout)
    return data


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--workloads", default="native,cpu")
    args = parser.parse_args()
    cpus = os.cpu_count() or 1
    for workload in args.workloads.split(","):
        before = os.getloadavg()
        data = bench(workload, cpus, args.repeat, args.duration)
        after = os.getloadavg()
        runs = data["runs"]
        assert isinstance(runs, list)
        medians: dict[str, dict[str, float]] = {}
        print(f"== {workload}: {args.repeat} interleaved repeats, c={cpus}, load average "
              f"{before[0]:.1f} before, {after[0]:.1f} after")  # fmt: skip
        for label in ("prefork", "threads"):
            mine = [r["metrics"] for r in runs if r["config"]["label"] == label]
            medians[label] = {}
            parts = []
            for key in KEYS:
                values = [float(m[key]) for m in mine if m.get(key) is not None]
                med = statistics.median(values)
                medians[label][key] = med
                parts.append(f"{key} {med:.3g} ({min(values):.3g}-{max(values):.3g})")
            print(f"  {label:8} n={len(mine)}  " + "  ".join(parts))
        ratios = "  ".join(f"{k} {medians['threads'][k] / medians['prefork'][k]:.2f}" for k in KEYS)
        print(f"  threads/prefork (medians): {ratios}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
