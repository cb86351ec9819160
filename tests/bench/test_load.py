from __future__ import annotations

import itertools
import statistics

import pytest

from tuner.bench.errors import BenchError
from tuner.bench.load import LoadSpec, arrivals, saturation_target


def test_open_loop_defaults_to_seventy_percent_of_capacity() -> None:
    spec = LoadSpec().validate()
    assert spec.load == 0.7 and spec.needs_capacity
    assert spec.with_capacity(40.0).rate == pytest.approx(28.0)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (LoadSpec(rate=0), "--rate must be > 0"),
        (LoadSpec(load=-1), "--load"),
        (LoadSpec(mode="saturate", rate=5), "excludes"),
        (LoadSpec(duration=None), "--duration"),
        (LoadSpec(tasks=0), "--tasks"),
        (LoadSpec(warmup=-1), "--warmup"),
    ],
)
def test_bad_specs(spec: LoadSpec, message: str) -> None:
    with pytest.raises(BenchError, match=message):
        spec.validate()


def test_poisson_arrivals_have_the_requested_mean_rate() -> None:
    times = list(itertools.islice(arrivals(50.0, "poisson", 100.0, seed=1), 4001))
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert times[0] == 100.0
    assert statistics.mean(gaps) == pytest.approx(1 / 50, rel=0.1)
    assert statistics.stdev(gaps) == pytest.approx(1 / 50, rel=0.15)  # exponential: sd = mean


def test_constant_arrivals_are_evenly_spaced_and_seeded_poisson_repeats() -> None:
    times = list(itertools.islice(arrivals(4.0, "constant", 0.0), 5))
    assert times == pytest.approx([0.0, 0.25, 0.5, 0.75, 1.0])
    a = list(itertools.islice(arrivals(10.0, "poisson", 0.0, seed=7), 10))
    b = list(itertools.islice(arrivals(10.0, "poisson", 0.0, seed=7), 10))
    assert a == b


def test_saturation_target_covers_the_prefetch_window() -> None:
    assert saturation_target(2, 4, 1) == 20
    assert saturation_target(2, 1, 2) == 16
    assert saturation_target(4, 0, 1) >= 4 * 4


def test_arrivals_and_task_picks_are_independent_streams() -> None:
    # One seed drives both; a rare long task must not always be followed by a long quiet gap.
    from tuner.bench.workloads import preset

    n = 40000
    times = list(itertools.islice(arrivals(50.0, "poisson", 0.0, seed=3), n + 1))
    gaps = [b - a for a, b in itertools.pairwise(times)]
    plan = preset("cpu-heavy-tail").plan(seed=3)
    long = [g for g, p in zip(gaps, plan, strict=False) if (p.cpu_seconds or 0) > 0.1]
    assert 0.04 * n < len(long) < 0.06 * n
    mean_all = sum(gaps) / n
    # ~2000 gaps after a long task: their mean is within a few % of the overall mean (1/50 s).
    assert abs(sum(long) / len(long) / mean_all - 1) < 0.1
