"""Real workers on the embedded broker: correctness of what is measured."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tests.bench.conftest import QUICK, wait_gone
from tuner.bench.broker import Broker
from tuner.bench.config import WorkerConfig
from tuner.bench.load import LoadSpec
from tuner.bench.runner import run_config, run_many
from tuner.bench.workloads import preset

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("pool", ["prefork", "threads", "solo"])
def test_nothing_is_lost_under_each_pool(pool: str) -> None:
    work = preset("cpu", scale=0.2)  # 10 ms tasks
    phases: list[tuple[str, float]] = []
    result = run_config(
        WorkerConfig(label=pool, pool=pool, concurrency=2), work, QUICK, Broker(),
        progress=lambda phase, fraction: phases.append((phase, fraction)),
    )  # fmt: skip
    seen = list(dict.fromkeys(p for p, _ in phases))
    assert seen == ["starting", "warm-up", "measuring", "draining", "stopping"]
    assert [f for _, f in phases] == sorted(f for _, f in phases)
    m = result.metrics
    assert m.tasks_sent >= 40
    assert (m.tasks_done, m.tasks_failed, m.tasks_lost) == (m.tasks_sent, 0, 0)
    assert m.tasks_measured == 40
    assert m.throughput > 0 and 0 < m.p50 <= m.p90 <= m.p99 <= m.max
    assert m.run_p99 >= 0.005 and m.cpu_util > 0 and m.rss_peak_mb > 20
    assert m.efficiency is not None and 0 < m.efficiency <= 1.2
    assert m.task_cpu_mean is not None and 0.003 < m.task_cpu_mean < 0.05
    assert m.child_restarts == 0
    assert wait_gone(result.worker_pids, within=30.0) == []


def test_leaky_workload_shows_recycling_only_with_a_memory_limit() -> None:
    work = preset("leaky")  # each task keeps 1 MiB in its child; a fresh child is ~40 MiB
    load = replace(QUICK, tasks=60)
    free = run_config(WorkerConfig(label="no-limit", concurrency=2), work, load, Broker())
    capped = run_config(
        WorkerConfig(label="capped", concurrency=2, max_memory_per_child=60_000),
        work,
        load,
        Broker(),
    )
    assert free.metrics.child_restarts == 0
    assert capped.metrics.child_restarts >= 2
    assert capped.metrics.tasks_lost == free.metrics.tasks_lost == 0
    assert capped.metrics.rss_peak_mb < free.metrics.rss_peak_mb


def test_open_loop_p99_grows_as_load_approaches_capacity() -> None:
    work = preset("cpu", scale=0.5)  # 25 ms tasks: capacity 2 CPUs / 25 ms = 80 tasks/s
    capacity = 2 / 0.025
    config = WorkerConfig(concurrency=2, prefetch_multiplier=1)
    figures = {}
    for load in (0.3, 0.9):
        spec = LoadSpec(rate=load * capacity, warmup=0.5, duration=4.0, seed=1)
        result = run_config(config, work, spec, Broker(), cpus=2.0)
        assert result.metrics.tasks_lost == 0
        figures[load] = result.metrics
    low, high = figures[0.3], figures[0.9]
    assert high.p99 > low.p99
    assert high.queue_wait_p99 > low.queue_wait_p99
    assert high.tasks_measured > 2 * low.tasks_measured  # open loop: sends at the offered rate


def test_several_nodes_share_the_queue() -> None:
    work = preset("cpu", scale=0.2)
    load = replace(QUICK, tasks=60)
    result = run_config(WorkerConfig(concurrency=1), work, load, Broker(), nodes=2)
    assert len(result.worker_pids) == 2
    assert result.metrics.tasks_lost == 0
    assert sum(result.tasks_per_node) == result.metrics.tasks_done
    assert all(n > 0 for n in result.tasks_per_node)


def test_run_many_interleaves_and_shares_one_rate() -> None:
    work = preset("cpu", scale=0.2)
    a = WorkerConfig(label="a", concurrency=1)
    b = WorkerConfig(label="b", concurrency=2)
    load = LoadSpec(load=0.5, warmup=0.2, duration=None, tasks=20)
    seen: list[str] = []
    results = run_many(
        [a, b],
        work,
        load,
        Broker(),
        repeat=2,
        cpus=2.0,
        on_result=lambda r: seen.append(r.config.label),
    )
    assert seen == ["a", "b", "a", "b"]
    assert [r.repeat for r in results] == [0, 0, 1, 1]
    rates = {r.load.rate for r in results}
    assert len(rates) == 1 and rates.pop() == pytest.approx(0.5 * 2 / 0.01)


def test_a_run_offered_twice_what_it_can_serve_is_flagged_overloaded() -> None:
    # Sleep-bound 50 ms tasks, one child: it serves 20/s whatever else the machine runs.
    work = preset("io")
    config = WorkerConfig(pool="solo", concurrency=1, prefetch_multiplier=1)
    spec = LoadSpec(rate=40.0, warmup=0.5, duration=3.0, seed=2)
    m = run_config(config, work, spec, Broker(), cpus=2.0).metrics
    assert m.overloaded, m
    assert m.offered_rate is not None and m.served_rate is not None
    assert m.served_rate < 0.9 * m.offered_rate
    assert m.overload_text().startswith(f"served {m.served_rate:.1f} of ")
    assert m.tasks_lost == 0 and m.tasks_censored == 0  # the drain waited for the backlog
    # A tenth of the load is served as offered.
    calm = run_config(config, work, replace(spec, rate=4.0), Broker(), cpus=2.0).metrics
    assert not calm.overloaded and calm.offered_rate is not None
