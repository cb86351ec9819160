"""The per-task costs fitted to measured capacity: recovered when known, bounded when not."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from tests.plan.models import synthetic_model
from tuner.plan.calibrate import Overhead, Run, capacity, fit, fit_overhead, overhead_for
from tuner.plan.characterise import Model, Point
from tuner.plan.predict import Settings, calibrated
from tuner.plan.predict import capacity as fleet_capacity
from tuner.plan.sim import Fleet, ServiceModel

IO = ServiceModel(samples=[0.050, 0.052, 0.049], cpu=[0.001, 0.001, 0.001], cpus=2.0)
CPU = ServiceModel(samples=[0.020, 0.022], cpu=[0.020, 0.022], cpus=2.0, overhead_cpu=0.004)


@pytest.mark.parametrize("c, true", [(1, 0.0096), (2, 0.0036), (4, 0.0049)])
def test_a_known_overhead_is_recovered(c: int, true: float) -> None:
    fleet = Fleet(1, c, 1, True)
    measured = capacity(IO, fleet, true)
    got = fit_overhead(Run(c, measured, IO, fleet))
    assert got.seconds == pytest.approx(true, abs=2e-4)
    assert got.residual == 0.0


def test_a_run_faster_than_the_simulation_can_be_gets_no_overhead() -> None:
    fleet = Fleet(1, 4, 1, True)
    top = capacity(CPU, fleet, 0.0)
    got = fit_overhead(Run(4, 1.2 * top, CPU, fleet))
    assert got.seconds == 0.0 and got.residual == pytest.approx(1 / 1.2 - 1)


def test_the_worker_cpu_charge_is_lowered_until_every_run_is_reached() -> None:
    """Measured as if the worker's CPU did not compete: the full 4 ms cannot reach 4 children."""
    free = replace(CPU, overhead_cpu=0.0)
    runs = [
        Run(c, capacity(free, Fleet(1, c, 1, True), 0.002), CPU, Fleet(1, c, 1, True))
        for c in (1, 2, 3, 4)
    ]
    assert fit_overhead(runs[-1]).residual < -0.05  # charged in full, 4 children fall short
    charge, fitted = fit(runs, 0.004)
    assert 0.0 <= charge < 0.004
    assert all(o.residual >= -0.01 for o in fitted)
    # Reachable as measured: the whole charge stays.
    easy = [replace(r, throughput=0.8 * r.throughput) for r in runs]
    assert fit(easy, 0.004)[0] == 0.004


def test_overhead_by_children_per_node() -> None:
    fitted = (Overhead(1, 0.010, 0.0), Overhead(2, 0.004, 0.0), Overhead(4, 0.005, 0.0))
    assert overhead_for(fitted, 1, 0.5) == 0.010
    assert overhead_for(fitted, 2, 0.5) == 0.004
    assert overhead_for(fitted, 3, 0.5) == 0.005  # between: the next fitted one
    assert overhead_for(fitted, 16, 0.5) == 0.005  # past the range: the largest c's
    assert overhead_for((), 3, 0.5) == 0.5  # nothing fitted (an older model): the single figure


def test_calibrated_model_reproduces_its_saturated_runs() -> None:
    """After the fit, the simulated capacity of each measured one-node run is the measured one,
    and the figures survive model.json."""
    m = synthetic_model()
    svc_points = [(p.concurrency, p.throughput) for p in m.concurrency_points]
    # Give the runs different overheads: 1 child slower than 2 (the polling artefact).
    sim = calibrated(m)
    slow = replace(
        m,
        concurrency_points=tuple(Point(1, c, x * (0.85 if c == 1 else 1.0)) for c, x in svc_points),
    )
    fitted = calibrated(slow)
    by_c = {o.concurrency: o for o in fitted.overheads}
    assert by_c[1].seconds > by_c[2].seconds
    for p in slow.concurrency_points:
        got = fleet_capacity(fitted, Settings(), 1, p.concurrency)[0]
        assert got == pytest.approx(p.throughput, rel=0.01) or by_c[p.concurrency].residual < 0
    again = Model.from_dict(json.loads(json.dumps(fitted.as_dict())))
    assert again.overheads == fitted.overheads
    assert again.overhead_cpu == fitted.overhead_cpu
    assert again.overhead_for(1) == fitted.overhead_for(1)
    assert sim.overheads  # the synthetic model fits too


def test_each_run_is_replayed_with_its_own_mix_of_task_types() -> None:
    """A 1-child window that held 10% long tasks instead of the workload's 5% is slower because
    of its mix, not its overhead: the fitted overhead is the same as for a 5% window."""
    runs = (0.02,) * 19 + (0.4,)
    base = replace(
        synthetic_model(),
        run_times=runs,
        cpu_times=runs,
        nominals=runs,
        types=(
            {"nominal_cpu_seconds": 0.02, "count": 19, "weight": 0.95},
            {"nominal_cpu_seconds": 0.4, "count": 1, "weight": 0.05},
        ),
        overhead_cpu=0.0,
    )

    def window(long_share: float, overhead: float) -> Point:
        mean = (1 - long_share) * 0.02 + long_share * 0.4
        n = 100
        mix = ((0.02, round(n * (1 - long_share))), (0.4, round(n * long_share)))
        return Point(1, 1, 1.0 / (mean + overhead), None, mix)

    five = calibrated(replace(base, concurrency_points=(window(0.05, 0.01),)))
    ten = calibrated(replace(base, concurrency_points=(window(0.10, 0.01),)))
    # The simulation samples 4,000 tasks (5% long: 200 +- 14): +-1.5 ms of its own noise.
    assert five.overheads[0].seconds == pytest.approx(0.01, abs=2.5e-3)
    assert ten.overheads[0].seconds == pytest.approx(0.01, abs=3.5e-3)
    # Without its mix, the 10% window reads as a child with 3 times the overhead.
    blind = replace(window(0.10, 0.01), mix=())
    assert calibrated(replace(base, concurrency_points=(blind,))).overheads[0].seconds > 0.025
