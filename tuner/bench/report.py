"""Side-by-side results: medians, spread and ratios against the first configuration.

:func:`summarize` groups runs by config label (in first-seen order); :func:`document` is the
``--json`` object; :func:`render` prints the rich table: by default a narrow one that reads at 80
columns (config, tasks/s, p50, p99, lost, overload), every column with ``wide``.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from typing import Any

from tuner.bench.metrics import CONTRACT
from tuner.bench.runner import RunResult

# The contract's metrics, less the task counts (summed separately) and the overload flag (counted),
# plus the mean task CPU.
COUNTED = ("tasks_sent", "tasks_done", "tasks_failed", "tasks_censored", "overloaded")
SUMMARY_METRICS = (*(m for m in CONTRACT if m not in COUNTED), "task_cpu_mean")
RATIO_METRICS = ("throughput", "p50", "p99", "cpu_util", "rss_peak_mb", "efficiency")


def _values(runs: Sequence[RunResult], metric: str) -> list[float]:
    out = []
    for run in runs:
        value = run.metrics.as_dict().get(metric)
        if value is not None:
            out.append(float(value))
    return out


def summarize(results: Sequence[RunResult]) -> list[dict[str, Any]]:
    """One entry per config: median, min, max (and CV of throughput) over its repeats."""
    groups: dict[str, list[RunResult]] = {}
    for result in results:
        groups.setdefault(result.config.label, []).append(result)
    summary: list[dict[str, Any]] = []
    for label, runs in groups.items():
        median: dict[str, float | None] = {}
        low: dict[str, float | None] = {}
        high: dict[str, float | None] = {}
        for metric in SUMMARY_METRICS:
            values = _values(runs, metric)
            median[metric] = statistics.median(values) if values else None
            low[metric] = min(values) if values else None
            high[metric] = max(values) if values else None
        thr = _values(runs, "throughput")
        cv = statistics.stdev(thr) / statistics.mean(thr) if len(thr) > 1 and any(thr) else None
        summary.append(
            {
                "label": label,
                "config": runs[0].config.as_dict(),
                "runs": len(runs),
                "median": median,
                "min": low,
                "max": high,
                "cv": {"throughput": cv},
                "tasks": {
                    key: sum(int(getattr(r.metrics, f"tasks_{key}")) for r in runs)
                    for key in ("sent", "done", "failed", "lost", "censored")
                },
                "overloaded": sum(1 for r in runs if r.metrics.overloaded),
                "overload": [r.metrics.overload_text() for r in runs if r.metrics.overloaded],
            }
        )
    first = summary[0]["median"] if summary else {}
    for entry in summary:
        entry["ratio"] = {
            metric: _ratio(entry["median"].get(metric), first.get(metric))
            for metric in RATIO_METRICS
        }
    return summary


def _ratio(value: float | None, reference: float | None) -> float | None:
    if value is None or reference is None or reference == 0:
        return None
    return value / reference


def document(
    results: Sequence[RunResult],
    env: Mapping[str, object],
    *,
    workload: Mapping[str, object] | None = None,
    load: Mapping[str, object] | None = None,
) -> dict[str, Any]:
    """The ``--json`` object: runs, summary, env (plus the workload and load used)."""
    doc: dict[str, Any] = {
        "runs": [r.as_dict() for r in results],
        "summary": summarize(results),
        "env": dict(env),
    }
    if workload is not None:
        doc["workload"] = dict(workload)
    if load is not None:
        doc["load"] = dict(load)
    return doc


# --- the table ---------------------------------------------------------------------------------


def _num(value: float | None, fmt: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return format(value, fmt)


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value * 1000:.0f}"


def _spread(entry: Mapping[str, Any], metric: str, scale: float, fmt: str) -> str:
    med = entry["median"].get(metric)
    if med is None:
        return "-"
    text = format(med * scale, fmt)
    lo, hi = entry["min"].get(metric), entry["max"].get(metric)
    if entry["runs"] > 1 and lo is not None and hi is not None:
        text += f" ({format(lo * scale, fmt)}-{format(hi * scale, fmt)})"
    return text


def _times(value: float | None) -> str:
    return "-" if value is None else f"x{value:.2f}"


def render(
    summary: Sequence[Mapping[str, Any]], console: Any, *, title: str = "", wide: bool = False
) -> None:
    """Print the side-by-side table (medians).  Narrow by default: config, tasks/s, p50, p99,
    lost and overload, then one line per overloaded config saying what was served of what was
    offered.  ``wide``: every column, with min-max in brackets when repeated."""
    from rich.table import Table

    table = Table(title=title or None, title_justify="left", header_style="bold")
    if not wide:
        table.add_column("config", overflow="fold", max_width=30)
        for name in ("tasks/s", "p50 ms", "p99 ms", "lost", "overload"):
            table.add_column(name, justify="right", no_wrap=True)
        for entry in summary:
            med = entry["median"]
            lost = entry["tasks"]["lost"]
            table.add_row(
                str(entry["label"]),
                _num(med.get("throughput"), ".1f"),
                _ms(med.get("p50")),
                _ms(med.get("p99")),
                f"[red]{lost}[/red]" if lost else "0",
                _overload_cell(entry),
            )
        console.print(table)
        _overload_lines(summary, console)
        return
    table.add_column("config")
    table.add_column("runs", justify="right")
    table.add_column("tasks/s", justify="right")
    table.add_column("vs 1st", justify="right")
    table.add_column("p50 ms", justify="right")
    table.add_column("p99 ms", justify="right")
    table.add_column("vs 1st", justify="right")
    table.add_column("wait p99", justify="right")
    table.add_column("run p99", justify="right")
    table.add_column("CPU", justify="right")
    table.add_column("effic.", justify="right")
    table.add_column("RSS MiB", justify="right")
    table.add_column("restarts", justify="right")
    table.add_column("lost", justify="right")
    table.add_column("overload", justify="right")
    for entry in summary:
        lost = entry["tasks"]["lost"]
        cells = _cells(entry, run_p99=True)[:-1]
        table.add_row(*cells, f"[red]{lost}[/red]" if lost else "0", _overload_cell(entry))
    console.print(table)
    _overload_lines(summary, console)


def _overload_cell(entry: Mapping[str, Any]) -> str:
    n = int(entry.get("overloaded") or 0)
    if not n:
        return "no"
    return "[red]YES[/red]" if n == entry["runs"] else f"[red]{n}/{entry['runs']}[/red]"


def _overload_lines(summary: Sequence[Mapping[str, Any]], console: Any) -> None:
    for entry in summary:
        for text in dict.fromkeys(entry.get("overload") or ()):
            console.print(f"[red]{entry['label']}: {text}[/red]")


def _cells(entry: Mapping[str, Any], *, run_p99: bool) -> list[str]:
    """One configuration's row, shared by the terminal table and the Markdown one."""
    med = entry["median"]
    ratio = entry["ratio"]
    return [
        str(entry["label"]),
        str(entry["runs"]),
        _spread(entry, "throughput", 1.0, ".1f"),
        _times(ratio.get("throughput")),
        _ms(med.get("p50")),
        _spread(entry, "p99", 1000.0, ".0f"),
        _times(ratio.get("p99")),
        _ms(med.get("queue_wait_p99")),
        *([_ms(med.get("run_p99"))] if run_p99 else []),
        _num(med.get("cpu_util"), ".0%"),
        _num(med.get("efficiency"), ".2f"),
        _num(med.get("rss_peak_mb"), ".0f"),
        _num(med.get("child_restarts"), ".0f"),
        str(entry["tasks"]["lost"]),
    ]


def markdown(summary: Sequence[Mapping[str, Any]]) -> str:
    """The same table as GitHub Markdown (for docs/baselines.md)."""
    head = (
        "| config | runs | tasks/s (min-max) | vs 1st | p50 ms | p99 ms (min-max) | vs 1st "
        "| wait p99 ms | CPU | efficiency | RSS MiB | restarts | lost |"
    )
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for entry in summary:
        lines.append("| " + " | ".join(_cells(entry, run_p99=False)) + " |")
    return "\n".join(lines) + "\n"
