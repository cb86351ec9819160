"""Report generation from fake trial records (pure data: the live tests cover real trials)."""

from __future__ import annotations

import json
import re
from typing import Literal

import optuna
from optuna.distributions import CategoricalDistribution, IntDistribution
from optuna.trial import TrialState, create_trial

from tuner.optimize import report

optuna.logging.set_verbosity(optuna.logging.WARNING)

DISTS = {
    "pool": CategoricalDistribution(("prefork", "threads")),
    "concurrency": IntDistribution(1, 8),
}


def fake_study(directions: list[Literal["minimize", "maximize"]]) -> optuna.Study:
    study = optuna.create_study(directions=directions)
    rows = [
        ("prefork", 2, 50.0, 0.30, "celery-default", TrialState.COMPLETE, 0.0),
        ("prefork", 4, 60.0, 0.20, None, TrialState.COMPLETE, 0.0),
        ("threads", 8, 20.0, 0.90, None, TrialState.COMPLETE, 0.0),
        ("prefork", 8, 70.0, 0.50, None, TrialState.COMPLETE, 3.0),  # lost tasks: infeasible
        ("prefork", 1, float("nan"), 0.1, None, TrialState.FAIL, 0.0),
    ]
    for pool, conc, tput, p99, baseline, state, lost in rows:
        values = None
        if state == TrialState.COMPLETE:
            values = [tput] if len(directions) == 1 else [tput, p99]
        attrs = {
            "metrics": {"throughput": tput, "p99": p99, "tasks_lost": lost},
            "config": {"pool": pool, "concurrency": conc},
        }
        if baseline:
            attrs["baseline"] = baseline
        if state == TrialState.FAIL:
            attrs["error"] = "worker failed to start: boom"
        study.add_trial(
            create_trial(
                state=state,
                params={"pool": pool, "concurrency": conc},
                distributions=DISTS,
                values=values,
                user_attrs=attrs,
                system_attrs={"constraints": [lost]} if state == TrialState.COMPLETE else {},
            )
        )
    return study


def summary() -> dict[str, object]:
    return {"workload": "cpu", "objectives": ["throughput"], "objective_text": "max throughput"}


def test_report_json_has_every_trial_and_is_strict_json() -> None:
    study = fake_study(["maximize"])
    confirmation = {
        "rounds": 2,
        "configs": [
            {"label": "pick", "runs": [{"throughput": 60.0, "p99": 0.2}] * 2},
            {"label": "celery-default", "runs": [{"throughput": 50.0, "p99": 0.3}] * 2},
        ],
    }
    data = report.build(
        study,
        summary=summary(),
        confirmation=confirmation,
        improvement={"throughput_ratio": 1.2, "p99_ratio": float("inf")},
        environment={"cpus": 2},
        files=["report.json"],
    )
    text = report.dumps(data)
    parsed = json.loads(text)
    assert [t["number"] for t in parsed["trials"]] == [0, 1, 2, 3, 4]
    assert parsed["study"]["trial_counts"] == {"COMPLETE": 4, "FAIL": 1}
    assert [t["feasible"] for t in parsed["trials"]] == [True, True, True, False, False]
    assert parsed["trials"][4]["metrics"]["throughput"] is None  # NaN cleaned
    assert parsed["trials"][4]["error"] == "worker failed to start: boom"
    assert parsed["improvement"]["p99_ratio"] is None
    assert [b["baseline"] for b in parsed["baselines"]] == ["celery-default"]
    assert parsed["pareto_front"] is None  # single objective


def test_html_is_self_contained_with_the_expected_plots() -> None:
    study = fake_study(["maximize"])
    data = report.build(
        study,
        summary=summary(),
        confirmation={
            "configs": [
                {"label": "pick", "runs": [{"throughput": 60.0, "p99": 0.2}]},
                {"label": "celery-default", "runs": [{"throughput": 50.0, "p99": 0.3}]},
            ]
        },
        improvement=None,
        environment={},
    )
    page = report.render_html(study, data)
    assert "id=history" in page and "fig-history" in page
    # 4 complete trials: too few for importances, and the page says why.
    assert "Parameter importances" in page and "fig-importance" not in page
    assert "Not shown: 4 complete trials, fewer than 8" in page
    assert "The pick against each baseline" in page
    assert "Pareto front" not in page
    # plotly.js is inlined exactly once, and nothing is fetched from the network.
    assert len(re.findall(r"plotly\.js v\d", page)) == 1
    assert not re.search(r"<script[^>]+src=", page)
    assert "worker failed to start: boom" in page


def test_multi_objective_report_has_a_pareto_front() -> None:
    study = fake_study(["maximize", "minimize"])
    data = report.build(
        study,
        summary={**summary(), "objectives": ["throughput", "p99"]},
        confirmation=None,
        improvement=None,
        environment={},
    )
    # Trial 3 dominates on throughput but is infeasible; trial 2 is dominated by trial 1.
    assert data["pareto_front"] == [1]
    page = report.render_html(study, data)
    assert "Pareto front" in page and "p99 per trial" in page
