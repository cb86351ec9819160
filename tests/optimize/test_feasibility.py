"""Every constraint, in one place: lost and failed tasks, the p99 SLO, and overload."""

from __future__ import annotations

import pytest

from tuner.optimize.feasibility import (
    constraint_values,
    overloaded,
    rates,
    violations,
    violations_over,
)
from tuner.optimize.objectives import Goal

LATENCY = Goal(("p99",))
THROUGHPUT_SLO = Goal(("throughput",), p99_slo=0.5)
THROUGHPUT = Goal(("throughput",))


def run(**kw: object) -> dict[str, object]:
    base: dict[str, object] = {
        "throughput": 28.0,
        "p99": 0.2,
        "tasks_lost": 0,
        "tasks_failed": 0,
        "tasks_measured": 280,
        "window": 10.0,
    }
    return {**base, **kw}


def test_the_issue_example_is_overload() -> None:
    # 28/s offered, 12.4/s served: latency measures a growing backlog.
    metrics = run(throughput=12.4, p99=3.8)
    found = rates(metrics)
    assert found is not None and found.offered == pytest.approx(28.0)
    assert overloaded(metrics)
    assert violations(metrics, LATENCY) == [
        "overloaded: served 12.4 of 28.0/s offered; latency measures a growing backlog"
    ]
    assert constraint_values(metrics, LATENCY)["overloaded"] > 0


def test_keeping_up_is_feasible_and_edges_of_a_short_window_do_not_count() -> None:
    assert not overloaded(run(throughput=27.0))
    assert constraint_values(run(throughput=27.0), LATENCY)["overloaded"] <= 0
    # 3 tasks short of 12 is 25% short, but too few tasks to call a backlog.
    assert not overloaded(run(tasks_measured=12, window=4.0, throughput=9 / 4.0))


def test_overload_matters_only_for_latency_goals() -> None:
    metrics = run(throughput=12.4)
    assert "overloaded" not in constraint_values(metrics, THROUGHPUT)
    assert violations(metrics, THROUGHPUT) == []
    assert "overloaded" in constraint_values(metrics, THROUGHPUT_SLO)


def test_the_served_rate_of_the_open_run_is_used_when_both_phases_ran() -> None:
    # throughput comes from the saturating run; open_throughput is what the open run served.
    metrics = run(throughput=40.0, open_throughput=12.4)
    assert overloaded(metrics)


def test_the_benchs_own_flag_wins_when_present() -> None:
    assert overloaded(run(throughput=12.4, overloaded=False)) is False
    assert overloaded(run(throughput=28.0, overloaded=True)) is True
    assert violations(run(overloaded=True), LATENCY)[0].startswith("overloaded")
    assert constraint_values(run(overloaded=True), LATENCY)["overloaded"] == 1.0


def test_lost_failed_and_slo() -> None:
    metrics = run(tasks_lost=2, tasks_failed=1, p99=0.8)
    assert violations(metrics, THROUGHPUT_SLO) == [
        "lost 2 task(s)",
        "1 task(s) failed",
        "p99 0.8 s over the 0.5 s SLO",
    ]
    values = constraint_values(metrics, THROUGHPUT_SLO)
    assert values["tasks_lost"] == 2 and values["tasks_failed"] == 1
    assert values["p99_over_slo"] == pytest.approx(0.3)
    assert all(v <= 0 for v in constraint_values(run(), THROUGHPUT_SLO).values())


def test_rounds_add_up_losses_and_hold_the_median_to_the_slo() -> None:
    rounds = [run(p99=0.4), run(p99=0.9), run(p99=0.45, tasks_lost=1)]
    assert violations_over(rounds, THROUGHPUT_SLO) == ["lost 1 task(s)"]  # median p99 0.45
    rounds = [run(p99=0.6), run(p99=0.9), run(p99=0.45)]
    assert violations_over(rounds, THROUGHPUT_SLO) == ["p99 0.6 s over the 0.5 s SLO"]
    assert violations_over([], THROUGHPUT) == ["not measured"]
