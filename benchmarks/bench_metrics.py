"""The exporter's cost and its GIL counter's validity (tuner.metrics, docs/metrics.md).

    python benchmarks/bench_metrics.py overhead [--repeat 5] [--duration 8]
    python benchmarks/bench_metrics.py gil [--duration 10]
    python benchmarks/bench_metrics.py costs

``overhead``: one ``celery-tune bench`` run per workload (cpu, io), two configs side by side with
interleaved repeats, saturating: ``metrics-on`` enables the exporter through configuration
(``--set include=["tuner.metrics.auto"]``), ``metrics-off`` does not.  Prints every run's
throughput, medians, min-max spreads, the ratio of medians and the load average.

``gil``: ``celery-tune profile`` (py-spy) on a worker that also runs the exporter, on three
cases (threads pool on pure-Python CPU tasks, prefork children on the same, threads pool on a
GIL-releasing zlib/hashlib task); the exporter is scraped during the sampling window and its GIL
counters' rates are printed next to py-spy's figures for the same processes.

``costs``: in one process, the GIL sampler's cost on a pure-Python loop (CPU seconds, sampler
off/on interleaved) and the task handlers' cost per task.

This module is also the Celery app of the native case (``bench_metrics:app``).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import zlib
from pathlib import Path
from typing import Any

from celery import Celery

from tuner.bench import tasks as bench_tasks

ROOT = Path(__file__).resolve().parent.parent
ENABLE = 'include=["tuner.metrics.auto"]'
NATIVE = "bench_metrics.crunch"

app = Celery("bench_metrics")
bench_tasks.register(app)
_BLOB = os.urandom(4 << 20)


@app.task(name=NATIVE)  # type: ignore[untyped-decorator, misc, unused-ignore]
def crunch(rounds: int = 1) -> int:
    """Native work that releases the GIL for a whole 4 MiB buffer at a time: sha256 and crc32.

    (``zlib.compress`` is not used: it takes the GIL back for every output block it grows.)
    """
    n = 0
    for _ in range(rounds):
        n += hashlib.sha256(_BLOB).digest()[0]
        n += zlib.crc32(_BLOB) & 0xFF
    return n


def _env(**extra: str) -> dict[str, str]:
    path = os.pathsep.join([str(ROOT / "benchmarks"), str(ROOT), os.environ.get("PYTHONPATH", "")])
    return {**os.environ, "PYTHONPATH": path, **extra}


def _loadavg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


# --- overhead ---------------------------------------------------------------------------------


def overhead(args: argparse.Namespace) -> int:
    print(f"load average before: {_loadavg()}  ({os.cpu_count()} CPUs)")
    results: dict[str, dict[str, list[float]]] = {}
    for workload in args.workloads:
        cmd = [
            sys.executable, "-m", "tuner", "bench", "-w", workload, "--saturate",
            "--set", f"{ENABLE},label=metrics-on", "--set", "label=metrics-off",
            "--repeat", str(args.repeat), "--duration", str(args.duration),
            "--warmup", str(args.warmup), "--json", "--no-progress",
        ]  # fmt: skip
        print("$", " ".join(cmd[1:]), flush=True)
        out = subprocess.run(
            cmd, capture_output=True, text=True, cwd=ROOT,
            env=_env(CELERY_TUNE_METRICS_PORT="0", CELERY_TUNE_METRICS_ADDR="127.0.0.1"),
        )  # fmt: skip
        if out.returncode != 0:
            print(out.stderr[-2000:], file=sys.stderr)
            return 2
        data = json.loads(out.stdout)
        per: dict[str, list[float]] = {}
        for run in data["runs"]:
            per.setdefault(run["config"]["label"], []).append(float(run["metrics"]["throughput"]))
        results[workload] = per
        on, off = per["metrics-on"], per["metrics-off"]
        m_on, m_off = statistics.median(on), statistics.median(off)
        for label, values in (("metrics-off", off), ("metrics-on", on)):
            runs = " ".join(f"{v:.1f}" for v in values)
            print(
                f"  {workload:4} {label:11} n={len(values)} median {statistics.median(values):7.2f}"
                f" tasks/s  spread {min(values):.1f}-{max(values):.1f}  runs: {runs}"
            )
        print(f"  {workload:4} on/off ratio of medians: {m_on / m_off:.3f}"
              f" ({(m_on / m_off - 1) * 100:+.1f}%)  load average now: {_loadavg()}")  # fmt: skip
    print(f"load average after: {_loadavg()}")
    return 0


# --- GIL validation ---------------------------------------------------------------------------

CASES = {
    "threads-cpu": (["-w", "cpu", "-P", "threads", "-c", "2"], None),
    "prefork-cpu": (["-w", "cpu", "-P", "prefork", "-c", "2"], None),
    "threads-native": (["-P", "threads", "-c", "2"], NATIVE),
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


_SAMPLE = re.compile(
    r'^(celery_worker_gil_(?:wait|busy)_seconds_total)\{[^}]*pid="(\d+)"[^}]*\} (\S+)'
)


def _scrape(url: str) -> dict[tuple[str, int], float]:
    with urllib.request.urlopen(url, timeout=2) as r:
        text = r.read().decode()
    out = {}
    for line in text.splitlines():
        m = _SAMPLE.match(line)
        if m:
            out[(m.group(1), int(m.group(2)))] = float(m.group(3))
    return out


def gil(args: argparse.Namespace) -> int:
    print(f"load average before: {_loadavg()}  ({os.cpu_count()} CPUs)")
    tmp = Path(tempfile.mkdtemp(prefix="bench-metrics-"))
    (tmp / "native.toml").write_text(
        f'name = "native"\nkind = "cpu"\napp = "bench_metrics:app"\n'
        f'[[task]]\nname = "{NATIVE}"\nargs = [[4]]\n'
    )
    for case in args.cases:
        opts, task = CASES[case]
        port = _free_port()
        url = f"http://127.0.0.1:{port}/metrics"
        workload = ["-w", str(tmp / "native.toml")] if task else []
        cmd = [
            sys.executable, "-m", "tuner", "profile", *workload, *opts,
            "--set", ENABLE, "--duration", str(args.duration), "--warmup", "3", "--json",
        ]  # fmt: skip
        scrapes: list[tuple[float, dict[tuple[str, int], float]]] = []
        done = threading.Event()

        def poll(
            url: str = url, scrapes: list[Any] = scrapes, done: threading.Event = done
        ) -> None:
            while not done.is_set():
                with contextlib.suppress(OSError):
                    scrapes.append((time.monotonic(), _scrape(url)))
                time.sleep(0.5)

        poller = threading.Thread(target=poll, daemon=True)
        poller.start()
        env = _env(CELERY_TUNE_METRICS_PORT=str(port), CELERY_TUNE_METRICS_ADDR="127.0.0.1")
        out = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env)
        done.set()
        poller.join()
        if out.returncode not in (0,) or not out.stdout.strip():
            print(f"{case}: profile failed ({out.returncode}): {out.stderr[-1500:]}")
            continue
        report = json.loads(out.stdout)
        if len(scrapes) < 2:
            print(f"{case}: exporter not scraped ({len(scrapes)} scrapes)")
            continue
        # the sampling window: the last `duration` seconds before the worker went away
        t_end, last = scrapes[-1]
        first_t, first = min(scrapes, key=lambda s: abs(s[0] - (t_end - args.duration)))
        span = t_end - first_t
        print(f"{case}: exporter window {span:.1f}s; load average {_loadavg()}")
        for proc in report["processes"]:
            pid = int(proc["pid"])
            rates = {}
            for kind in ("wait", "busy"):
                key = (f"celery_worker_gil_{kind}_seconds_total", pid)
                if key in last:
                    rates[kind] = (last[key] - first.get(key, 0.0)) / span
            wait = f"{rates['wait'] * 100:5.1f}%" if "wait" in rates else "    -"
            busy = f"{rates['busy'] * 100:5.1f}%" if "busy" in rates else "    -"
            print(
                f"  pid {pid} {proc['role']:5} py-spy gil_wait {proc['gil_wait_pct']:5.1f}%"
                f" gil {proc['gil_pct']:5.1f}% | exporter gil_wait {wait} gil_busy {busy}"
            )
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


# --- in-process costs ---------------------------------------------------------------------------


def _spin_cpu(n: int) -> float:
    """CPU seconds of this process (all threads: the knocker's included) for ``n`` iterations."""
    t0 = time.process_time()
    bench_tasks.spin(n)
    return time.process_time() - t0


def costs(args: argparse.Namespace) -> int:
    """The sampler's cost on a pure-Python loop, and the task handlers' cost per task."""
    from gilknocker import KnockKnock

    print(f"load average before: {_loadavg()}  ({os.cpu_count()} CPUs)")
    n = args.iterations
    off: list[float] = []
    on: list[float] = []
    for _ in range(args.repeat):  # interleaved
        off.append(_spin_cpu(n))
        knocker = KnockKnock(polling_interval_micros=args.interval_us)
        knocker.start()
        on.append(_spin_cpu(n))
        knocker.stop()
    m_off, m_on = statistics.median(off), statistics.median(on)
    print(
        f"spin({n}) CPU seconds, {args.repeat} interleaved runs each:\n"
        f"  sampler off: median {m_off:.3f} s  spread {min(off):.3f}-{max(off):.3f}\n"
        f"  sampler on ({args.interval_us} us): median {m_on:.3f} s"
        f"  spread {min(on):.3f}-{max(on):.3f}\n"
        f"  on/off ratio of medians: {m_on / m_off:.3f} ({(m_on / m_off - 1) * 100:+.1f}%)"
    )
    print(
        f"task handlers: {_handler_cost(args.tasks) * 1e6:.1f} us per task (received, started,"
        f" queue wait, run time, succeeded, CPU/RSS update), median of 5 x {args.tasks} tasks"
    )
    print(f"load average after: {_loadavg()}")
    return 0


def _handler_cost(n: int) -> float:
    """Seconds per task for the exporter's signal handlers, on a throwaway directory."""
    from types import SimpleNamespace

    from tuner.metrics import registry, tasks
    from tuner.metrics.process import ProcessStats
    from tuner.metrics.publish import SENT_HEADER
    from tuner.metrics.state import STATE

    directory, _ = registry.prepare_directory(tempfile.mkdtemp(prefix="bench-metrics-"))
    STATE.metrics = registry.create(directory)
    STATE.hostname = "bench@host"
    STATE.stats = ProcessStats(STATE.metrics, STATE.hostname, 1.0)
    info = {"routing_key": "celery", "exchange": ""}
    req = SimpleNamespace(delivery_info=info, eta=None, **{SENT_HEADER: time.time()})
    task = SimpleNamespace(name="bench.task", request=req)
    request = SimpleNamespace(name="bench.task", delivery_info=info)
    runs = []
    for _ in range(5):
        t0 = time.perf_counter()
        for i in range(n):
            tid = str(i)
            tasks.on_received(request=request)
            tasks.on_prerun(task_id=tid, task=task)
            tasks.on_success(sender=task)
            tasks.on_postrun(task_id=tid, task=task)
        runs.append((time.perf_counter() - t0) / n)
    shutil.rmtree(directory, ignore_errors=True)
    return statistics.median(runs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="what", required=True)
    o = sub.add_parser("overhead")
    o.add_argument("--workloads", nargs="+", default=["cpu", "io"])
    o.add_argument("--repeat", type=int, default=5)
    o.add_argument("--duration", type=float, default=8.0)
    o.add_argument("--warmup", type=float, default=2.0)
    g = sub.add_parser("gil")
    g.add_argument("--duration", type=int, default=10)
    g.add_argument("--cases", nargs="+", choices=sorted(CASES), default=list(CASES))
    c = sub.add_parser("costs")
    c.add_argument("--iterations", type=int, default=3_000_000)
    c.add_argument("--repeat", type=int, default=7)
    c.add_argument("--interval-us", type=int, default=1000)
    c.add_argument("--tasks", type=int, default=2000)
    args = parser.parse_args()
    run = {"overhead": overhead, "gil": gil, "costs": costs}[args.what]
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
