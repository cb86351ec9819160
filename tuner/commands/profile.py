"""``celery-tune profile``: sample a worker with py-spy and say where its time goes.

Either ``--pid`` (a running worker's main process; its children are found through psutil) or
``--workload`` (a worker started by the bench runner under saturating load).  Returns 0, or 2 with
one line on stderr for bad input, a missing py-spy or missing ptrace permission.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import psutil

from tuner.bench.errors import BenchError, Terminated
from tuner.commands import error_line
from tuner.profile import analysis, pyspy, report, sampler, trace, verdict
from tuner.profile.pyspy import PySpyError
from tuner.profile.report import Profile
from tuner.profile.sampler import Sampled

if TYPE_CHECKING:
    from tuner.bench.config import WorkerConfig
    from tuner.bench.workloads import Workload

MAX_DURATION = 3600
MAX_RATE = 1000


class ProfileError(Exception):
    """Bad input for profile; ``str()`` is the message."""


@dataclass(frozen=True)
class Options:
    pid: int | None = None
    workload: str | None = None
    pool: str = "prefork"
    concurrency: int | None = None
    sets: tuple[str, ...] = ()
    broker: str | None = None
    scale: float = 1.0
    duration: int = 10
    rate: int = 50
    warmup: float = 2.0
    as_json: bool = False
    speedscope: Path | None = None


def profile(options: Options, *, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Run the profile; print the report to ``out``; return the exit code."""
    from tuner.commands.bench import sigterm_as_exception

    out = out or sys.stdout
    err = err or sys.stderr
    try:
        with sigterm_as_exception():
            result = _run(options, err)
    except (ProfileError, PySpyError, BenchError) as exc:
        err.write(error_line(exc))
        return 2
    except KeyboardInterrupt:
        err.write("interrupted; py-spy and any workers started were stopped\n")
        return 130
    except Terminated:
        err.write("terminated; py-spy and any workers started were stopped\n")
        return 143
    out.write(report.to_json(result) if options.as_json else report.to_text(result))
    return 0


def validate(o: Options) -> None:
    if (o.pid is None) == (o.workload is None):
        raise ProfileError("give either --pid PID (a running worker) or --workload NAME")
    if o.pid is not None and (o.sets or o.concurrency is not None or o.broker):
        raise ProfileError("--set, --concurrency and --broker go with --workload, not --pid")
    if o.pid is not None and o.pid <= 0:
        raise ProfileError(f"--pid must be a positive process id, got {o.pid}")
    if not 1 <= o.duration <= MAX_DURATION:
        raise ProfileError(f"--duration must be 1..{MAX_DURATION} seconds, got {o.duration}")
    if not 1 <= o.rate <= MAX_RATE:
        raise ProfileError(f"--rate must be 1..{MAX_RATE} samples/s, got {o.rate}")
    if o.concurrency is not None and o.concurrency < 1:
        raise ProfileError(f"--concurrency must be >= 1, got {o.concurrency}")
    if o.warmup < 0:
        raise ProfileError(f"--warmup must be >= 0 s, got {o.warmup}")
    if o.speedscope is not None and o.speedscope.parent and not o.speedscope.parent.is_dir():
        raise ProfileError(f"--speedscope {o.speedscope}: no such directory")


def measure(
    options: Options, workload: Workload | None = None, err: TextIO | None = None
) -> Profile:
    """The profile itself, for other commands (optimize's GIL probe); raises on bad input.

    ``workload``, when given, is what the launched worker runs (e.g. a user's ``--app``/``--task``)
    instead of ``options.workload`` resolved as a preset or TOML file.
    """
    return _run(options, err or sys.stderr, workload)


def _run(o: Options, err: TextIO, workload: Workload | None = None) -> Profile:
    validate(o)
    exe = pyspy.find()
    with tempfile.TemporaryDirectory(prefix="celery-tune-profile-") as tmp:
        workdir = Path(tmp)
        notes: list[str] = []
        if o.pid is not None:
            _check_pid(o.pid, notes)
            results = sampler.sample([o.pid], o.duration, o.rate, workdir, exe=exe)
        else:
            results = _launch_and_sample(o, exe, workdir, err, workload)
        return _build(results, o, notes)


def _check_pid(pid: int, notes: list[str]) -> None:
    try:
        proc = psutil.Process(pid)
        cmdline = " ".join(proc.cmdline())
        parent = proc.parent()
    except psutil.NoSuchProcess:
        raise ProfileError(f"--pid {pid}: no such process") from None
    except psutil.AccessDenied:
        return  # py-spy's check names the fix
    if "celery" not in cmdline:
        notes.append(f"pid {pid} does not look like a Celery worker ({cmdline[:60]!r})")
    elif parent is not None and "celery" in " ".join(_safe_cmdline(parent)):
        notes.append(
            f"pid {pid} looks like a pool child; give the worker's main process "
            f"(pid {parent.pid}) to see all of its processes"
        )


def _safe_cmdline(proc: psutil.Process) -> list[str]:
    try:
        return proc.cmdline()
    except psutil.Error:
        return []


def _config(o: Options) -> WorkerConfig:
    from tuner.bench.config import parse_set

    parts = [f"worker_pool={o.pool}"]
    if o.concurrency is not None:
        parts.append(f"worker_concurrency={o.concurrency}")
    parts.extend(o.sets)
    parts.append(f"label=profile-{o.pool}")
    return parse_set(",".join(parts))


def _launch_and_sample(
    o: Options, exe: str, workdir: Path, err: TextIO, given: Workload | None = None
) -> list[Sampled]:
    from tuner.bench.broker import Broker
    from tuner.bench.load import LoadSpec
    from tuner.bench.runner import run_config
    from tuner.bench.workloads import resolve

    config = _config(o)
    workload = given or resolve(o.workload or "cpu", scale=o.scale)
    load = LoadSpec(mode="saturate", warmup=o.warmup, duration=o.duration + 1.0)
    stop = threading.Event()
    box: dict[str, object] = {}

    def work(pids: list[int]) -> None:
        try:
            if stop.wait(o.warmup):
                return
            box["results"] = sampler.sample(pids, o.duration, o.rate, workdir, exe=exe, stop=stop)
        except BaseException as exc:  # reported by the main thread
            box["error"] = exc

    thread: threading.Thread | None = None

    def on_ready(pids: Sequence[int]) -> None:
        nonlocal thread
        for pid in pids:
            pyspy.check(pid, exe)  # fail before the load starts, with the fix named
        thread = threading.Thread(target=work, args=(list(pids),), daemon=True, name="profile")
        thread.start()

    err.write(
        f"profiling a {config.pool} worker (concurrency {config.effective_concurrency()}) on "
        f"{workload.name} for {o.duration} s after {o.warmup:g} s of warm-up...\n"
    )
    try:
        run_config(config, workload, load, Broker(o.broker), on_ready=on_ready)
    finally:
        stop.set()
        if thread is not None:
            thread.join(timeout=o.duration + sampler.FLUSH_TIMEOUT + 10)
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    results = box.get("results")
    if not isinstance(results, list):
        raise ProfileError("the worker stopped before sampling finished")
    return [r for r in results if isinstance(r, Sampled)]


def _build(results: Sequence[Sampled], o: Options, notes: list[str]) -> Profile:
    profiles: list[analysis.ProcessProfile] = []
    loaded: list[tuple[trace.Trace, str]] = []
    achieved: list[float] = []
    for r in results:
        if r.trace is None:
            if r.error:
                notes.append(f"pid {r.pid} ({r.role}): {r.error}")
            continue
        try:
            t = trace.load(r.trace, r.pid)
        except trace.TraceError as exc:
            notes.append(str(exc))
            continue
        rate = float(o.rate)
        if r.pyspy_samples and t.threads and t.seconds > 0:
            rate = min(rate, r.pyspy_samples / len(t.threads) / t.seconds)
            achieved.append(rate)
        if r.pyspy_errors:
            notes.append(f"pid {r.pid}: py-spy reported {r.pyspy_errors} failed samples")
        profiles.append(analysis.analyse(t, r.role, r.worker, rate))
        loaded.append((t, r.role))
    if not profiles:
        first = next((n for n in notes), "py-spy wrote no samples")
        raise ProfileError(f"no samples: {first}")
    profiles.sort(key=lambda p: (p.worker, p.role != "main", p.pid))
    workers = sorted({p.worker for p in profiles})
    verdicts = {w: verdict.verdict([p for p in profiles if p.worker == w]) for w in workers}
    if o.speedscope is not None:
        from tuner.profile import speedscope

        try:
            speedscope.write(o.speedscope, loaded)
        except OSError as exc:
            raise ProfileError(f"--speedscope {o.speedscope}: {exc.strerror}") from None
    method = {
        "sampler": "py-spy record --idle --native --format chrometrace, one per process",
        "rate_hz": o.rate,
        "achieved_hz": round(statistics.median(achieved), 1) if achieved else None,
        "duration_s": o.duration,
        "gil": "inferred from each thread's native stack (see docs/profile.md)",
    }
    return Profile(tuple(profiles), verdicts, method, tuple(notes))
