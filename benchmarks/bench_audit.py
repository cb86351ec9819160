"""Audit speed, interpreter start included, measured side by side with ``python -c pass``.

Goals on the 2-core machine: one typical file within 4x of ``python -c pass``; 1,000 files < 2 s.

    python benchmarks/bench_audit.py [--runs 15]

Runs are interleaved (pass, audit, pass, audit, ...) so machine noise hits both alike; the script
prints medians, the spread (min-max) and the ratio.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TYPICAL = ROOT / "sample_configs" / "production_celeryconfig.py"


def _audit_cmd() -> list[str]:
    script = shutil.which("celery-tune")
    return [script] if script else [sys.executable, "-m", "tuner"]


ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
ENV.pop("PYTHONDONTWRITEBYTECODE", None)


def _time(cmd: list[str], cwd: Path) -> float:
    """Wall time of one run; a run that fails (exit code 2 or worse) stops the benchmark."""
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=ENV)
    elapsed = time.perf_counter() - start
    if proc.returncode not in (0, 1):
        raise SystemExit(f"benchmark run failed ({proc.returncode}): {proc.stderr.decode()[-300:]}")
    return elapsed


def _spread(xs: list[float]) -> str:
    lo, hi = min(xs) * 1000, max(xs) * 1000
    return f"median {statistics.median(xs) * 1000:7.1f} ms  (min {lo:.1f}, max {hi:.1f})"


def _thousand_files(folder: Path) -> list[str]:
    samples = sorted(p for p in (ROOT / "sample_configs").iterdir() if p.is_file())
    paths = []
    for i in range(1000):
        src = samples[i % len(samples)]
        sub = folder / f"svc{i:04d}"
        sub.mkdir()
        dst = sub / src.name
        dst.write_text(src.read_text())
        paths.append(str(dst))
    return paths


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    audit = _audit_cmd()
    # Measure the installed state: pip compiles a wheel's modules to bytecode at install time.
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "tuner")], check=True)
    with tempfile.TemporaryDirectory() as tmp:
        cwd = Path(tmp)
        baseline, one = [], []
        for _ in range(args.runs):
            baseline.append(_time([sys.executable, "-c", "pass"], cwd))
            one.append(_time([*audit, "audit", "--cpus", "2", str(TYPICAL)], cwd))
        files = _thousand_files(cwd)
        many = [
            _time([*audit, "audit", "--cpus", "2", *files], cwd)
            for _ in range(max(3, args.runs // 3))
        ]
    ratio = statistics.median(one) / statistics.median(baseline)
    print(f"audit command: {' '.join(audit)} (bytecode compiled); {args.runs} interleaved runs")
    print(f"python -c pass      {_spread(baseline)}")
    print(f"audit 1 file        {_spread(one)}")
    print(f"ratio (medians)     {ratio:.2f}x   goal <= 4x   {'OK' if ratio <= 4 else 'MISSED'}")
    print(f"audit 1,000 files   {_spread(many)}  ({len(many)} runs)")
    m = statistics.median(many)
    print(f"1,000 files goal    < 2000 ms   {'OK' if m < 2 else 'MISSED'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
