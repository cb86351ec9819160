"""Audit speed, interpreter start included, measured side by side with ``python -c pass``.

Goals (issue 9), with a fresh install on the 2-core machine:

- one typical file within 3x of ``python -c pass``;
- 1,000 files in one call under 1.5 s;
- a whole-repository walk (``celery-tune audit`` in a generated tree of 10,000 files, most of
  them irrelevant) under 2 s.

    python benchmarks/bench_audit.py [--runs 15] [--compare /path/to/other/checkout]

Runs are interleaved (pass, audit, pass, audit, ...) so machine noise hits both alike.  For each
it prints the median wall time, the spread (min-max) and the median CPU time (user + sys of the
child, which load disturbs less than wall time), and the 1-minute load average before and after:
the machine is shared, so read the ratio and the CPU times first.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TYPICAL = ROOT / "sample_configs" / "production_celeryconfig.py"
TREE_FILES = 10_000


def _audit_cmd() -> list[str]:
    """The installed entry point (the venv's, next to this interpreter), else ``-m tuner``."""
    beside = Path(sys.executable).parent / "celery-tune"
    script = str(beside) if beside.exists() else shutil.which("celery-tune")
    return [script] if script else [sys.executable, "-m", "tuner"]


ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
# What the console script runs, for a checkout that is not installed (--compare).
ENTRY = [sys.executable, "-c", "import sys; from tuner.main import main; sys.exit(main())"]
ENV.pop("PYTHONDONTWRITEBYTECODE", None)


class Sample:
    def __init__(self) -> None:
        self.wall: list[float] = []
        self.cpu: list[float] = []

    def describe(self) -> str:
        lo, hi = min(self.wall) * 1000, max(self.wall) * 1000
        return (
            f"median {statistics.median(self.wall) * 1000:7.1f} ms (min {lo:.1f}, max {hi:.1f}); "
            f"CPU median {statistics.median(self.cpu) * 1000:.1f} ms; {len(self.wall)} runs"
        )


def _time(cmd: list[str], cwd: Path, sample: Sample, env: dict[str, str] = ENV) -> None:
    """Wall and CPU time of one run; a run that fails (exit code 2 or worse) stops the benchmark."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode not in (0, 1):
        raise SystemExit(f"benchmark run failed ({proc.returncode}): {proc.stderr.decode()[-300:]}")
    sample.wall.append(elapsed)
    sample.cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)


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


PY_MODULE = '''"""Module {i}: ordinary application code."""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)


def handler_{i}(request, *args, **kwargs):
    """Handle one request."""
    items = [x * 2 for x in range(10)]
    log.debug("handled %s", request)
    return {{"items": items, "args": args, "kwargs": kwargs}}


class Service{i}:
    def __init__(self, name: str) -> None:
        self.name = name

    def run(self) -> str:
        return self.name.upper()
'''
TASKS_MODULE = """from celery import shared_task


@shared_task(bind=True, max_retries=3)
def process_{i}(self, item_id):
    return item_id * 2
"""


def make_repository(root: Path, total: int = TREE_FILES) -> int:
    """A repository-like tree of ``total`` files, most of them irrelevant to the audit: Python
    modules (a few with Celery tasks), JS, Markdown, JSON, HTML, images, YAML (a few Kubernetes
    manifests), one Celery project's config, Procfile, Dockerfile and compose file.  Also a
    ``.git`` folder, a ``node_modules`` and a git-ignored ``build/``, which the walk must skip.
    Returns the number of files written outside the skipped folders."""
    rng = random.Random(9)
    written = 0

    def write(rel: str, data: str | bytes) -> None:
        nonlocal written
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(data, bytes):
            path.write_bytes(data)
        else:
            path.write_text(data)
        written += 1

    write(".gitignore", "build/\n*.pyc\n")
    write("proj/celery.py", (ROOT / "sample_configs" / "production_celeryconfig.py").read_text())
    write("Procfile", (ROOT / "sample_configs" / "Procfile").read_text())
    write("docker-compose.yml", (ROOT / "sample_configs" / "docker-compose.yml").read_text())
    write("Dockerfile", 'FROM python:3.12\nCMD ["celery", "-A", "proj", "worker", "-c", "4"]\n')
    write("deploy/k8s/worker.yaml", (ROOT / "sample_configs" / "k8s-worker.yaml").read_text())
    kinds = [
        ("py", 0.40), ("js", 0.20), ("md", 0.10), ("json", 0.10), ("html", 0.05),
        ("png", 0.05), ("yaml", 0.05), ("txt", 0.05),
    ]  # fmt: skip
    i = 0
    while written < total:
        i += 1
        ext = rng.choices([k for k, _ in kinds], [w for _, w in kinds])[0]
        folder = f"src/pkg{i % 40:02d}/sub{i % 7}"
        if ext == "py":
            text = TASKS_MODULE if i % 25 == 0 else PY_MODULE
            write(f"{folder}/mod{i}.py", text.format(i=i))
        elif ext == "js":
            write(f"web/static/js{i % 30}/f{i}.js", f"export const v{i} = () => {i};\n" * 20)
        elif ext == "md":
            write(f"docs/d{i % 20}/page{i}.md", f"# Page {i}\n\nSome text.\n" * 10)
        elif ext == "json":
            write(f"fixtures/f{i % 10}/data{i}.json", '{"k": [1, 2, 3]}\n' * 10)
        elif ext == "html":
            write(f"templates/t{i % 10}/page{i}.html", "<div>{{ value }}</div>\n" * 10)
        elif ext == "png":
            write(f"web/img/i{i}.png", bytes(rng.getrandbits(8) for _ in range(512)))
        elif ext == "yaml":
            write(f"config/c{i % 10}/settings{i}.yaml", f"name: app{i}\nreplicas: 2\n")
        else:
            write(f"notes/n{i}.txt", "plain notes\n" * 5)
    # Skipped wholesale: they do not count towards the walked files.
    for j in range(300):
        nm = root / "node_modules" / f"pkg{j % 30}"
        nm.mkdir(parents=True, exist_ok=True)
        (nm / f"celery{j}.py").write_text("worker_concurrency = 99\n")
        build = root / "build" / "lib"
        build.mkdir(parents=True, exist_ok=True)
        (build / f"celeryconfig{j}.py").write_text("worker_concurrency = 99\n")
    (root / ".git").mkdir()
    return written


def _goal(name: str, ok: bool, text: str) -> str:
    return f"{name:<22}{text}   {'OK' if ok else 'MISSED'}"


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument(
        "--compare",
        type=Path,
        help="another checkout (e.g. a worktree of main) to time side by side, same interpreter",
    )
    args = parser.parse_args()
    audit = _audit_cmd()
    # Measure the installed state: pip compiles a wheel's modules to bytecode at install time.
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "tuner")], check=True)
    other_env: dict[str, str] = {}
    other, other_many = Sample(), Sample()
    if args.compare:
        other_root = args.compare.resolve()
        other_env = {**ENV, "PYTHONPATH": str(other_root)}
        subprocess.run(
            [sys.executable, "-m", "compileall", "-q", str(other_root / "tuner")], check=True
        )
    load_before = os.getloadavg()[0]
    baseline, one = Sample(), Sample()
    many, tree = Sample(), Sample()
    with tempfile.TemporaryDirectory() as tmp:
        cwd = Path(tmp)
        for _ in range(args.runs):
            _time([sys.executable, "-c", "pass"], cwd, baseline)
            _time([*audit, "audit", "--cpus", "2", str(TYPICAL)], cwd, one)
            if args.compare:
                cmd = [*ENTRY, "audit", "--cpus", "2", str(TYPICAL)]
                _time(cmd, cwd, other, other_env)
        work = cwd / "thousand"
        work.mkdir()
        files = _thousand_files(work)
        repo = cwd / "repo"
        repo.mkdir()
        walked = make_repository(repo)
        for _ in range(max(3, args.runs // 3)):
            _time([*audit, "audit", "--cpus", "2", *files], cwd, many)
            if args.compare:
                cmd = [*ENTRY, "audit", "--cpus", "2", *files]
                _time(cmd, cwd, other_many, other_env)
            _time([*audit, "audit", "--cpus", "2"], repo, tree)
    ratio = statistics.median(one.wall) / statistics.median(baseline.wall)
    cpu_ratio = statistics.median(one.cpu) / statistics.median(baseline.cpu)
    print(f"audit command: {' '.join(audit)} (bytecode compiled); Python {sys.version.split()[0]}")
    print(f"load average (1 min): {load_before:.2f} before, {os.getloadavg()[0]:.2f} after")
    print(f"python -c pass        {baseline.describe()}")
    print(f"audit 1 file          {one.describe()}")
    print(
        _goal(
            "ratio (wall medians)", ratio <= 3, f"{ratio:.2f}x (CPU {cpu_ratio:.2f}x); goal <= 3x"
        )
    )
    m = statistics.median(many.wall)
    print(f"audit 1,000 files     {many.describe()}")
    print(_goal("1,000 files", m < 1.5, f"{m * 1000:.0f} ms; goal < 1500 ms"))
    if args.compare:
        print(f"--compare {args.compare} (its tuner.main:main, as the console script runs it):")
        print(f"  audit 1 file        {other.describe()}")
        print(f"  audit 1,000 files   {other_many.describe()}")
    t = statistics.median(tree.wall)
    print(f"walk {walked:,} files   {tree.describe()}")
    print(_goal("repository walk", t < 2, f"{t * 1000:.0f} ms; goal < 2000 ms"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
