"""Accuracy of ``celery-tune plan``: predicted against measured, at held-out points.

For each workload (cpu-heavy-tail, mixed, io): characterise it as ``plan`` does (saturated runs
of 1 node x 1..2xCPUs children and 2 nodes, a low-load run, the broker ceiling; embedded broker),
then at held-out points (open loop, Poisson, offered load 50% and 80% of the predicted capacity,
and a node count the fit never saw) run the bench ``--repeats`` times and compare the medians with
the medians of the simulation's predictions, each made for the load its run was actually offered
(the tasks scheduled in the window / its length: 10 s of Poisson arrivals at 5/s hold 50 +- 7).
Goals (issue 12): throughput within 10%, p99 within 25%.

    python benchmarks/bench_plan.py [--repeats 3] [--seconds 10] [--point-seconds 3]
                                    [--workloads cpu-heavy-tail,mixed,io] [--json FILE]

Prints the load average before and after: on a shared machine the figures move with it.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tuner.bench.broker import Broker
from tuner.bench.config import WorkerConfig
from tuner.bench.load import LoadSpec
from tuner.bench.runner import available_cpus, run_config
from tuner.bench.workloads import preset
from tuner.plan.characterise import Plan, characterise
from tuner.plan.predict import Settings, capacity, predict
from tuner.plan.validate import P99_TOLERANCE, THROUGHPUT_TOLERANCE, realised_rate

BASE = WorkerConfig(label="planned", prefetch_multiplier=1, acks_late=True)
SETTINGS = Settings(prefetch_multiplier=1, acks_late=True)


def points(cpus: float) -> list[tuple[int, int, float]]:
    """(nodes, children per node, load): 1 node x CPUs at 50% and 80%, 3 nodes x 1 at 80%."""
    c = max(1, int(cpus))
    return [(1, c, 0.5), (1, c, 0.8), (3, 1, 0.8)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--point-seconds", type=float, default=3.0)
    parser.add_argument("--workloads", default="cpu-heavy-tail,mixed,io")
    parser.add_argument("--json", help="Also write the rows and the fitted models here.")
    args = parser.parse_args()
    cpus = available_cpus()
    broker = Broker()
    load0 = os.getloadavg()
    t0 = time.monotonic()
    print(f"{cpus:g} CPUs; load average at start {load0[0]:.2f} {load0[1]:.2f} {load0[2]:.2f}")
    rows = []
    models = {}
    for name in args.workloads.split(","):
        work = preset(name)
        model = characterise(
            BASE, work, broker, cpus=cpus,
            plan=Plan(max_concurrency=max(3, round(2 * cpus)), seconds=args.point_seconds),
        )  # fmt: skip
        models[name] = model.as_dict()
        u = model.usl
        print(
            f"{name}: USL lambda {u.lam:.2f}/s sigma {u.sigma:.3f} kappa {u.kappa:.4f}; "
            f"service mean {model.mean_service * 1000:.1f} ms ({len(model.run_times)} tasks); "
            f"broker ceiling {model.broker_ceiling or 0:.0f}/s",
            flush=True,
        )
        for nodes, c, load in points(cpus):
            cap, _ = capacity(model, SETTINGS, nodes, c, shared_host=True)
            rate = load * cap
            thr: list[float] = []
            p99: list[float] = []
            pthr: list[float] = []
            pp99: list[float] = []
            for r in range(args.repeats):
                spec = LoadSpec(
                    mode="open", rate=rate, warmup=args.warmup, duration=args.seconds, seed=r
                )
                cfg = replace(BASE, concurrency=c, label=f"{nodes}x{c}")
                m = run_config(cfg, work, spec, broker, nodes=nodes, cpus=cpus, repeat=r).metrics
                thr.append(m.throughput)
                p99.append(m.p99)
                # The prediction for the load this run was actually offered (Poisson counts).
                offered = realised_rate(m.tasks_measured, m.window, rate)
                pred = predict(
                    model, SETTINGS, nodes, c, offered, shared_host=True, tasks=20_000, seed=r
                )
                pthr.append(pred.throughput)
                pp99.append(pred.p99 if pred.stable else math.inf)
            nominal = predict(model, SETTINGS, nodes, c, rate, shared_host=True, tasks=20_000)
            row = {
                "workload": name,
                "nodes": nodes,
                "concurrency": c,
                "load": load,
                "rate": rate,
                "predicted_throughput": statistics.median(pthr),
                "measured_throughput": statistics.median(thr),
                "throughput_runs": thr,
                "predicted_p99": statistics.median(pp99),
                "predicted_at_nominal": {"throughput": nominal.throughput, "p99": nominal.p99},
                "measured_p99": statistics.median(p99),
                "p99_runs": p99,
                "load_average": os.getloadavg()[0],
            }
            rows.append(row)
            print(line(row), flush=True)
    load1 = os.getloadavg()
    print()
    print(table(rows))
    within = [r for r in rows if ok(r)]
    print(
        f"\n{len(within)}/{len(rows)} points within both goals (throughput ±"
        f"{THROUGHPUT_TOLERANCE:.0%}, p99 ±{P99_TOLERANCE:.0%}); medians of {args.repeats} "
        f"runs of {args.seconds:g} s; {time.monotonic() - t0:.0f} s in all; load average at end "
        f"{load1[0]:.2f} {load1[1]:.2f} {load1[2]:.2f} on {cpus:g} CPUs"
    )
    if args.json:
        doc = {"rows": rows, "models": models, "load_average": [load0, load1]}
        Path(args.json).write_text(json.dumps(doc, indent=1) + "\n")
    return 0


def err(pred: float, meas: float) -> float:
    return (pred - meas) / meas if meas else math.inf


def ok(r: dict[str, object]) -> bool:
    te = err(float(r["predicted_throughput"]), float(r["measured_throughput"]))  # type: ignore[arg-type]
    pe = err(float(r["predicted_p99"]), float(r["measured_p99"]))  # type: ignore[arg-type]
    return abs(te) <= THROUGHPUT_TOLERANCE and abs(pe) <= P99_TOLERANCE


def line(r: dict[str, object]) -> str:
    return (
        f"  {r['nodes']}x{r['concurrency']} at {float(r['load']):.0%} ({float(r['rate']):.1f}/s): "  # type: ignore[arg-type]
        f"throughput {r['throughput_runs']} p99 {[round(float(v), 3) for v in r['p99_runs']]}"  # type: ignore[attr-defined]
    )


def table(rows: list[dict[str, object]]) -> str:
    head = (
        "| workload | nodes x children | load | rate/s | throughput pred | measured (min-max) "
        "| err | p99 pred | measured (min-max) | err |\n|---|---|---|---|---|---|---|---|---|---|"
    )
    out = [head]
    for r in rows:
        tr = r["throughput_runs"]
        pr = r["p99_runs"]
        assert isinstance(tr, list) and isinstance(pr, list)
        pt, mt = float(r["predicted_throughput"]), float(r["measured_throughput"])  # type: ignore[arg-type]
        pp, mp = float(r["predicted_p99"]), float(r["measured_p99"])  # type: ignore[arg-type]
        out.append(
            f"| {r['workload']} | {r['nodes']} x {r['concurrency']} | {float(r['load']):.0%} "  # type: ignore[arg-type]
            f"| {float(r['rate']):.1f} | {pt:.2f} | {mt:.2f} ({min(tr):.2f}-{max(tr):.2f}) "  # type: ignore[arg-type]
            f"| {err(pt, mt):+.0%} | {pp:.3f} s | {mp:.3f} s ({min(pr):.3f}-{max(pr):.3f}) "
            f"| {err(pp, mp):+.0%} |"
        )
    return "\n".join(out)


if __name__ == "__main__":
    raise SystemExit(main())
