"""Confirmation holds every constraint against the re-measured rounds: an infeasible
configuration is never recommended, baselines included, and the report says what each broke.

The decision code is the real one (``results.confirm``); only the measurements are scripted, so
that each case (a faster baseline that loses tasks, an overloaded pick...) is exact.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import optuna
import pytest

from tuner.bench.errors import BenchError
from tuner.optimize import results
from tuner.optimize.baselines import DEFAULT_LABEL, INPUT_LABEL, worker_config
from tuner.optimize.measure import Plan
from tuner.optimize.results import PICK_LABEL, Pick, confirm
from tuner.optimize.setup import OptimizeOptions, Setup, resolve
from tuner.optimize.space import DEFAULTS, Choice

ROUNDS = 3


def metrics(throughput: float, p99: float, lost: int = 0, **kw: Any) -> dict[str, Any]:
    offered = kw.pop("offered", None)
    out = {
        "throughput": throughput,
        "p99": p99,
        "efficiency": None,
        "tasks_lost": lost,
        "tasks_failed": 0,
        "window": 10.0,
        "tasks_measured": int((offered or throughput) * 10),
    }
    return {**out, **kw}


def scripted(
    by_label: dict[str, list[dict[str, Any]]],
) -> Callable[..., dict[str, list[dict[str, Any]]]]:
    def measure_rounds(configs: Any, *args: Any, **kw: Any) -> dict[str, list[dict[str, Any]]]:
        return {c.label: by_label[c.label] for c in configs}

    return measure_rounds


def setup_for(tmp_path: Path, *, config: bool = False, **kw: Any) -> Setup:
    path = None
    if config:
        p = tmp_path / "celeryconfig.py"
        p.write_text("worker_concurrency = 1\nworker_prefetch_multiplier = 1\n")
        path = str(p)
    return resolve(OptimizeOptions(workload="cpu", cpus=2, config=path, probe=False, **kw))


def pick(setup: Setup, **kw: Any) -> Pick:
    choice: Choice = {**DEFAULTS, "concurrency": 2, "prefetch_multiplier": 1, **kw}
    return Pick(None, worker_config(choice, PICK_LABEL, setup.trial_extra), choice)


def study(setup: Setup) -> optuna.Study:
    return optuna.create_study(directions=setup.goal.directions)


def test_a_faster_baseline_that_broke_the_slo_and_lost_tasks_is_not_recommended(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The issue's case: the defaults had 30% more throughput but broke the SLO and lost tasks."""
    setup = setup_for(tmp_path, p99_slo=0.5)
    runs = {
        PICK_LABEL: [metrics(100, 0.30), metrics(101, 0.31), metrics(99, 0.29)],
        DEFAULT_LABEL: [metrics(130, 0.90, lost=2), metrics(131, 0.95), metrics(129, 0.85)],
    }
    monkeypatch.setattr(results, "measure_rounds", scripted(runs))
    chosen, confirmation = confirm(setup, study(setup), Plan(setup.goal, 1, 0), pick(setup), 3)
    assert chosen is not None and chosen.baseline is None  # the pick, not the defaults
    assert confirmation.chosen == PICK_LABEL and confirmation.confirmed
    assert confirmation.broken == {
        DEFAULT_LABEL: ["lost 2 task(s)", "p99 0.9 s over the 0.5 s SLO"]
    }
    doc: dict[str, Any] = confirmation.as_dict()
    assert doc["constraints"][DEFAULT_LABEL] == {
        "feasible": False,
        "broken": ["lost 2 task(s)", "p99 0.9 s over the 0.5 s SLO"],
    }
    assert doc["constraints"][PICK_LABEL] == {"feasible": True, "broken": []}


def test_a_pick_that_breaks_a_constraint_when_re_measured_is_replaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    setup = setup_for(tmp_path, config=True, objective="p99")
    overloaded = [metrics(12.4, 0.10, offered=28.0) for _ in range(ROUNDS)]  # fast, but behind
    runs = {
        PICK_LABEL: overloaded,
        DEFAULT_LABEL: [metrics(28.0, 0.50) for _ in range(ROUNDS)],
        INPUT_LABEL: [metrics(27.9, 0.60) for _ in range(ROUNDS)],
    }
    monkeypatch.setattr(results, "measure_rounds", scripted(runs))
    chosen, confirmation = confirm(setup, study(setup), Plan(setup.goal, 1, 0), pick(setup), 3)
    assert confirmation.chosen in (DEFAULT_LABEL, INPUT_LABEL)
    assert chosen is not None and chosen.baseline == confirmation.chosen
    assert "broke a constraint (overloaded: served 12.4 of 28.0/s offered" in confirmation.reason
    assert list(confirmation.broken) == [PICK_LABEL]


def test_nothing_is_recommended_when_nothing_met_every_constraint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    setup = setup_for(tmp_path, p99_slo=0.5)
    runs = {
        PICK_LABEL: [metrics(100, 0.70) for _ in range(ROUNDS)],
        DEFAULT_LABEL: [metrics(90, 0.40, lost=1) for _ in range(ROUNDS)],
    }
    monkeypatch.setattr(results, "measure_rounds", scripted(runs))
    chosen, confirmation = confirm(setup, study(setup), Plan(setup.goal, 1, 0), pick(setup), 3)
    assert chosen is None and confirmation.chosen is None and not confirmation.confirmed
    assert "no configuration met every constraint" in confirmation.reason
    assert "the search's pick p99 0.7 s over the 0.5 s SLO" in confirmation.reason
    assert "celery-default lost 3 task(s)" in confirmation.reason


def test_an_error_during_confirmation_confirms_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    setup = setup_for(tmp_path)

    def broken(*args: Any, **kw: Any) -> None:
        raise BenchError("worker trial-x failed to start")

    monkeypatch.setattr(results, "measure_rounds", broken)
    the_pick = pick(setup)
    chosen, confirmation = confirm(setup, study(setup), Plan(setup.goal, 1, 0), the_pick, 3)
    assert chosen is the_pick  # returned as it came: the caller must not call it confirmed
    assert confirmation.error == "worker trial-x failed to start"
    assert not confirmation.confirmed and not confirmation.verdicts
    assert confirmation.as_dict()["confirmed"] is False
