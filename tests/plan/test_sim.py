"""The simulation against closed-form M/M/c results (Erlang C), and the prefetch model."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tuner.plan.sim import (
    Fleet,
    Replay,
    ServiceModel,
    erlang_c,
    mmc_mean_wait,
    simulate,
    small_sample_quantile,
)

# Exponential service times with mean 1/mu, replayed from a large sample.
SAMPLE = np.random.default_rng(12345).exponential(1.0, size=200_000)


def exp_service(mu: float) -> ServiceModel:
    return ServiceModel(samples=(SAMPLE / mu).tolist())


def test_erlang_c_known_values() -> None:
    # M/M/1: P(wait) = rho.  M/M/2 with a = 1: C = 1/3 (a^2/2 / (1 - 1/2) = 1; 1 / (1 + 1 + 1)).
    assert erlang_c(0.5, 1.0, 1) == pytest.approx(0.5)
    assert erlang_c(1.0, 1.0, 2) == pytest.approx(1 / 3)
    assert mmc_mean_wait(0.5, 1.0, 1) == pytest.approx(1.0)  # rho / (mu - lambda)
    assert erlang_c(5.0, 1.0, 4) == 1.0
    assert math.isinf(mmc_mean_wait(5.0, 1.0, 4))
    # Large c stays finite (no factorial overflow).
    assert 0 < erlang_c(190.0, 1.0, 200) < 1


# (lambda, mu, c): light, medium and heavy load, one server and several.
POINTS = [(0.5, 1.0, 1), (3.0, 1.0, 4), (7.0, 1.0, 8), (14.0, 2.0, 8), (16.0, 10.0, 2)]


@pytest.mark.parametrize(("lam", "mu", "c"), POINTS)
def test_sim_matches_erlang_c(lam: float, mu: float, c: int) -> None:
    """No prefetch window beyond the children (one central FIFO queue): the fleet is M/M/c.

    Tolerance: averages of 3 runs (seeds 1-3) of 100k tasks each: P(wait) within 0.03 absolute,
    mean wait within 12% (or 0.01/mu absolute when the wait is tiny).  Single runs at rho = 0.875
    spread about +-10% around the closed form (autocorrelated waits), hence the averaging.
    """
    fleet = Fleet(nodes=1, concurrency=c, disable_prefetch=True)
    runs = [simulate(fleet, exp_service(mu), lam, tasks=100_000, seed=s) for s in (1, 2, 3)]
    p_wait = float(np.mean([r.wait_probability for r in runs]))
    mean_wait = float(np.mean([r.mean_wait for r in runs]))
    assert p_wait == pytest.approx(erlang_c(lam, mu, c), abs=0.03)
    assert mean_wait == pytest.approx(mmc_mean_wait(lam, mu, c), rel=0.12, abs=0.01 / mu)
    for r in runs:
        assert r.throughput == pytest.approx(lam, rel=0.03)
        assert r.utilisation == pytest.approx(lam / (c * mu), rel=0.03)


def test_nodes_without_prefetch_pool_into_one_mmc() -> None:
    """4 nodes x 2 children fetching only when idle = one M/M/8 queue."""
    lam, mu = 6.0, 1.0
    res = simulate(Fleet(4, 2, disable_prefetch=True), exp_service(mu), lam, tasks=100_000, seed=3)
    assert res.wait_probability == pytest.approx(erlang_c(lam, mu, 8), abs=0.03)
    assert res.mean_wait == pytest.approx(mmc_mean_wait(lam, mu, 8), rel=0.12)


def test_prefetch_strands_tasks_behind_busy_children() -> None:
    """With a large prefetch window on several nodes, tasks wait on a busy node while another is
    idle: the wait is longer than the pooled M/M/c queue's."""
    lam, mu = 6.0, 1.0
    svc = exp_service(mu)
    pooled = simulate(Fleet(4, 2, disable_prefetch=True), svc, lam, tasks=50_000, seed=3)
    hoard = simulate(Fleet(4, 2, prefetch_multiplier=4), svc, lam, tasks=50_000, seed=3)
    assert hoard.mean_wait > 1.3 * pooled.mean_wait


def test_late_acks_count_running_tasks_in_the_window() -> None:
    # One node, one child, multiplier 1: with late acks the node holds only the running task,
    # so an idle second node gets the next one; with early acks it reserves one more.
    svc = ServiceModel(samples=[1.0])
    early = simulate(Fleet(2, 1, prefetch_multiplier=1), svc, 1.5, tasks=20_000, seed=1)
    late = simulate(Fleet(2, 1, prefetch_multiplier=1, acks_late=True), svc, 1.5, tasks=20_000)
    assert late.mean_wait < early.mean_wait


def test_slowdown_and_overhead_set_the_capacity() -> None:
    svc = ServiceModel(samples=[0.1], overhead=0.01, slowdown=lambda n: 1 + 0.5 * (n - 1))
    fleet = Fleet(1, 3, disable_prefetch=True)
    # 3 children, each task 0.1 x 2.0 s at 3 busy, then 0.01 s of overhead: 3 / 0.21 tasks/s.
    assert svc.capacity(fleet) == pytest.approx(3 / 0.21)
    res = simulate(fleet, svc, 30.0, tasks=20_000, seed=2)  # above capacity: saturated
    assert not res.stable
    assert res.throughput == pytest.approx(3 / 0.21, rel=0.05)


def test_shared_host_counts_busy_children_fleet_wide() -> None:
    slow = ServiceModel(samples=[0.1], slowdown=lambda n: float(n), shared_host=True)
    apart = ServiceModel(samples=[0.1], slowdown=lambda n: float(n))
    fleet = Fleet(2, 1, disable_prefetch=True)
    assert slow.capacity(fleet) == pytest.approx(10.0)  # 2 children, each twice as slow
    assert apart.capacity(fleet) == pytest.approx(20.0)


def test_dispatch_delay_adds_to_latency() -> None:
    base = ServiceModel(samples=[0.05])
    res0 = simulate(Fleet(1, 4), base, 1.0, tasks=2_000)
    res1 = simulate(Fleet(1, 4), ServiceModel(samples=[0.05], dispatch=0.02), 1.0, tasks=2_000)
    assert res1.p50 == pytest.approx(res0.p50 + 0.02)


def test_same_seed_same_result() -> None:
    svc = exp_service(1.0)
    a = simulate(Fleet(2, 2), svc, 3.0, tasks=5_000, seed=11)
    b = simulate(Fleet(2, 2), svc, 3.0, tasks=5_000, seed=11)
    assert a.p99 == b.p99 and a.mean_wait == b.mean_wait


def test_bad_input() -> None:
    with pytest.raises(ValueError):
        simulate(Fleet(0, 1), exp_service(1.0), 1.0)
    with pytest.raises(ValueError):
        simulate(Fleet(1, 1), exp_service(1.0), 0.0)
    with pytest.raises(ValueError):
        simulate(Fleet(1, 1), ServiceModel(samples=[]), 1.0)


def test_processor_sharing_slows_a_task_only_while_it_has_neighbours() -> None:
    """Slowdown k with k busy: a 1 s task alone takes 1 s; two started together both take 2 s;
    a 1 s task next to a 0.1 s one takes 0.1 x 2 + 0.9 = 1.1 s (not 2 s: the slowdown is not
    fixed at its start)."""
    svc = ServiceModel(samples=[1.0], slowdown=lambda k: float(k))
    alone = simulate(Fleet(1, 2, disable_prefetch=True), svc, 0.001, tasks=50)
    assert alone.p50 == pytest.approx(1.0)
    # Two tasks at once on a node of two children: find a seed that draws one short, one long.
    mixed = ServiceModel(samples=[0.1, 1.0], slowdown=lambda k: float(k))
    lat = _one_short_one_long(mixed, 1000.0)
    assert lat[0] == pytest.approx(0.2, abs=0.01)
    assert lat[1] == pytest.approx(1.1, abs=0.01)


def _one_short_one_long(svc: ServiceModel, rate: float) -> list[float]:
    """Latencies of two tasks started together on a node of two children, from the first seed
    that draws one short and one long task."""
    fleet = Fleet(1, 2, disable_prefetch=True)
    for seed in range(20):
        res = simulate(fleet, svc, rate, tasks=2, warmup=0.0, seed=seed)
        lat = sorted(res.latencies.tolist())
        if lat[0] < 0.5 < lat[1]:
            return lat
    pytest.fail("no seed drew one short and one long task")


# --- CPU sharing on a host ----------------------------------------------------------------------


def cpu_service(
    runs: list[float], cpu: list[float], cpus: float, *, shared: bool = True
) -> ServiceModel:
    return ServiceModel(samples=runs, cpu=cpu, cpus=cpus, shared_host=shared)


def burst(fleet: Fleet, svc: ServiceModel, n: int) -> list[float]:
    """Latencies of ``n`` tasks that arrive (almost) at once on an idle fleet."""
    res = simulate(fleet, svc, 1e6, tasks=n, warmup=0.0, seed=1)
    return sorted(res.latencies.tolist())


def test_three_single_child_nodes_share_two_cpus() -> None:
    """3 busy CPU-bound processes on 2 CPUs each run at 2/3 speed (Linux CFS): three 1 s tasks
    started together all end at 1.5 s; saturated, the host does 2 CPU-seconds of work per second."""
    svc = cpu_service([1.0], [1.0], 2.0)
    fleet = Fleet(3, 1, prefetch_multiplier=1, acks_late=True)
    assert burst(fleet, svc, 3) == pytest.approx([1.5, 1.5, 1.5], abs=1e-4)
    assert svc.capacity(fleet) == pytest.approx(2.0, rel=0.01)
    # Two of them have a CPU each: not slowed.
    assert burst(Fleet(2, 1, prefetch_multiplier=1, acks_late=True), svc, 2) == pytest.approx(
        [1.0, 1.0], abs=1e-4
    )
    # On machines of their own, three nodes do three tasks a second.
    apart = cpu_service([1.0], [1.0], 2.0, shared=False)
    assert apart.capacity(fleet) == pytest.approx(3.0, rel=0.01)
    assert burst(fleet, apart, 3) == pytest.approx([1.0, 1.0, 1.0], abs=1e-4)


def test_sleeping_work_is_not_slowed_by_neighbours() -> None:
    """io: no CPU part, so 3 children on 1 CPU do not slow each other at all."""
    svc = cpu_service([0.05], [0.0], 1.0)
    fleet = Fleet(3, 1, prefetch_multiplier=1, acks_late=True)
    assert burst(fleet, svc, 3) == pytest.approx([0.05] * 3, abs=1e-4)
    assert svc.capacity(fleet) == pytest.approx(60.0, rel=0.01)


def test_only_the_cpu_part_of_mixed_work_contends() -> None:
    """mixed: 20 ms of CPU then a 30 ms wait.  Three at once on 1 CPU: the CPU parts share it
    (each at 1/3 speed, all done at 60 ms), the waits do not (all end at 90 ms); a USL-style
    slowdown of the whole run would stretch the waits too."""
    svc = cpu_service([0.05], [0.02], 1.0)
    assert burst(Fleet(3, 1, disable_prefetch=True), svc, 3) == pytest.approx([0.09] * 3, abs=1e-4)
    # Saturated: the CPU carries at most 50 tasks/s; in lockstep (all three in their CPU part,
    # then all three waiting) 3 tasks per 90 ms.
    cap = svc.capacity(Fleet(3, 1, disable_prefetch=True))
    assert 3 / 0.09 * 0.99 < cap <= 50.0


def test_a_task_slows_only_while_others_are_in_their_cpu_part() -> None:
    # One CPU; a 1 s CPU task and a 0.1 s CPU task start together: 0.2 s at half speed each, then
    # the long one alone: it ends at 0.2 + 0.9 = 1.1 s.
    svc = cpu_service([0.1, 1.0], [0.1, 1.0], 1.0, shared=False)
    lat = _one_short_one_long(svc, 1e6)
    assert lat == pytest.approx([0.2, 1.1], abs=1e-4)


def test_processor_sharing_matches_mm1_ps() -> None:
    """Many children on one CPU with exponential CPU work is M/M/1-PS: mean response 1/(mu-lam)
    (insensitive to the service distribution's shape).  Averages of 3 runs, within 10%."""
    lam, mu = 0.6, 1.0
    svc = cpu_service((SAMPLE / mu).tolist(), (SAMPLE / mu).tolist(), 1.0, shared=False)
    fleet = Fleet(1, 64, disable_prefetch=True)
    runs = [simulate(fleet, svc, lam, tasks=60_000, seed=s) for s in (1, 2, 3)]
    assert float(np.mean([r.mean_latency for r in runs])) == pytest.approx(1 / (mu - lam), rel=0.10)


@pytest.mark.parametrize("late", [True, False])
def test_three_single_child_nodes_on_two_cpus_are_mm2(late: bool) -> None:
    """3 nodes x 1 child on a 2-CPU host, exponential CPU work, one message per node: in state n
    the host completes at mu x min(n, 2) (min(n, 3) running share 2 CPUs), the M/M/2 chain, so the
    mean latency is M/M/2's wait + 1/mu (Little).  With early acks and multiplier 1 a node holds one
    more: still 2 CPUs serving, but the order differs; the mean is the same (work-conserving)."""
    lam, mu = 1.4, 1.0
    svc = cpu_service((SAMPLE / mu).tolist(), (SAMPLE / mu).tolist(), 2.0)
    fleet = Fleet(3, 1, prefetch_multiplier=1, acks_late=late)
    runs = [simulate(fleet, svc, lam, tasks=60_000, seed=s) for s in (1, 2, 3)]
    expected = mmc_mean_wait(lam, mu, 2) + 1 / mu
    assert float(np.mean([r.mean_latency for r in runs])) == pytest.approx(expected, rel=0.10)


def test_overhead_holds_the_child_but_is_not_latency() -> None:
    svc = ServiceModel(samples=[1.0], overhead=0.5)
    fleet = Fleet(1, 1, disable_prefetch=True)
    assert simulate(fleet, svc, 0.01, tasks=50).p50 == pytest.approx(1.0)
    assert svc.capacity(fleet) == pytest.approx(1 / 1.5)
    # Two at once: the second starts when the child is free again, at 1.5 s.
    assert burst(fleet, svc, 2) == pytest.approx([1.0, 2.5], abs=1e-4)


def test_weights_give_task_types_their_share() -> None:
    # Half the sample is long, but long tasks are 5% of the workload.
    svc = ServiceModel(samples=[0.02, 0.4], weights=[0.95, 0.05])
    assert svc.mean == pytest.approx(0.95 * 0.02 + 0.05 * 0.4)
    res = simulate(Fleet(1, 4), svc, 1.0, tasks=20_000, seed=4)
    assert float(np.mean(res.latencies > 0.3)) == pytest.approx(0.05, abs=0.01)


def test_small_sample_quantile_is_the_bench_estimator() -> None:
    from tuner.bench.quantiles import harrell_davis

    lat = np.random.default_rng(7).exponential(1.0, size=400)
    # One block of 400: exactly the bench's Harrell-Davis p99 of those 400.
    assert small_sample_quantile(lat, 400) == pytest.approx(harrell_davis(sorted(lat), 0.99))
    # Blocks of 50: the median of the 8 blocks' estimates.
    each = [harrell_davis(sorted(lat[i : i + 50]), 0.99) for i in range(0, 400, 50)]
    assert small_sample_quantile(lat, 50) == pytest.approx(float(np.median(each)))
    # A p99 of 50 exponential latencies is below the population's (ln 100 = 4.6) on the median.
    big = np.random.default_rng(8).exponential(1.0, size=100_000)
    assert small_sample_quantile(big, 50) < 0.9 * math.log(100)


def test_cpu_samples_must_pair() -> None:
    with pytest.raises(ValueError):
        ServiceModel(samples=[1.0, 2.0], cpu=[1.0], cpus=2.0)
    with pytest.raises(ValueError):
        ServiceModel(samples=[1.0], cpu=[1.0], cpus=0.0)


def test_the_workers_own_cpu_shares_the_cpus_but_holds_no_child() -> None:
    """One child, 1 s of CPU per task, and 0.5 s of the worker's own CPU after each task (the
    prefork parent): on 1 CPU the next task shares it with that job (B: 0.5 s at half speed, then
    0.5 s alone: it ends at 2.5 s), and the CPU carries 1 / 1.5 tasks/s; on 2 CPUs nothing waits."""
    one = ServiceModel(samples=[1.0], cpu=[1.0], cpus=1.0, overhead_cpu=0.5)
    fleet = Fleet(1, 1, disable_prefetch=True)
    assert burst(fleet, one, 2) == pytest.approx([1.0, 2.5], abs=1e-4)
    assert one.capacity(fleet) == pytest.approx(1 / 1.5, rel=0.01)
    two = ServiceModel(samples=[1.0], cpu=[1.0], cpus=2.0, overhead_cpu=0.5)
    assert burst(fleet, two, 2) == pytest.approx([1.0, 2.0], abs=1e-4)
    assert two.capacity(fleet) == pytest.approx(1.0, rel=0.01)


def test_stretch_slows_only_the_cpu_part() -> None:
    # mixed on 2 CPUs with 4 children busy: CPU parts at half speed, 20 -> 40 ms, waits as they
    # are: (40 + 30) / 50 = 1.4.  io: not slowed at all.
    assert cpu_service([0.05], [0.02], 2.0).stretch(4) == pytest.approx(1.4)
    assert cpu_service([0.05], [0.0], 2.0).stretch(16) == pytest.approx(1.0)
    usl = ServiceModel(samples=[0.05], slowdown=lambda k: float(k))
    assert usl.stretch(3) == pytest.approx(3.0)


def test_a_replay_of_the_poisson_draw_is_the_same_simulation() -> None:
    """Given the arrivals and picks simulate() would draw, a replay gives the very same run."""
    svc = ServiceModel(samples=[0.1, 0.2, 0.5], cpu=[0.05, 0.2, 0.1], cpus=2.0, dispatch=0.01)
    fleet, rate, tasks, seed = Fleet(2, 2, 1, True), 25.0, 3_000, 7
    rng = np.random.default_rng(seed)
    arrival = np.cumsum(rng.exponential(1.0 / rate, size=tasks))
    picks = rng.integers(0, 3, size=tasks)
    drawn = simulate(fleet, svc, rate, tasks=tasks, warmup=0.1, seed=seed)
    again = simulate(fleet, svc, rate, replay=Replay(arrival, picks, float(arrival[300])))
    assert again.tasks == drawn.tasks
    assert np.array_equal(again.latencies, drawn.latencies)
    assert again.p99 == drawn.p99 and again.throughput == drawn.throughput


def test_a_replayed_burst_queues_in_order() -> None:
    """Three 1 s tasks at t=0 on one child: done at 1, 2 and 3 s; only t >= 0.5 is measured."""
    svc = ServiceModel(samples=[1.0])
    res = simulate(
        Fleet(1, 1, 1, True), svc, 1.0,
        replay=Replay(np.array([0.0, 0.0, 0.0, 0.5]), np.zeros(4, dtype=int), measure_from=0.5),
    )  # fmt: skip
    assert res.tasks == 1
    assert res.latencies.tolist() == [pytest.approx(3.5)]  # waits for the three before it
    with pytest.raises(ValueError, match="as many sample picks"):
        Replay(np.array([0.0]), np.array([0, 0]))
