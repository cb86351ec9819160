"""Worker process lifecycle: start ``celery worker`` nodes, wait until ready, always stop them.

Each node runs in its own session (so its own process group, out of reach of the terminal's
Ctrl-C).  :meth:`WorkerGroup.stop` sends SIGTERM (warm shutdown), waits, then SIGKILLs the whole
group, whatever happened; the group is a context manager so that this runs on every path.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from tuner.bench.appcheck import worker_pythonpath
from tuner.bench.broker import BrokerSession
from tuner.bench.config import WorkerConfig
from tuner.bench.errors import BenchError

APP_MODULE = "tuner.bench.worker_app"
SPEC_ENV = "CELERY_TUNE_BENCH"  # read by tuner.bench.worker_app
# Environment variables through which Celery would override the broker or backend we set.
STRIPPED_ENV = (
    "CELERY_BROKER_URL",
    "CELERY_BROKER_READ_URL",
    "CELERY_BROKER_WRITE_URL",
    "CELERY_RESULT_BACKEND",
)
TAIL_LINES = 15


@dataclass
class WorkerNode:
    name: str
    proc: subprocess.Popen[bytes]
    log_path: Path
    log: IO[bytes]
    ready_path: Path
    ready_at: float | None = None

    @property
    def pid(self) -> int:
        return self.proc.pid


def tail(path: Path, lines: int = TAIL_LINES) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    kept = [line for line in text.splitlines() if line.strip()]
    return "\n".join("    " + line for line in kept[-lines:])


class WorkerGroup:
    """``nodes`` worker nodes with one config, all consuming the run's queue."""

    def __init__(
        self,
        config: WorkerConfig,
        session: BrokerSession,
        *,
        queue: str,
        run_dir: Path,
        run_id: str,
        nodes: int = 1,
        app: str | None = None,
        events_dir: Path | None = None,
    ) -> None:
        self.config = config
        self.session = session
        self.queue = queue
        self.run_dir = run_dir
        self.run_id = run_id
        self.count = nodes
        self.app = app
        self.events_dir = events_dir or run_dir / "events"
        self.nodes: list[WorkerNode] = []

    # -- start ---------------------------------------------------------------------------------

    def command(self, node: str) -> list[str]:
        return [
            sys.executable,
            "-m",
            "celery",
            "-A",
            APP_MODULE,
            "-q",
            "worker",
            "-Q",
            self.queue,
            "-n",
            f"{node}@celery-tune",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "-l",
            "WARNING",
            *self.config.worker_args(),
        ]

    def environment(self, node: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in STRIPPED_ENV}
        spec: dict[str, Any] = {
            "app": self.app,
            "broker_url": self.session.url,
            "transport_options": self.session.transport_options,
            "transport": self.session.transport,
            "settings": self.config.applied_settings(),
            "events_dir": str(self.events_dir),
            "node": node,
            "parent_pid": os.getpid(),
            "run_id": self.run_id,
            "run_dir": str(self.run_dir),
        }
        env[SPEC_ENV] = json.dumps(spec)
        env["PYTHONPATH"] = worker_pythonpath(env)
        tmp = self.run_dir / "tmp"  # the filesystem transport moves fetched messages here
        tmp.mkdir(exist_ok=True)
        env["TMPDIR"] = str(tmp)
        env["PYTHONUNBUFFERED"] = "1"
        return env

    def start(self) -> None:
        self.events_dir.mkdir(parents=True, exist_ok=True)
        for i in range(self.count):
            name = f"bench-{self.run_id}-{i}"
            log_path = self.run_dir / f"{name}.log"
            log = open(log_path, "wb")  # noqa: SIM115 - closed in stop()
            try:
                proc = subprocess.Popen(
                    self.command(name),
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=self.environment(name),
                    start_new_session=True,
                )
            except BaseException:
                log.close()
                raise
            ready = self.events_dir / f"ready-{name}.json"
            self.nodes.append(WorkerNode(name, proc, log_path, log, ready))

    def wait_ready(self, timeout: float = 30.0) -> None:
        """Block until every node has sent ``worker_ready``; a dead node is a clear error."""
        deadline = time.monotonic() + timeout
        waiting = list(self.nodes)
        while waiting:
            for node in list(waiting):
                if node.ready_path.exists():
                    node.ready_at = json.loads(node.ready_path.read_text())["t"]
                    waiting.remove(node)
                elif node.proc.poll() is not None:
                    self._failed(node, "failed to start")
            if waiting and time.monotonic() > deadline:
                node = waiting[0]
                raise BenchError(
                    f"worker {node.name} was not ready within {timeout:g} s; "
                    f"last lines of its output:\n{tail(node.log_path)}"
                )
            if waiting:
                time.sleep(0.01)

    def check_alive(self) -> None:
        for node in self.nodes:
            if node.proc.poll() is not None:
                self._failed(node, "exited during the run")

    def _failed(self, node: WorkerNode, what: str) -> None:
        node.log.flush()
        text = tail(node.log_path) or "    (no output)"
        raise BenchError(
            f"worker {what} (exit code {node.proc.returncode}); last lines of its output:\n{text}"
        )

    @property
    def pids(self) -> list[int]:
        return [node.pid for node in self.nodes]

    # -- stop ----------------------------------------------------------------------------------

    def stop(self, timeout: float = 10.0) -> None:
        """Warm shutdown (SIGTERM) with ``timeout``, then SIGKILL of each node's process group."""
        try:
            for node in self.nodes:
                if node.proc.poll() is None:
                    _signal(node.proc, signal.SIGTERM)
            deadline = time.monotonic() + timeout
            for node in self.nodes:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    node.proc.wait(max(0.0, deadline - time.monotonic()))
        finally:
            kill_groups([node.pid for node in self.nodes])
            for node in self.nodes:
                with contextlib.suppress(subprocess.TimeoutExpired):  # SIGKILL cannot be ignored
                    node.proc.wait(5.0)
                node.log.close()

    def __enter__(self) -> WorkerGroup:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _signal(proc: subprocess.Popen[bytes], sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # raced with its exit
        proc.send_signal(sig)


def kill_groups(pgids: Sequence[int]) -> None:
    """SIGKILL every process in each group (a node's leader PID is its group id)."""
    for pgid in pgids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)
