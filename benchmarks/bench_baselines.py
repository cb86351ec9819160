"""The three baselines side by side on ``cpu`` and ``cpu-heavy-tail``; writes docs/baselines.md.

For each workload: an open loop at 70% of capacity (Poisson arrivals) and a saturating run, with
the baselines interleaved (celery-default, docs-long-tasks, blog-recipe, repeated).  Tables show
medians over the repeats, min-max in brackets, ratios against celery-default.

    python benchmarks/bench_baselines.py [--repeat 3] [--duration 15] [--warmup 2] [--out FILE]
"""

from __future__ import annotations

import argparse
import datetime
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tuner.bench import report
from tuner.bench.broker import Broker
from tuner.bench.config import baseline, physical_cores
from tuner.bench.load import LoadSpec
from tuner.bench.runner import available_cpus, describe_env, measure_capacity, run_many
from tuner.bench.workloads import PRESETS, preset

ROOT = Path(__file__).resolve().parent.parent
BASELINES = ("celery-default", "docs-long-tasks", "blog-recipe")
WORKLOADS = ("cpu", "cpu-heavy-tail")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--duration", type=float, default=15.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "baselines.md")
    args = parser.parse_args()
    cpus = available_cpus()
    cores = physical_cores()
    configs = [baseline(name, cores) for name in BASELINES]
    broker = Broker()
    env = describe_env(broker, cpus)
    began = time.monotonic()
    loads: list[float] = []  # the machine's 1-min load average after each run
    sections = []
    for name in WORKLOADS:
        work = preset(name)
        for mode in ("open", "saturate"):
            if mode == "open":
                load = LoadSpec(load=0.7, warmup=args.warmup, duration=args.duration)
                cap = measure_capacity(configs[0], work, broker, cpus=cpus)
                load = load.with_capacity(cap.rate)
                how = (
                    f"open loop, Poisson, 70% of capacity = {load.rate:.1f} tasks/s ({cap.source})"
                )
            else:
                load = LoadSpec(mode="saturate", warmup=args.warmup, duration=args.duration)
                how = "saturating (closed loop keeping every child busy)"
            results = run_many(
                configs, work, load, broker, repeat=args.repeat, cpus=cpus,
                on_result=lambda _r: loads.append(os.getloadavg()[0]),
            )  # fmt: skip
            summary = report.summarize(results)
            title = f"### `{name}` ({PRESETS[name]}): {how}"
            sections.append(f"{title}\n\n{report.markdown(summary)}")
            print(title)
            print(report.markdown(summary))
    minutes = (time.monotonic() - began) / 60
    command = (
        f"python benchmarks/bench_baselines.py --repeat {args.repeat} "
        f"--duration {args.duration:g} --warmup {args.warmup:g}"
    )
    text = HEADER.format(
        date=datetime.date.today().isoformat(),
        command=command,
        repeat=args.repeat,
        duration=args.duration,
        warmup=args.warmup,
        minutes=minutes,
        python=env["python"],
        celery=env["celery"],
        kombu=env["kombu"],
        cpus=cpus,
        cores=cores,
        load_median=statistics.median(loads),
        load_min=min(loads),
        load_max=max(loads),
    )
    args.out.write_text(text + "\n".join(sections) + FOOTER)
    print(f"wrote {args.out} ({minutes:.1f} min)")
    return 0


HEADER = """# The three baselines, side by side

Generated on {date} by

    {command}

({minutes:.0f} minutes).  Machine: {cpus:g} CPUs ({cores} physical cores), shared with other work
(1-min load average after each run: median {load_median:.1f}, min {load_min:.1f}, max
{load_max:.1f}; on {cpus:g} CPUs, anything above about 2 means the workers shared the CPUs);
Python {python}, Celery {celery}, kombu {kombu}; the embedded broker (kombu's filesystem
transport, see [bench.md](bench.md#the-embedded-broker)).  Each figure is the **median of
{repeat} runs**, the configurations interleaved (A B C A B C ...); min-max in brackets.  Each run:
a fresh worker, {warmup:g} s of warm-up (not counted), then {duration:g} s measured.  Ratios are
against `celery-default`.

The baselines:

- `celery-default`: Celery's defaults (prefork, concurrency = CPUs, prefetch multiplier 4).
- `docs-long-tasks`: the Optimizing guide's advice for long tasks, prefetch multiplier 1 and
  `task_acks_late=True`.
- `blog-recipe`: prefetch multiplier 2, `worker_max_tasks_per_child=100`, concurrency =
  physical cores.

Latency is measured from each task's *scheduled* send time (see [bench.md](bench.md#metrics)),
so queueing behind a backlog counts.  "wait p99" is the 99th percentile of the time from the
scheduled send to the start of the task.

"""

FOOTER = """
## Reading the tables

These are measurements on one small shared machine, not general truths; run the command on the
machine you care about.  With two CPUs, concurrency = CPUs = physical cores, so `celery-default`
and `blog-recipe` differ only in prefetch (4 vs 2) and child recycling (every 100 tasks).
"""


if __name__ == "__main__":
    raise SystemExit(main())
