"""benchmarks/bench_plan.py's report, offline: goals per point, the quiet flag, the estimate."""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_plan.py"


def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_plan", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_plan"] = module
    spec.loader.exec_module(module)
    return module


def row(workload: str, thr: tuple[float, float], p99: tuple[float, float]) -> dict[str, object]:
    return {
        "workload": workload,
        "nodes": 3,
        "concurrency": 1,
        "load": 0.8,
        "rate": 40.0,
        "predicted_throughput": thr[0],
        "measured_throughput": thr[1],
        "throughput_runs": [thr[1]] * 3,
        "predicted_p99": p99[0],
        "predicted_p99_runs": [p99[0]] * 3,
        "measured_p99": p99[1],
        "p99_runs": [p99[1]] * 3,
        "predicted_p99_population": p99[0] * 1.5,
        "predicted_p99_poisson": p99[0] * 3,
        "predicted_p99_poisson_runs": [p99[0] * 2, p99[0] * 3, p99[0] * 4],
        "tasks_runs": [400, 410, 390],
    }


ARGS = argparse.Namespace(repeats=3, seconds=10.0, warmup=2.0, point_seconds=3.0)


def test_goals_are_marked_per_point_and_overall() -> None:
    b = bench()
    rows = [row("io", (40.0, 39.0), (0.30, 0.28)), row("mixed", (40.0, 30.0), (0.5, 0.3))]
    text = b.table(rows)
    assert "✓ thr, ✓ p99" in text and "✗ thr, ✗ p99" in text
    verdict = b.verdict(rows)
    assert "at 1/2 points (goal NOT met)" in verdict
    assert "fresh Poisson arrivals" in verdict and "at 0/2." in verdict


def test_report_names_command_date_and_load() -> None:
    b = bench()
    rows = [row("io", (40.0, 39.0), (0.30, 0.28))]
    when = datetime.datetime(2026, 11, 29, 20, 0, tzinfo=datetime.timezone.utc)
    loaded = b.report(rows, ARGS, 2.0, when, 600.0, (3.2, 2.0, 1.0), (2.9, 2.0, 1.0), "v")
    assert "python benchmarks/bench_plan.py" in loaded and "2026-11-29 20:00 UTC" in loaded
    assert "3.20 at the start" in loaded and "NOT QUIET" in loaded
    quiet = b.report(rows, ARGS, 2.0, when, 600.0, (0.4, 0.3, 0.2), (1.1, 0.5, 0.3), "v")
    assert "NOT QUIET" not in quiet and ": quiet" in quiet


def test_default_run_takes_10_to_15_minutes_on_2_cpus() -> None:
    b = bench()
    assert 10 * 60 <= b.estimate(ARGS, 3, 2.0) <= 15 * 60
