"""No worker process survives a run, whatever ends it: success, error, timeout, Ctrl-C, SIGTERM,
or even SIGKILL of the bench process itself (the workers' watchdog then kills their group)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import pytest

from tests.bench.conftest import wait_gone
from tuner.bench.broker import Broker
from tuner.bench.config import WorkerConfig, parse_set
from tuner.bench.errors import BenchError
from tuner.bench.load import LoadSpec
from tuner.bench.metrics import Metrics
from tuner.bench.runner import run_config
from tuner.bench.workloads import preset, resolve

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
LONG = LoadSpec(rate=10, warmup=0.0, duration=60.0)


def our_workers() -> list[psutil.Process]:
    me = psutil.Process()
    found = []
    for child in me.children(recursive=True):
        try:
            if "tuner.bench.worker_app" in " ".join(child.cmdline()):
                found.append(child)
        except psutil.Error:
            continue
    return found


class Boom(Exception):
    pass


@pytest.mark.parametrize("exc", [Boom, KeyboardInterrupt])
def test_workers_stop_when_the_caller_aborts_the_run(exc: type[BaseException]) -> None:
    pids: list[int] = []

    def abort(elapsed: float, metrics: Metrics) -> None:
        assert metrics.tasks_sent > 0
        raise exc()

    with pytest.raises(exc):
        run_config(
            WorkerConfig(concurrency=2), preset("io"), LONG, Broker(),
            on_ready=pids.extend, on_interval=abort,
        )  # fmt: skip
    assert len(pids) == 1
    assert wait_gone(pids, within=30.0) == []


def test_workers_stop_after_a_timeout() -> None:
    pids: list[int] = []
    start = time.monotonic()
    with pytest.raises(BenchError, match="timed out after 2 s"):
        run_config(
            WorkerConfig(concurrency=2), preset("io"), LONG, Broker(), on_ready=pids.extend,
            timeout=2.0,
        )  # fmt: skip
    # The run was to last 60 s: stopping well before that shows the timeout fired (the bound is
    # generous, so a loaded machine cannot miss it).
    assert time.monotonic() - start < 45
    assert wait_gone(pids, within=30.0) == []


def test_a_worker_that_cannot_start_is_a_clear_error_with_its_output() -> None:
    bad = parse_set("pool=no_such_pool_module:Pool")
    with pytest.raises(BenchError, match="failed to start") as info:
        run_config(bad, preset("cpu", scale=0.2), LoadSpec(rate=5, duration=1), Broker())
    assert "no_such_pool_module" in str(info.value)
    assert our_workers() == []


def test_an_app_that_cannot_be_imported_is_a_clear_error() -> None:
    work = resolve("cpu", app="no_such_app_module_xyz:app", task="x.y")
    with pytest.raises(BenchError, match="failed to start") as info:
        run_config(WorkerConfig(concurrency=1), work, LoadSpec(rate=5, duration=1), Broker())
    assert "no_such_app_module_xyz" in str(info.value)
    assert our_workers() == []


def _start_bench(tmp_path: Path) -> tuple[subprocess.Popen[bytes], list[int]]:
    """A real ``celery-tune bench`` process with a long run; returns it and its workers' PIDs."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tuner", "bench", "-w", "io", "--rate", "10", "--warmup", "0",
         "--duration", "120", "--set", "concurrency=2", "--no-progress"],
        cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    bench = psutil.Process(proc.pid)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        workers = [c for c in bench.children() if "tuner.bench.worker_app" in " ".join(c.cmdline())]
        # Ready enough: the worker's pool children exist and tasks are being sent.
        if workers and len(workers[0].children()) >= 2:
            time.sleep(1.0)
            return proc, [w.pid for w in workers]
        time.sleep(0.1)
    proc.kill()
    proc.wait()
    pytest.fail("the bench process never started its worker")


@pytest.mark.parametrize(
    ("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143), (signal.SIGKILL, -9)]
)
def test_workers_die_with_the_bench_process(tmp_path: Path, sig: int, code: int) -> None:
    proc, pgids = _start_bench(tmp_path)
    run_id = " ".join(psutil.Process(pgids[0]).cmdline()).split("-Q celery-tune.")[1].split()[0]
    try:
        assert psutil.Process(pgids[0]).children(), "the worker should have pool children"
        proc.send_signal(sig)
        assert proc.wait(timeout=60) == code
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    # SIGKILL: nothing ran in the bench; the worker's watchdog notices and kills its group.
    assert wait_gone(pgids, within=30.0) == []
    assert not any(Path(tempfile.gettempdir()).glob(f"celery-tune-{run_id}-*"))
    stderr = proc.stderr.read().decode() if proc.stderr else ""
    assert "Traceback" not in stderr
