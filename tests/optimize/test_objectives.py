from __future__ import annotations

from tuner.optimize.objectives import Goal


def metrics(**kw: object) -> dict[str, object]:
    base: dict[str, object] = {"throughput": 20.0, "p99": 0.3, "tasks_lost": 0, "tasks_failed": 0}
    base.update(kw)
    return base


def test_an_overloaded_run_is_infeasible_when_latency_matters() -> None:
    over = metrics(overloaded=True, offered_rate=28.0, served_rate=12.4)
    for goal in (Goal(("p99",)), Goal(("throughput",), p99_slo=1.0), Goal(("throughput", "p99"))):
        assert goal.constraints(over)["overloaded"] > 0, goal
        assert goal.constraints(metrics(overloaded=False))["overloaded"] <= 0
        assert "no overload" in goal.describe()
    # Throughput alone is measured by a saturating (closed-loop) run: no overload to speak of.
    assert "overloaded" not in Goal(("throughput",)).constraints(over)
    assert all(v <= 0 for v in Goal(("p99",)).constraints(metrics()).values())
