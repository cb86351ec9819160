"""The diagnostics behind docs/plan.md's "What closed the last two misses" (embedded broker).

    python benchmarks/plan_diagnostics.py gaps io 1x1 1x2 2x1 [--model FILE]
        Saturated runs (prefetch 1, late acks): throughput, and each child's idle gap between
        the end of one task and the start of its next (the child overhead the plan fits); with
        --model, the simulated capacity of that fleet on this machine beside it.
    python benchmarks/plan_diagnostics.py split io 3x1 40 [--seconds 20] [--model FILE]
        One open-loop Poisson run: each task's latency split into the producer's lag (sent -
        due), pickup (start - sent) and run (end - start); with --model, the replayed prediction
        for that run beside the measured p99.
    python benchmarks/plan_diagnostics.py seeds --model FILE io 3x1 40 [--seeds 20]
        Offline: the p99 predicted for each of N seeds' own arrivals (replayed) against the one
        predicted for fresh Poisson arrivals at the same realised rate.

FILE is a ``model.json`` from ``celery-tune plan --out`` or the ``--json`` of bench_plan.py (its
model for the workload named).  Nothing here asserts anything: it prints what it measures.
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import tuner.bench.runner as runner
from tuner.bench.broker import Broker
from tuner.bench.config import WorkerConfig
from tuner.bench.driver import Driver
from tuner.bench.load import LoadSpec
from tuner.bench.producer import Producer
from tuner.bench.workloads import Workload, preset
from tuner.plan.characterise import Model
from tuner.plan.predict import Settings, capacity, predict
from tuner.plan.validate import p99_like_run, predict_run, schedule

SETTINGS = Settings(prefetch_multiplier=1, acks_late=True)
WARMUP = 2.0


def fleet(spec: str) -> tuple[int, int]:
    nodes, _, children = spec.partition("x")
    return int(nodes), int(children)


def config(children: int) -> WorkerConfig:
    return WorkerConfig(label="diag", concurrency=children, prefetch_multiplier=1, acks_late=True)


def load_model(path: str, workload: str) -> Model:
    doc = json.loads(Path(path).read_text())
    return Model.from_dict(doc["models"][workload] if "models" in doc else doc)


def run_kept(
    cfg: WorkerConfig, work: Workload, load: LoadSpec, nodes: int
) -> tuple[runner.RunResult, Driver, dict[str, float]]:
    """A bench run that keeps its driver (per-task records) and each task's real send time."""
    kept: dict[str, Any] = {}
    sent_at: dict[str, float] = {}
    original_services, original_send = runner._services, Producer.send

    def services(run: Driver) -> Any:
        kept["run"] = run
        return original_services(run)

    def send(self: Producer, task_id: str, *args: Any, **kwargs: Any) -> Any:
        out = original_send(self, task_id, *args, **kwargs)
        sent_at[task_id] = time.monotonic()
        return out

    runner._services = services
    Producer.send = send  # type: ignore[method-assign]
    try:
        res = runner.run_config(cfg, work, load, Broker(), nodes=nodes, cpus=2.0, timeout=300)
    finally:
        runner._services = original_services
        Producer.send = original_send  # type: ignore[method-assign]
    return res, kept["run"], sent_at


def q(values: Sequence[float]) -> str:
    a = np.asarray(values) * 1000
    return (
        f"median {np.median(a):7.1f} ms  p90 {np.quantile(a, 0.9):7.1f}  "
        f"p99 {np.quantile(a, 0.99):7.1f}  max {a.max():7.1f}"
    )


def gaps(args: argparse.Namespace) -> None:
    work = preset(args.workload)
    for spec in args.fleets:
        nodes, c = fleet(spec)
        load = LoadSpec(mode="saturate", warmup=1.0, duration=args.seconds)
        res, run, _ = run_kept(config(c), work, load, nodes)
        by_child: dict[int, list[tuple[float, float]]] = {}
        for rec in run.log.finished.values():
            if rec.start is not None:
                by_child.setdefault(rec.pid, []).append((rec.start, rec.end))
        idle = []
        for spans in by_child.values():
            spans.sort()
            idle += [b[0] - a[1] for a, b in itertools.pairwise(spans)]
        simulated = ""
        if args.model:
            model = load_model(args.model, args.workload)
            cap, _ = capacity(model, SETTINGS, nodes, c, shared_host=True)
            simulated = f" (simulated {cap:.2f})"
        print(
            f"{args.workload} {spec}: {res.metrics.throughput:.2f} tasks/s{simulated}; child idle "
            f"gap mean {statistics.fmean(idle) * 1000:.1f} ms, {q(idle)} ({len(idle)} gaps)"
        )


def split(args: argparse.Namespace) -> None:
    work = preset(args.workload)
    nodes, c = fleet(args.fleet)
    load = LoadSpec(mode="open", rate=args.rate, warmup=WARMUP, duration=args.seconds, seed=0)
    res, run, sent_at = run_kept(config(c), work, load, nodes)
    lag, pickup, ran = [], [], []
    for task_id, info in run.sent.items():
        rec = run.log.finished.get(task_id)
        if info.measured and rec is not None and rec.start is not None:
            lag.append(sent_at[task_id] - info.scheduled)
            pickup.append(rec.start - sent_at[task_id])
            ran.append(rec.end - rec.start)
    m = res.metrics
    print(f"{args.workload} {args.fleet} at {args.rate:g}/s, {args.seconds:g} s: {len(ran)} tasks")
    print(f"  producer lag  {q(lag)}")
    print(f"  pickup        {q(pickup)}")
    print(f"  run           {q(ran)}")
    print(f"  measured: throughput {m.throughput:.2f}/s, p99 {m.p99:.3f} s")
    if args.model:
        model = load_model(args.model, args.workload)
        thr, p99 = predict_run(model, SETTINGS, work, load, nodes, c)
        print(f"  replayed prediction: throughput {thr:.2f}/s, p99 {p99:.3f} s")


def seeds(args: argparse.Namespace) -> None:
    work = preset(args.workload)
    model = load_model(args.model, args.workload)
    nodes, c = fleet(args.fleet)
    own, fresh = [], []
    for seed in range(args.seeds):
        load = LoadSpec(mode="open", rate=args.rate, warmup=WARMUP, duration=args.seconds,
                        seed=seed)  # fmt: skip
        times, _kinds = schedule(work, load)
        measured = int(np.count_nonzero(times >= WARMUP))
        own.append(predict_run(model, SETTINGS, work, load, nodes, c, draws=1)[1])
        pred = predict(model, SETTINGS, nodes, c, measured / args.seconds, shared_host=True,
                       tasks=6_000, seed=seed)  # fmt: skip
        fresh.append(p99_like_run(pred, measured))
    print(
        f"{args.workload} {args.fleet} at {args.rate:g}/s, {args.seeds} seeds of "
        f"{args.seconds:g} s: p99 for each seed's own arrivals median {np.median(own):.3f} s "
        f"(min {min(own):.3f}, max {max(own):.3f}; seeds 0-2: "
        f"{', '.join(f'{v:.3f}' for v in own[:3])}); for fresh arrivals median "
        f"{np.median(fresh):.3f} s ({np.median(fresh) / np.median(own) - 1:+.0%})"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    g = sub.add_parser("gaps")
    g.add_argument("workload")
    g.add_argument("fleets", nargs="+", help="NODESxCHILDREN, e.g. 1x2")
    g.add_argument("--seconds", type=float, default=5.0)
    g.add_argument("--model")
    for name in ("split", "seeds"):
        p = sub.add_parser(name)
        if name == "seeds":
            p.add_argument("--model", required=True)
            p.add_argument("--seeds", type=int, default=20)
        else:
            p.add_argument("--model")
        p.add_argument("workload")
        p.add_argument("fleet", help="NODESxCHILDREN, e.g. 3x1")
        p.add_argument("rate", type=float)
        p.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    {"gaps": gaps, "split": split, "seeds": seeds}[args.command](args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
