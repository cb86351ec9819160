"""Round trip: what optimize emits is what it measured.

A real ``optimize`` run (tiny budget, a ``--config`` input with a time limit, a ``--fixed`` extra
setting) confirms a configuration.  Then two real workers are started on Redis (127.0.0.1:6379,
a db and queue of their own): one from the emitted module, merged into a user config exactly as
its docstring says, and one from ``worker-command.txt``.  Their effective settings are read back
from the running workers with remote control (``inspect conf`` and ``inspect stats``) and compared
with the settings the confirmed trial ran with, as recorded in the study.
"""

from __future__ import annotations

import ast
import io
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT
from tuner.bench.config import FIELD_SETTINGS
from tuner.commands.optimize import OptimizeOptions, optimize

pytestmark = pytest.mark.slow
REDIS_DB = 13
REDIS = f"redis://127.0.0.1:6379/{REDIS_DB}"
FIXED = ("worker_send_task_events=true",)
INPUT = """\
worker_concurrency = 1
worker_prefetch_multiplier = 1
task_time_limit = 30
"""
IMPLEMENTATIONS = {
    "prefork": "celery.concurrency.prefork:TaskPool",
    "processes": "celery.concurrency.prefork:TaskPool",
    "threads": "celery.concurrency.thread:TaskPool",
    "solo": "celery.concurrency.solo:TaskPool",
}


def redis_up() -> bool:
    import socket

    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=2):
            return True
    except OSError:
        return False


@pytest.fixture(scope="module")
def confirmed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """An optimize run whose pick was confirmed; its output directory and report."""
    base = tmp_path_factory.mktemp("roundtrip")
    config = base / "celeryconfig.py"
    config.write_text(INPUT)
    out = base / "out"
    err = io.StringIO()
    code = optimize(
        OptimizeOptions(
            out=str(out), config=str(config), fixed=FIXED, trials=3, confirm=2, seed=3,
            trial_seconds=1.5, warmup=0.5, probe=False,
        ),
        out=io.StringIO(),
        err=err,
    )  # fmt: skip
    assert code == 0, err.getvalue()
    report: dict[str, Any] = json.loads((out / "report.json").read_text())
    assert report["confirmation"]["confirmed"] is True
    return out, report


def trial_config(report: Mapping[str, Any]) -> dict[str, Any]:
    """The WorkerConfig the confirmed configuration ran with, as the study recorded it."""
    number = report["pick"]["trial"]
    trial = next(t for t in report["trials"] if t["number"] == number)
    config: dict[str, Any] = dict(trial["config"])
    assert config, trial
    return config


def ran_concurrency(config: Mapping[str, Any]) -> int:
    if config["pool"] == "solo":
        return 1
    value = config["concurrency"]
    return int(value) if value is not None else (os.cpu_count() or 1)


@contextmanager
def worker(args: list[str], cwd: Path, env: Mapping[str, str] = {}) -> Iterator[str]:
    """A real ``celery worker`` in its own process group; yields its node name; always stopped."""
    node = f"rt-{uuid.uuid4().hex[:8]}@localhost"
    environ = {**os.environ, **env}
    environ["PYTHONPATH"] = os.pathsep.join([str(cwd), str(ROOT)])
    log = open(cwd / f"{node.split('@')[0]}.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [*args, "-n", node, "--without-gossip", "--without-mingle", "-l", "WARNING"],
        cwd=cwd, env=environ, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        yield node
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            pass
        finally:
            with suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
            log.close()


def inspect(node: str, queue: str, deadline: float = 90.0) -> tuple[dict[str, Any], dict[str, Any]]:
    """``inspect conf`` (with defaults) and ``inspect stats`` of ``node``, once it answers."""
    from celery import Celery

    app = Celery("rt-probe", broker=REDIS, set_as_current=False)
    app.conf.task_default_queue = queue
    end = time.monotonic() + deadline
    try:
        while time.monotonic() < end:
            probe = app.control.inspect(destination=[node], timeout=2.0)
            stats = (probe.stats() or {}).get(node)
            if stats:
                conf = (probe.conf(with_defaults=True) or {}).get(node)
                assert conf, f"{node} answered stats but not conf"
                return conf, stats
            time.sleep(0.5)
    finally:
        app.close()
    raise AssertionError(f"worker {node} did not answer remote control within {deadline} s")


def check_stats(stats: Mapping[str, Any], config: Mapping[str, Any]) -> None:
    pool = stats["pool"]
    n = ran_concurrency(config)
    assert pool["max-concurrency"] == n
    implementation = IMPLEMENTATIONS.get(config["pool"], config["pool"])
    assert pool["implementation"] == implementation
    if not config["disable_prefetch"]:
        assert stats["prefetch_count"] == config["prefetch_multiplier"] * n
    if implementation.endswith("prefork:TaskPool"):
        limit = config["max_tasks_per_child"]
        assert pool["max-tasks-per-child"] == (limit if limit is not None else "N/A")


@pytest.mark.skipif(not redis_up(), reason="needs Redis on 127.0.0.1:6379")
def test_a_worker_from_the_emitted_module_runs_the_confirmed_settings(
    confirmed: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    out, report = confirmed
    config = trial_config(report)
    text = (out / "celeryconfig_tuned.py").read_text()
    shutil.copy(out / "celeryconfig_tuned.py", tmp_path / "celeryconfig_tuned.py")
    doc = ast.get_docstring(ast.parse(text), clean=False) or ""
    star = next(line[4:] for line in doc.splitlines() if line.startswith("    from "))
    queue = f"rt-module-{uuid.uuid4().hex[:8]}"
    # The user's own config (a broker, their queue), with the docstring's line at its end.
    (tmp_path / "celeryconfig_user.py").write_text(
        f"broker_url = {REDIS!r}\ntask_default_queue = {queue!r}\n"
        "worker_hijack_root_logger = False\n" + star + "\n"
    )
    (tmp_path / "rt_app.py").write_text(
        "from celery import Celery\n"
        "app = Celery('rt')\n"
        "app.config_from_object('celeryconfig_user')\n"
    )
    args = [sys.executable, "-m", "celery", "-A", "rt_app", "worker", "-Q", queue]
    with worker(args, tmp_path) as node:
        conf, stats = inspect(node, queue)
    assert conf["broker_url"].endswith(f"/{REDIS_DB}")  # the user's broker is kept
    check_stats(stats, config)
    # Every setting the confirmed trial ran with, read back from the running worker.
    ran: dict[str, Any] = {FIELD_SETTINGS[k]: config[k] for k in FIELD_SETTINGS}
    ran["worker_concurrency"] = ran_concurrency(config)
    if config["pool"] in ("gevent", "eventlet"):
        del ran["worker_pool"]  # -P only
    if not config["acks_late"]:
        ran.pop("task_reject_on_worker_lost")  # not emitted: it only matters with late acks
    if not config["disable_prefetch"]:
        ran.pop("worker_disable_prefetch")
    if config["pool"] not in IMPLEMENTATIONS or config["pool"] in ("threads", "solo"):
        ran.pop("worker_max_tasks_per_child", None)
        ran.pop("worker_max_memory_per_child", None)
    if ran.get("worker_max_memory_per_child") is None:
        ran.pop("worker_max_memory_per_child", None)
    ran.update(config["extra"])
    assert ran["worker_send_task_events"] is True  # --fixed: every trial, baselines too
    picked = next(t for t in report["trials"] if t["number"] == report["pick"]["trial"])
    # The input config's own settings ride along with every trial but Celery's defaults.
    carried = None if picked["baseline"] == "celery-default" else 30
    assert ran.get("task_time_limit") == carried
    for key, value in ran.items():
        if key == "task_reject_on_worker_lost" and value is None:
            value = False  # emitted explicitly: None and False both ack a lost task
        assert conf[key] == value, key
    assert report["pick"]["settings"] == {k: conf[k] for k in report["pick"]["settings"]}


@pytest.mark.skipif(not redis_up(), reason="needs Redis on 127.0.0.1:6379")
def test_a_worker_from_worker_command_txt_runs_the_confirmed_settings(
    confirmed: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    out, report = confirmed
    config = trial_config(report)
    line = (out / "worker-command.txt").read_text().splitlines()[0]
    words = shlex.split(line, comments=True)
    env = {}
    while "=" in words[0]:
        key, _, value = words.pop(0).partition("=")
        env[key] = value
    assert words[:2] == ["celery", "-A"] and words[3] == "worker"
    queue = f"rt-command-{uuid.uuid4().hex[:8]}"
    (tmp_path / "rt_plain.py").write_text(
        f"from celery import Celery\napp = Celery('rt', broker={REDIS!r})\n"
        f"app.conf.task_default_queue = {queue!r}\napp.conf.worker_hijack_root_logger = False\n"
    )
    args = [sys.executable, "-m", "celery", "-A", "rt_plain", *words[3:], "-Q", queue]
    with worker(args, tmp_path, env) as node:
        _, stats = inspect(node, queue)
    check_stats(stats, config)
