"""The exporter in real workers: every pool, dead children, the directory, prefetch hoarding."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

import tuner.metrics  # noqa: F401  (the test process is the producer: it stamps send times)
from tests.metrics.harness import start_metrics_worker, wait_value
from tuner.bench.tasks import BURN, FAIL, NAP
from tuner.metrics.registry import served_names

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("live")]

AFFINITY = {"CELERY_CUSTOM_WORKER_POOL": "tuner.pools:AffinityPool"}
POOLS = {
    "prefork": (["-P", "prefork", "-c", "2"], {}),
    "threads": (["-P", "threads", "-c", "2"], {}),
    "solo": (["-P", "solo"], {}),
    "affinity": (["-P", "custom", "-c", "2"], AFFINITY),
}


@pytest.mark.parametrize("pool", sorted(POOLS))
def test_every_pool_counts_tasks(tmp_path: Path, pool: str) -> None:
    args, env = POOLS[pool]
    n_ok, n_fail = 6, 2
    with start_metrics_worker(tmp_path, args, env=env) as mw:
        mw.worker.send(BURN, [0.02], count=n_ok)
        mw.worker.send(FAIL, [0.0], count=n_fail)
        wait_value(mw, "celery_task_failed_total", n_fail)
        wait_value(mw, "celery_task_succeeded_total", n_ok)
        q = mw.worker.queue
        assert mw.total("celery_task_received_total", queue_name=q) == n_ok + n_fail
        assert mw.total("celery_task_started_total", name=BURN, queue_name=q) == n_ok
        assert mw.total("celery_task_succeeded_total", name=BURN) == n_ok
        assert mw.total("celery_task_failed_total", name=FAIL) == n_fail
        assert mw.total("celery_task_runtime_count", name=BURN) == n_ok
        # every task was stamped by this process when sent, so each has a queue wait
        assert mw.total("celery_task_queue_wait_seconds_count") == n_ok + n_fail
        hostnames = {s.labels["hostname"] for s in mw.series("celery_task_started_total")}
        assert len(hostnames) == 1 and hostnames.pop().startswith(f"{q}@")
        rss = mw.series("celery_worker_process_resident_memory_bytes")
        assert all(s.value > 1_000_000 for s in rss)
        pids = {int(s.labels["pid"]) for s in rss}
        gil = {int(s.labels["pid"]) for s in mw.series("celery_worker_gil_busy_seconds_total")}
        if pool in ("prefork", "affinity"):
            children = set(mw.worker.children())
            assert len(children) == 2 and pids == children | {mw.worker.pid}
            assert {s.name for s in mw.scrape()} <= served_names()
            assert gil and gil <= children  # sampled in the children, started after the fork
        else:
            assert pids == gil == {mw.worker.pid}
        assert mw.total("celery_worker_cpu_seconds_total") > 0
        assert mw.total("celery_worker_up") == 1


def test_dead_children_are_marked_and_counted(tmp_path: Path) -> None:
    """Children replaced after max-tasks-per-child, and one killed with SIGKILL in a task: their
    live gauges go away (mark_process_dead), each counts as a restart, their counts stay, and the
    lost task counts as failed on its queue."""
    args = ["-P", "prefork", "-c", "1"]
    with start_metrics_worker(tmp_path, args, {"worker_max_tasks_per_child": 2}) as mw:
        mw.worker.send(BURN, [0.01], count=4)
        wait_value(mw, "celery_task_succeeded_total", 4)
        wait_value(mw, "celery_worker_child_restarts_total", 2)
        mw.worker.send(NAP, [120.0])
        wait_value(mw, "celery_worker_tasks_active", 1)
        first = mw.worker.wait_children(1, pinned=False)
        os.kill(first[0], signal.SIGKILL)  # with a task in it: WorkerLostError, in the parent
        mw.worker.wait_children(1, exclude=first, pinned=False)
        wait_value(mw, "celery_worker_child_restarts_total", 3)
        wait_value(mw, "celery_task_failed_total", 1, name=NAP, queue_name=mw.worker.queue)
        alive = set(mw.worker.children()) | {mw.worker.pid}
        pids = {
            int(s.labels["pid"]) for s in mw.series("celery_worker_process_resident_memory_bytes")
        }
        assert pids <= alive, (pids, alive)
        assert mw.total("celery_task_succeeded_total") == 4  # counters of dead children kept


def test_directory_is_cleaned_on_start_and_kept(tmp_path: Path) -> None:
    directory = tmp_path / "prom"
    directory.mkdir()
    stale = directory / "counter_4194000.db"
    stale.write_bytes(b"\0" * 16)
    settings = {"metrics_multiproc_dir": str(directory)}
    with start_metrics_worker(tmp_path, ["-P", "solo"], settings) as mw:
        assert not stale.exists()
        mw.worker.send(BURN, [0.0], count=1)
        wait_value(mw, "celery_task_succeeded_total", 1)
        assert any(p.name.endswith(f"_{mw.worker.pid}.db") for p in directory.iterdir())
    assert directory.exists()  # the user's directory is cleaned, not removed


def test_own_temp_directory_is_removed(tmp_path: Path) -> None:
    with start_metrics_worker(tmp_path, ["-P", "threads", "-c", "1"]) as mw:
        line = next(x for x in mw.worker.log().splitlines() if "multiprocess dir" in x)
        directory = Path(line.rsplit("multiprocess dir ", 1)[1].rstrip(")"))
        assert directory.is_dir()
    assert not directory.exists()


def test_reserved_not_started(tmp_path: Path) -> None:
    """One child, prefetch 4: while it sleeps in the first task, the others wait in the worker."""
    args = ["-P", "prefork", "-c", "1"]
    with start_metrics_worker(tmp_path, args, {"worker_prefetch_multiplier": 4}) as mw:
        mw.worker.send(NAP, [60.0], count=4)
        wait_value(mw, "celery_worker_tasks_active", 1)
        wait_value(mw, "celery_worker_tasks_reserved", 3)
        assert mw.total("celery_task_received_total") == 4
        assert mw.total("celery_task_started_total") == 1


def test_enabled_from_configuration_alone(tmp_path: Path) -> None:
    """``include = ["tuner.metrics.auto"]`` in the config of an app without the bootstep line."""
    from tests.metrics.harness import start_metrics_worker as start

    settings = {"include": ["tuner.metrics.auto"]}
    with start(tmp_path, ["-P", "solo"], settings, app="celery_live") as mw:
        mw.worker.send(BURN, [0.0], count=2)
        wait_value(mw, "celery_task_succeeded_total", 2)


def test_gil_wait_on_threads_and_not_in_prefork_children(tmp_path: Path) -> None:
    """Two pure-Python tasks at once on threads wait for the GIL; prefork children never do,
    though their GIL is busy."""
    for args in (["-P", "threads", "-c", "2"], ["-P", "prefork", "-c", "2"]):
        with start_metrics_worker(tmp_path, args) as mw:
            mw.worker.send(BURN, [0.5], count=6)
            wait_value(mw, "celery_task_succeeded_total", 6)
            wait_value(mw, "celery_worker_gil_busy_seconds_total", 0.5)
            wait = mw.total("celery_worker_gil_wait_seconds_total")
            if args[1] == "threads":
                wait_value(mw, "celery_worker_gil_wait_seconds_total", 0.2)
            else:
                assert wait == 0.0
