"""Real Celery workers for the pool and profile tests: the app they run, and a harness.

The worker side (``celery -A celery_live worker``) reads its broker and queue from the environment.
The test side starts workers with :func:`start_worker`, which always stops them again.  Every
worker gets ``PR_SET_PDEATHSIG`` so it dies with the test process even on SIGKILL, and runs in its
own process group, which :meth:`LiveWorker.stop` kills.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from celery import Celery

ROOT = Path(__file__).resolve().parent.parent
TESTS = Path(__file__).resolve().parent
REDIS_URL = "redis://127.0.0.1:6379/0"

ENV_BROKER = "LIVE_TEST_BROKER"
ENV_QUEUE = "LIVE_TEST_QUEUE"
ENV_SETTINGS = "LIVE_TEST_SETTINGS"  # "key=value;key=value" (values as Python literals)

app = Celery("celery_live", broker=os.environ.get(ENV_BROKER, REDIS_URL))
_queue = os.environ.get(ENV_QUEUE, "celery-live")
app.conf.update(
    task_default_queue=_queue,
    task_default_exchange=_queue,
    task_default_routing_key=_queue,
    task_ignore_result=True,
    worker_enable_remote_control=False,
    worker_send_task_events=False,
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=True,
)
if os.environ.get(ENV_SETTINGS):
    import ast

    for item in os.environ[ENV_SETTINGS].split(";"):
        key, _, value = item.partition("=")
        app.conf[key.strip()] = ast.literal_eval(value.strip())


def _spin_for(cpu_seconds: float) -> int:
    end = time.thread_time() + cpu_seconds
    x = 0
    while time.thread_time() < end:
        for i in range(2000):
            x = (x + i * i) % 1000003
    return x


@app.task(name="celery_live.mark")  # type: ignore[untyped-decorator, misc, unused-ignore]
def mark(i: int, directory: str, cpu_seconds: float) -> None:
    """CPU work that leaves ``i.start`` (pid) and then ``i.done`` (pid and affinity) behind."""
    d = Path(directory)
    _write_atomically(d / f"{i}.start", str(os.getpid()))
    _spin_for(cpu_seconds)
    cpus = ",".join(str(c) for c in sorted(os.sched_getaffinity(0)))
    pools = sys.modules.get("tuner.pools.prefork")
    pinned = pools.child_cpu() if pools is not None else None  # set in worker_process_init
    _write_atomically(d / f"{i}.done", f"{os.getpid()} {cpus} {pinned}")


def _write_atomically(path: Path, text: str) -> None:
    """Write then rename: a test polling the directory never reads a half-written file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


try:
    from tuner.bench import tasks as _bench_tasks
except ImportError:  # pragma: no cover
    pass
else:
    _bench_tasks.register(app)


# --- the test side ------------------------------------------------------------------------------


def redis_reachable(url: str = REDIS_URL) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1.0):
            return True
    except OSError:
        return False


def _die_with_parent() -> None:
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


@dataclass
class LiveWorker:
    proc: subprocess.Popen[bytes]
    queue: str
    logfile: Path
    sent: list[str] = field(default_factory=list)
    outfile: Path | None = None  # the worker's stdout (the banner goes there, not to the log)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log(self) -> str:
        try:
            return self.logfile.read_text(errors="replace")
        except OSError:
            return ""

    def output(self) -> str:
        """What the worker wrote to stdout: the start-up banner."""
        try:
            return self.outfile.read_text(errors="replace") if self.outfile else ""
        except OSError:
            return ""

    def children(self) -> list[int]:
        import psutil

        try:
            return sorted(c.pid for c in psutil.Process(self.pid).children())
        except psutil.NoSuchProcess:
            return []

    def affinities(self) -> dict[int, list[int]]:
        """pid -> CPUs of each live child (read with psutil)."""
        import psutil

        out = {}
        for pid in self.children():
            with contextlib.suppress(psutil.NoSuchProcess):
                out[pid] = sorted(psutil.Process(pid).cpu_affinity() or [])
        return out

    def wait_children(
        self, n: int, timeout: float = 60.0, exclude: Sequence[int] = (), pinned: bool = True
    ) -> list[int]:
        """Wait until exactly ``n`` children are alive, none in ``exclude``, each on one CPU.

        A new child runs on the parent's CPUs until it is pinned (microseconds to a few ms
        after the fork), so a child seen too early is waited for.
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            aff = self.affinities()
            ready = not pinned or all(len(cpus) == 1 for cpus in aff.values())
            if len(aff) == n and not set(aff) & set(exclude) and ready:
                return sorted(aff)
            time.sleep(0.1)
        raise AssertionError(f"worker did not reach {n} children; log:\n{self.log()[-3000:]}")

    def send(self, name: str, args: Sequence[object], count: int = 1) -> None:
        for _ in range(count):
            app.send_task(
                name, args=list(args), queue=self.queue, exchange=self.queue, routing_key=self.queue
            )

    def stop(self) -> None:
        """Warm shutdown (SIGTERM), then SIGKILL of the whole process group."""
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=8)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=5)
        purge(self.queue)


def purge(queue: str) -> None:
    """Drop the queue's Redis keys (messages, bindings) left by a test."""
    try:
        import redis
    except ImportError:  # pragma: no cover
        return
    with contextlib.suppress(Exception):
        r = redis.Redis.from_url(REDIS_URL, socket_timeout=2)
        keys = [queue, f"_kombu.binding.{queue}", f"_kombu.binding_permanent.{queue}"]
        r.delete(*keys, *r.scan_iter(f"{queue}\x06*"))  # and any priority sub-queues


def worker_env(
    queue: str, settings: Mapping[str, object] = {}, extra: Mapping[str, str] = {}
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CELERY_TUNE_AFFINITY")}
    env.update(
        {
            "PYTHONPATH": os.pathsep.join([str(TESTS), str(ROOT)]),
            ENV_BROKER: REDIS_URL,
            ENV_QUEUE: queue,
            ENV_SETTINGS: ";".join(f"{k}={v!r}" for k, v in settings.items()),
        }
    )
    env.update(extra)
    return env


@contextlib.contextmanager
def start_worker(
    tmp: Path,
    args: Sequence[str] = (),
    settings: Mapping[str, object] = {},
    env: Mapping[str, str] = {},
    ready_timeout: float = 120.0,
) -> Iterator[LiveWorker]:
    """A running ``celery -A celery_live worker`` on a fresh queue; stopped on every path."""
    queue = f"celery-live-{uuid.uuid4().hex[:10]}"
    logfile = tmp / f"{queue}.log"
    outfile = tmp / f"{queue}.out"
    cmd = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "celery_live",
        "worker",
        "-l",
        "INFO",
        "--logfile",
        str(logfile),
        "-n",
        f"{queue}@%h",
        "-Q",
        queue,
        "--without-mingle",
        "--without-gossip",
        "--without-heartbeat",
        *args,
    ]
    with outfile.open("wb") as stdout:
        proc = subprocess.Popen(
            cmd,
            env=worker_env(queue, settings, env),
            cwd=tmp,
            stdout=stdout,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
    worker = LiveWorker(proc, queue, logfile, outfile=outfile)
    try:
        deadline = time.monotonic() + ready_timeout
        while " ready." not in worker.log():
            if proc.poll() is not None:
                raise AssertionError(f"worker exited ({proc.returncode}):\n{worker.log()[-3000:]}")
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"worker not ready in {ready_timeout}s:\n{worker.log()[-3000:]}"
                )
            time.sleep(0.1)
        yield worker
    finally:
        worker.stop()


def wait_for(predicate: object, timeout: float, what: str, interval: float = 0.1) -> None:
    assert callable(predicate)
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)
