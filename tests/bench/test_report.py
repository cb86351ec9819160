"""The bench table: readable at 80 columns, every column with --wide, overload said in words."""

from __future__ import annotations

import io
import math
from dataclasses import replace

from rich.console import Console

from tuner.bench import report
from tuner.bench.config import WorkerConfig
from tuner.bench.metrics import Metrics
from tuner.bench.runner import RunResult

LABELS = ("celery-default", "docs-long-tasks", "prefetch-1-acks-late-c2")


def metrics(**kw: object) -> Metrics:
    m = Metrics(
        throughput=27.4, p50=0.052, p90=0.071, p99=0.113, max=0.131, queue_wait_p99=0.061,
        run_p99=0.055, cpu_util=0.71, rss_peak_mb=128.6, rss_mean_mb=128.5, child_restarts=0,
        tasks_sent=331, tasks_done=331, tasks_failed=0, tasks_lost=0, efficiency=0.68,
        offered_rate=28.0, served_rate=27.4,
    )  # fmt: skip
    return replace(m, **kw)  # type: ignore[arg-type]


def results() -> list[RunResult]:
    out = []
    for repeat in range(2):
        for i, label in enumerate(LABELS):
            m = metrics(throughput=27.4 + i + repeat, p99=0.113 * (i + 1) + 0.01 * repeat)
            if label == "docs-long-tasks":
                m = replace(m, throughput=12.4, served_rate=12.4, p50=3.8, p99=7.9, overloaded=True)
            out.append(RunResult(WorkerConfig(label=label), repeat, m))
    return out


def render(width: int, *, wide: bool) -> str:
    buf = io.StringIO()
    console = Console(file=buf, width=width, color_system=None)
    report.render(report.summarize(results()), console, title="cpu-heavy-tail", wide=wide)
    return buf.getvalue()


def test_default_table_reads_at_80_columns() -> None:
    text = render(80, wide=False)
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert "…" not in text  # nothing cut short
    for label in LABELS:
        assert label in text
    header = next(line for line in lines if "tasks/s" in line)
    for column in ("config", "tasks/s", "p50 ms", "p99 ms", "lost", "overload"):
        assert column in header
    assert "RSS" not in text and "wait p99" not in text  # those are for --wide / --json
    row = next(line for line in lines if "docs-long-tasks" in line)
    assert "YES" in row and "3800" in row
    assert (
        "docs-long-tasks: served 12.4 of 28/s offered; latency measures a growing backlog" in text
    )


def test_wide_table_has_every_column() -> None:
    text = render(200, wide=True)
    for column in ("runs", "vs 1st", "wait p99", "run p99", "CPU", "RSS MiB", "restarts", "lost"):
        assert column in text
    assert "overload" in text and "served 12.4 of 28/s offered" in text
    assert "(" in text  # min-max of the repeats


def test_summary_counts_overloaded_runs_and_censored_tasks() -> None:
    summary = report.summarize(results())
    by = {e["label"]: e for e in summary}
    assert by["docs-long-tasks"]["overloaded"] == 2 and by["celery-default"]["overloaded"] == 0
    assert by["celery-default"]["tasks"]["censored"] == 0
    assert not math.isnan(by["celery-default"]["median"]["offered_rate"])
