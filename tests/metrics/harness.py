"""Live workers with the exporter, scrapes of their ``/metrics``, and a real Prometheus."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import celery_live  # type: ignore[import-not-found, unused-ignore]
from celery_live import LiveWorker, worker_env  # type: ignore[import-not-found, unused-ignore]

HERE = Path(__file__).resolve().parent
SERVING = re.compile(r"tuner\.metrics: serving http://([\d.]+):(\d+)/metrics")
SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)$")
LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


@dataclass(frozen=True)
class Sample:
    name: str
    labels: dict[str, str]
    value: float


def parse(text: str) -> list[Sample]:
    out = []
    for line in text.splitlines():
        m = SAMPLE.match(line.strip())
        if m and not line.startswith("#"):
            labels = dict(LABEL.findall(m.group(2) or ""))
            out.append(Sample(m.group(1), labels, float(m.group(3))))
    return out


@dataclass
class MetricsWorker:
    worker: LiveWorker
    url: str

    def scrape(self) -> list[Sample]:
        with urllib.request.urlopen(self.url, timeout=10) as r:
            return parse(r.read().decode())

    def total(self, metric: str, /, **labels: str) -> float:
        return sum(
            s.value
            for s in self.scrape()
            if s.name == metric and all(s.labels.get(k) == v for k, v in labels.items())
        )

    def series(self, name: str) -> list[Sample]:
        return [s for s in self.scrape() if s.name == name]


@contextlib.contextmanager
def start_metrics_worker(
    tmp: Path,
    args: Sequence[str] = (),
    settings: Mapping[str, object] = {},
    env: Mapping[str, str] = {},
    ready_timeout: float = 120.0,
    app: str = "metrics_app",
) -> Iterator[MetricsWorker]:
    """``celery -A metrics_app worker`` on a fresh queue, exporter on an ephemeral port."""
    queue = f"celery-metrics-{uuid.uuid4().hex[:10]}"
    logfile = tmp / f"{queue}.log"
    conf = {"metrics_port": 0, "metrics_addr": "127.0.0.1", **settings}
    full_env = worker_env(queue, conf, env)
    full_env["PYTHONPATH"] = os.pathsep.join([str(HERE), full_env["PYTHONPATH"]])
    cmd = [
        sys.executable, "-m", "celery", "-A", app, "worker", "-l", "INFO",
        "--logfile", str(logfile), "-n", f"{queue}@%h", "-Q", queue,
        "--without-mingle", "--without-gossip", "--without-heartbeat", *args,
    ]  # fmt: skip
    proc = subprocess.Popen(
        cmd,
        env=full_env,
        cwd=tmp,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        preexec_fn=celery_live._die_with_parent,
    )
    worker = LiveWorker(proc, queue, logfile)
    try:
        deadline = time.monotonic() + ready_timeout
        while " ready." not in worker.log():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"worker not ready ({proc.poll()}):\n{worker.log()[-3000:]}")
            time.sleep(0.1)
        m = SERVING.search(worker.log())
        assert m, f"no 'serving' line in the log:\n{worker.log()[-3000:]}"
        yield MetricsWorker(worker, f"http://{m.group(1)}:{m.group(2)}/metrics")
    finally:
        worker.stop()


def wait_value(
    mw: MetricsWorker, metric: str, at_least: float, /, timeout: float = 120.0, **labels: str
) -> float:
    deadline = time.monotonic() + timeout
    value = 0.0
    while time.monotonic() < deadline:
        value = mw.total(metric, **labels)
        if value >= at_least:
            return value
        time.sleep(0.2)
    raise AssertionError(
        f"{metric} stayed at {value} < {at_least} for {timeout}s; log:\n{mw.worker.log()[-3000:]}"
    )


# --- a real Prometheus server ---------------------------------------------------------------


def prometheus_binary() -> str | None:
    return shutil.which("prometheus")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Prometheus:
    proc: subprocess.Popen[bytes]
    url: str
    logfile: Path

    def query(self, expr: str) -> list[dict[str, object]]:
        q = urllib.parse.urlencode({"query": expr})
        with urllib.request.urlopen(f"{self.url}/api/v1/query?{q}", timeout=10) as r:
            body = json.loads(r.read())
        assert body["status"] == "success", body
        return list(body["data"]["result"])

    def value(self, expr: str) -> float | None:
        result = self.query(expr)
        return float(result[0]["value"][1]) if result else None  # type: ignore[index]


@contextlib.contextmanager
def start_prometheus(
    tmp: Path, targets: Sequence[str], timeout: float = 90.0
) -> Iterator[Prometheus]:
    """Our own Prometheus on a loopback port, temp config and storage; stopped on every path."""
    binary = prometheus_binary()
    assert binary is not None
    port = free_port()
    config = tmp / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        "scrape_configs:\n  - job_name: celery\n    static_configs:\n"
        f"      - targets: {json.dumps(list(targets))}\n"
    )
    logfile = tmp / "prometheus.log"
    with open(logfile, "wb") as log:
        proc = subprocess.Popen(
            [
                binary,
                f"--config.file={config}",
                f"--storage.tsdb.path={tmp / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--storage.tsdb.retention.time=1h",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=celery_live._die_with_parent,
        )
    prom = Prometheus(proc, f"http://127.0.0.1:{port}", logfile)
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"prometheus not ready:\n{logfile.read_text()[-3000:]}")
            with (
                contextlib.suppress(OSError, urllib.error.URLError),
                urllib.request.urlopen(f"{prom.url}/-/ready", timeout=2) as r,
            ):
                if r.status == 200:
                    break
            time.sleep(0.2)
        yield prom
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
