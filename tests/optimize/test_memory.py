"""Memory as a result: ``--objectives throughput,rss`` and ``--max-rss`` on a real Optuna study.

The metrics are the medians ``bench -w native --saturate --repeat 5`` measured for prefork and
threads at concurrency 2 (docs/bench.md): threads served a little less with a third of the memory.
"""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest

from tuner.optimize import report, select
from tuner.optimize.objectives import Goal, GoalError, parse_goal
from tuner.optimize.storages import open_storage, open_study

optuna.logging.set_verbosity(optuna.logging.WARNING)

MEASURED = {
    "prefork": {"throughput": 6.1, "rss_peak_mb": 129.5, "tasks_lost": 0, "tasks_failed": 0},
    "threads": {"throughput": 5.5, "rss_peak_mb": 46.9, "tasks_lost": 0, "tasks_failed": 0},
    # not measured: a third point, slower and smaller than threads
    "solo": {"throughput": 3.1, "rss_peak_mb": 45.0, "tasks_lost": 0, "tasks_failed": 0},
}


def run_study(tmp_path: Path, goal: Goal) -> optuna.Study:
    """A SQLite study whose trials are scored by ``goal`` as optimize scores them."""
    study, created = open_study(
        open_storage(f"sqlite:///{tmp_path / 'study.db'}"),
        "memory",
        goal.directions,
        {"workload": "native", "objectives": list(goal.objectives), "max_rss": goal.max_rss},
        sampler=optuna.samplers.GridSampler({"pool": list(MEASURED)}),
        pruner=optuna.pruners.NopPruner(),
    )
    assert created

    def objective(trial: optuna.Trial) -> float | list[float]:
        pool = trial.suggest_categorical("pool", list(MEASURED))
        metrics = MEASURED[str(pool)]
        trial.set_user_attr("metrics", metrics)
        constraints = goal.constraints(metrics)
        trial.set_user_attr("constraints", constraints)
        for key, value in constraints.items():
            trial.set_constraint(key, value)
        values = goal.values(metrics)
        return values[0] if len(values) == 1 else values

    study.optimize(objective, n_trials=len(MEASURED))
    return study


def pool_of(trial: optuna.trial.FrozenTrial | None) -> object:
    assert trial is not None
    return trial.params["pool"]


def test_max_rss_makes_the_fatter_config_infeasible(tmp_path: Path) -> None:
    goal = parse_goal(None, None, None, max_rss=100)
    assert "peak RSS <= 100 MB" in goal.describe()
    study = run_study(tmp_path, goal)
    assert pool_of(select.pick(study, goal)) == "threads"  # prefork serves more, but is over
    data = report.build(study, summary={}, confirmation=None, improvement=None, environment={})
    rows = {t["params"]["pool"]: t for t in data["trials"]}  # type: ignore[attr-defined]
    assert rows["prefork"]["feasible"] is False
    assert rows["prefork"]["constraints"]["rss_over_max"] == pytest.approx(29.5)
    assert rows["threads"]["feasible"] is True


def test_without_a_limit_throughput_wins(tmp_path: Path) -> None:
    goal = parse_goal(None, None, None)
    assert pool_of(select.pick(run_study(tmp_path, goal), goal)) == "prefork"


def test_throughput_and_rss_give_a_front_of_both(tmp_path: Path) -> None:
    goal = parse_goal(None, "throughput,rss", None)
    assert goal.directions == ["maximize", "minimize"]
    study = run_study(tmp_path, goal)
    front = {t.params["pool"] for t in select.pareto(select.feasible_trials(study), goal)}
    assert front == {"prefork", "threads", "solo"}  # each is best at something
    assert {t.params["pool"] for t in study.best_trials} == front
    values = {t.params["pool"]: t.values for t in study.trials}
    assert values["threads"] == [5.5, 46.9]  # rss is bench's rss_peak_mb


def test_unmeasured_memory_is_over_the_limit() -> None:
    goal = Goal(max_rss=64)
    assert goal.constraints({"tasks_lost": 0})["rss_over_max"] > 0
    assert "rss_over_max" not in Goal().constraints({"rss_peak_mb": 1e6})


@pytest.mark.parametrize(
    ("objective", "objectives", "max_rss", "message"),
    [
        (None, "rss", None, "next to another objective"),
        ("rss", None, None, "next to another objective"),
        (None, None, 0.0, "--max-rss must be a positive"),
        (None, None, float("nan"), "--max-rss must be a positive"),
    ],
)
def test_bad_memory_goals(
    objective: str | None, objectives: str | None, max_rss: float | None, message: str
) -> None:
    with pytest.raises(GoalError, match=message):
        parse_goal(objective, objectives, None, max_rss)


def test_confirmation_holds_the_pick_to_max_rss() -> None:
    from tuner.optimize.feasibility import constraint_values, violations_over

    goal = Goal(max_rss=100)
    rounds = [dict(MEASURED["prefork"], rss_peak_mb=rss) for rss in (129.4, 129.5, 90.0)]
    assert violations_over(rounds, goal) == ["peak RSS 129 MB over the 100 MB limit"]
    assert violations_over([MEASURED["threads"]] * 3, goal) == []
    assert constraint_values(MEASURED["prefork"], goal)["rss_over_max"] == pytest.approx(29.5)
    assert violations_over([{"tasks_lost": 0}], goal) == ["no RSS measured (limit 100 MB)"]


def test_progress_shows_rss_in_mb() -> None:
    from tuner.optimize.progress import _fmt

    assert _fmt("rss", 129.465) == "rss 129 MB"
