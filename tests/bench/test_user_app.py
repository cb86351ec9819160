"""The user's own app and tasks: ``--app module:app --task name --args-file``, workload TOML."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from tuner.bench.broker import Broker
from tuner.bench.config import WorkerConfig
from tuner.bench.errors import BenchError
from tuner.bench.load import LoadSpec
from tuner.bench.runner import run_config
from tuner.bench.workloads import load_workload, resolve

pytestmark = pytest.mark.slow
LOAD = LoadSpec(mode="saturate", warmup=0.2, duration=None, tasks=30)

APP = """
import os
from celery import Celery

app = Celery("userapp", broker="redis://127.0.0.1:1/0")  # replaced by the bench
app.conf.task_acks_late = True  # replaced too: the measured config decides
app.conf.worker_concurrency = 7

@app.task(name="userapp.add")
def add(x, y, z=0):
    return x + y + z

@app.task(name="userapp.boom")
def boom():
    raise ValueError("on purpose")
"""


@pytest.fixture
def user_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    module = f"benchapp_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{module}.py").write_text(APP)
    monkeypatch.chdir(tmp_path)  # the worker finds the app from the bench's working directory
    return f"{module}:app"


def test_user_task_with_args_file(user_app: str, tmp_path: Path) -> None:
    args = tmp_path / "args.jsonl"
    args.write_text('[1, 2]\n{"args": [3, 4], "kwargs": {"z": 5}}\n')
    work = resolve("cpu", app=user_app, task="userapp.add", args_file=str(args))
    result = run_config(WorkerConfig(concurrency=2), work, LOAD, Broker())
    m = result.metrics
    assert m.tasks_sent >= 30 and m.tasks_done == m.tasks_sent and m.tasks_lost == 0
    # The config's concurrency, not the app's 7: two children, no restarts.
    assert result.concurrency == 2 and m.child_restarts == 0


def test_unknown_task_is_a_clear_error(user_app: str) -> None:
    work = resolve("cpu", app=user_app, task="userapp.nope")
    with pytest.raises(BenchError, match=r"does not know task 'userapp\.nope'"):
        run_config(WorkerConfig(concurrency=1), work, LOAD, Broker())


def test_workload_file_mixing_tasks_that_fail_on_purpose(user_app: str, tmp_path: Path) -> None:
    path = tmp_path / "mix.toml"
    path.write_text(
        f'app = "{user_app}"\nkind = "cpu"\nexpect_failures = true\n\n'
        '[[task]]\nname = "userapp.add"\nargs = [[1, 2]]\nweight = 3\n\n'
        '[[task]]\nname = "userapp.boom"\nweight = 1\n'
    )
    work = load_workload(str(path))
    result = run_config(WorkerConfig(concurrency=2), work, LOAD, Broker())
    m = result.metrics
    assert m.tasks_failed > 0 and m.tasks_done > m.tasks_failed
    assert m.tasks_done + m.tasks_failed == m.tasks_sent and m.tasks_lost == 0
