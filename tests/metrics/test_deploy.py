"""The shipped alert rules and Grafana dashboard: valid, and about metrics the exporter serves."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tuner.metrics.registry import served_names

DATA = Path(__file__).resolve().parents[2] / "tuner" / "metrics" / "data"
RULES = DATA / "alerts.yml"
DASHBOARD = DATA / "grafana-dashboard.json"
METRIC = re.compile(r"\bcelery_[a-z0-9_]+")


def dashboard_exprs() -> list[str]:
    dash = json.loads(DASHBOARD.read_text())
    return [t["expr"] for p in dash["panels"] for t in p["targets"]]


def rule_exprs() -> dict[str, str]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return {r["alert"]: r["expr"] for g in groups for r in g["rules"]}


def test_promtool_accepts_the_rules() -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool not installed (Debian: apt-get install prometheus)")
    out = subprocess.run(
        [promtool, "check", "rules", str(RULES)], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "SUCCESS: 4 rules found" in out.stdout


def test_the_four_alerts_ship() -> None:
    exprs = rule_exprs()
    assert "celery_worker_gil_wait_seconds_total" in exprs["CeleryWorkerGILBound"]
    assert "> 0.5" in exprs["CeleryWorkerGILBound"]
    assert "histogram_quantile(0.99" in exprs["CeleryQueueWaitP99AboveSLO"]
    assert "celery_worker_process_resident_memory_bytes" in exprs["CeleryWorkerRSSGrowthPerTask"]
    assert "celery_worker_child_restarts_total" in exprs["CeleryWorkerChildRestarts"]


@pytest.mark.parametrize("source", ["dashboard", "rules"])
def test_queries_reference_only_served_metrics(source: str) -> None:
    exprs = dashboard_exprs() if source == "dashboard" else list(rule_exprs().values())
    used = {m for e in exprs for m in METRIC.findall(e)}
    assert used, "no celery_* metric found in the queries"
    assert used <= served_names(), used - served_names()


def test_dashboard_covers_what_nobody_else_exports() -> None:
    used = {m for e in dashboard_exprs() for m in METRIC.findall(e)}
    for name in (
        "celery_task_queue_wait_seconds_bucket",
        "celery_worker_tasks_reserved",
        "celery_worker_process_cpu_seconds",
        "celery_worker_process_resident_memory_bytes",
        "celery_worker_child_restarts_total",
        "celery_worker_gil_wait_seconds_total",
    ):
        assert name in used
