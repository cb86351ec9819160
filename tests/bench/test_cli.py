"""``celery-tune bench`` as a user runs it: the JSON contract, the table, and input errors."""

from __future__ import annotations

import io
import json
import time
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tuner.cli.bench import config_order
from tuner.commands.bench import bench

QUICK = ["--saturate", "--warmup", "0.2", "--tasks", "20", "-w", "cpu", "--scale", "0.2"]
RUN_KEYS = {"config", "repeat", "metrics"}
METRIC_KEYS = {
    "throughput", "p50", "p90", "p99", "max", "queue_wait_p99", "run_p99", "cpu_util",
    "rss_peak_mb", "rss_mean_mb", "child_restarts", "tasks_sent", "tasks_done", "tasks_failed",
    "tasks_lost", "efficiency", "offered_rate", "served_rate", "overloaded", "tasks_censored",
}  # fmt: skip


def test_config_order_follows_the_command_line() -> None:
    args = ["--baseline", "blog-recipe", "--set=concurrency=1", "-w", "cpu", "--config", "f.py"]
    args += ["--baseline", "celery-default", "--", "--set", "x=1"]
    assert config_order(args) == [
        ("baseline", "blog-recipe"),
        ("set", "concurrency=1"),
        ("config", "f.py"),
        ("baseline", "celery-default"),
    ]


@pytest.mark.slow
def test_json_output_follows_the_contract(tmp_path: Path) -> None:
    procfile = tmp_path / "Procfile"
    procfile.write_text("worker: celery -A proj worker -c 1 --prefetch-multiplier 1\n")
    proc = run_cli(
        "bench", *QUICK, "--json", "--set", "label=two,concurrency=2", "--config", str(procfile),
        timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert set(doc) >= {"runs", "summary", "env"}
    assert {"python", "celery", "kombu", "cpus", "broker"} <= set(doc["env"])
    assert [r["config"]["label"] for r in doc["runs"]] == ["two", "Procfile"]
    for run in doc["runs"]:
        assert set(run) >= RUN_KEYS
        assert set(run["metrics"]) >= METRIC_KEYS
        assert run["metrics"]["tasks_lost"] == 0
        assert run["metrics"]["overloaded"] is False  # saturating: closed loop, never overloaded
        assert run["metrics"]["offered_rate"] is None
    assert doc["runs"][1]["config"]["concurrency"] == 1
    assert doc["summary"][0]["ratio"]["throughput"] == 1.0
    assert doc["summary"][1]["runs"] == 1


@pytest.mark.slow
def test_table_output_and_repeats() -> None:
    out, err = io.StringIO(), io.StringIO()
    code = bench(
        saturate=True, warmup=0.2, tasks=15, duration=None, scale=0.2, repeat=2,
        configs=[("baseline", "docs-long-tasks"), ("set", "label=c1,concurrency=1")],
        out=out, err=err, progress=True,
    )  # fmt: skip
    assert code == 0, err.getvalue()
    text = out.getvalue()
    assert "docs-long-tasks" in text and "c1" in text and "medians of 2 interleaved runs" in text
    assert "overload" in text and "RSS" not in text  # the narrow table; --wide has the rest


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--set", "worker_concurency=2"], "did you mean worker_concurrency"),
        (["--rate", "5", "--saturate"], "--saturate excludes --rate"),
        (["-w", "nope"], "unknown workload 'nope'"),
        (["-w", "missing.toml"], "missing.toml: cannot read"),
        (["--broker", "redis://127.0.0.1:1/0"], "is unreachable"),
        (["--broker", "kafka://x"], "unsupported scheme"),
        (["--config", "no/such/file.py"], "no such file"),
        (["--task", "x.y"], "--task needs --app"),
    ],
)
def test_bad_input_is_one_clear_line_and_exit_2(args: list[str], message: str) -> None:
    start = time.monotonic()
    proc = run_cli("bench", *args, timeout=60)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], proc.stderr
    assert time.monotonic() - start < 60  # no hang (no worker started); generous under load
