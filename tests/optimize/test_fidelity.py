"""The racing pruner on real (in-memory) Optuna studies, and one short live optimize run."""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import optuna
import pytest
from optuna.trial import TrialState

from tuner.commands.optimize import OptimizeOptions, optimize
from tuner.optimize.fidelity import (
    ATTR,
    OPEN_ATTR,
    RacingPruner,
    interval_noise,
    rung_steps,
    summary,
    summary_line,
)
from tuner.optimize.objectives import make_pruner

SECONDS = 6.0  # reports after 1..5 s; rungs after 2 s and 4 s (steps 1 and 3)


def study_with_references(
    direction: Literal["maximize", "minimize"] = "maximize",
    values: Sequence[float] = (100.0, 90.0),
    seconds: float = 0.0,
) -> optuna.Study:
    """Completed references (the first a baseline) whose running values wobble by a few %."""
    study = optuna.create_study(direction=direction, pruner=RacingPruner(SECONDS))
    wobble = (0.97, 1.03, 0.99, 1.01, 1.0)
    for i, level in enumerate(values):
        trial = study.ask()
        if i == 0:
            trial.set_user_attr("baseline", "celery-default")
        for step, w in enumerate(wobble):
            trial.report(level * w, step)
        if seconds:
            trial.set_user_attr(ATTR, {"seconds": seconds, "full_seconds": seconds})
        study.tell(trial, level)
    return study


def run_trial(
    study: optuna.Study, level: float, *, baseline: bool = False
) -> tuple[int | None, optuna.trial.Trial]:
    """Report ``level`` each second; the step at which the pruner stopped it, else None."""
    trial = study.ask()
    if baseline:
        trial.set_user_attr("baseline", "celery-default")
    for step in range(5):
        trial.report(level, step)
        if trial.should_prune():
            study.tell(trial, state=TrialState.PRUNED)
            return step, trial
    study.tell(trial, level)
    return None, trial


def test_rungs_fall_at_a_third_and_two_thirds() -> None:
    assert rung_steps(SECONDS) == (1, 3)
    assert rung_steps(5.0) == (1, 2)
    assert rung_steps(1.5) == (0,)
    assert isinstance(make_pruner(5.0), RacingPruner)


def test_a_clearly_behind_trial_is_stopped_at_the_first_rung() -> None:
    study = study_with_references()
    step, trial = run_trial(study, 50.0)
    assert step == 1
    pruner = study.pruner
    assert isinstance(pruner, RacingPruner)
    decision = pruner.decisions[trial.number]
    assert decision.reason == "behind" and decision.rung == 1
    assert decision.leader == 0 and decision.leader_value == pytest.approx(103.0)
    assert decision.worse_by == pytest.approx(1 - 50 / 103)
    assert "behind the leader at rung 1" in decision.text


def test_a_trial_within_the_noise_runs_in_full() -> None:
    study = study_with_references()
    assert run_trial(study, 97.0)[0] is None
    assert run_trial(study, 92.0)[0] is None


def test_latency_trials_are_raced_the_other_way() -> None:
    study = study_with_references("minimize", (0.2, 0.25))
    assert run_trial(study, 0.6)[0] == 1  # three times the leader's p99
    assert run_trial(study, 0.21)[0] is None


def test_no_racing_before_two_references() -> None:
    study = study_with_references(values=(100.0,))
    assert run_trial(study, 30.0)[0] is None  # the second completed trial...
    assert run_trial(study, 30.0)[0] == 1  # ...makes two


def test_baselines_are_never_stopped() -> None:
    study = study_with_references()
    trial = study.ask()
    trial.set_user_attr("baseline", "input-config")
    trial.set_user_attr(OPEN_ATTR, [[3.0, 20.0, 5.0], [4.0, 20.0, 5.0]])
    for step in range(5):
        trial.report(1.0, step)
        assert not trial.should_prune()


def test_the_noise_margin_comes_from_the_study() -> None:
    noisy = study_with_references()
    for level in (100.0, 100.0):
        trial = noisy.ask()
        for step, w in enumerate((0.6, 1.4, 0.8, 1.2, 1.0)):
            trial.report(level * w, step)
        noisy.tell(trial, level)
    sigma, series = interval_noise(noisy.get_trials(states=(TrialState.COMPLETE,)))
    assert series == 4 and sigma is not None and sigma > 0.2
    # 30% behind stops a trial in a quiet study, not in one this noisy.
    assert run_trial(study_with_references(), 70.0)[0] is not None
    assert run_trial(noisy, 70.0)[0] is None


def test_an_overloaded_latency_trial_is_stopped_at_once() -> None:
    study = study_with_references("minimize", (0.2, 0.25))
    trial = study.ask()
    readings = [[1.0, 20.0, 8.0], [2.0, 20.0, 9.0], [3.0, 20.0, 9.0]]
    stopped = None
    for step, _ in enumerate(readings):
        trial.set_user_attr(OPEN_ATTR, readings[: step + 1])
        trial.report(0.2, step)  # its p99 so far looks fine
        if trial.should_prune():
            stopped = step
            break
    assert stopped == 2  # the rule needs two readings in a row from 2 s on
    pruner = study.pruner
    assert isinstance(pruner, RacingPruner)
    decision = pruner.decisions[trial.number]
    assert decision.reason == "overloaded" and decision.served == 9.0
    assert "tasks behind and growing" in decision.text


def test_a_run_that_keeps_up_is_not_overloaded() -> None:
    study = study_with_references("minimize", (0.2, 0.25))
    trial = study.ask()
    trial.set_user_attr(OPEN_ATTR, [[3.0, 20.0, 19.5], [4.0, 20.0, 19.8]])
    trial.report(0.2, 2)
    assert not trial.should_prune()
    # Far behind once, but catching up: the backlog shrinks.
    trial.set_user_attr(OPEN_ATTR, [[3.0, 20.0, 10.0], [4.0, 20.0, 13.0]])
    assert not trial.should_prune()


def test_multi_objective_studies_are_never_pruned() -> None:
    pruner = RacingPruner(SECONDS)
    study = optuna.create_study(directions=["maximize", "minimize"], pruner=pruner)
    trial = study.ask()
    trial.set_user_attr(OPEN_ATTR, [[3.0, 20.0, 5.0], [4.0, 20.0, 4.0]])
    frozen = study.get_trials(deepcopy=False)[0]
    assert pruner.prune(study, frozen) is False
    with pytest.raises(NotImplementedError):  # Optuna's own rule: why trials never call it
        trial.should_prune()


def test_the_summary_counts_what_ran() -> None:
    study = study_with_references(seconds=6.0)
    for level, reason, seconds in ((10.0, "behind", 2.0), (20.0, "overloaded", 3.0)):
        trial = study.ask()
        trial.report(level, 0)
        trial.set_user_attr(ATTR, {"seconds": seconds, "full_seconds": 6.0, "reason": reason})
        study.tell(trial, state=TrialState.PRUNED)
    failed = study.ask()
    study.tell(failed, state=TrialState.FAIL)
    data = summary(study, "the rule")
    assert data["rule"] == "the rule"
    assert (data["trials"], data["screened_out"], data["full"]) == (4, 2, 2)
    assert data["by_reason"] == {"behind": 1, "overloaded": 1}
    assert (data["seconds_measured"], data["seconds_saved"]) == (17.0, 7.0)
    assert summary_line(data) == (
        "Racing: 2 of 4 trials stopped early (behind the leader: 1, overloaded: 1), "
        "7 s of 24 s saved"
    )


@pytest.mark.slow
def test_live_run_reports_its_screening(tmp_path: Path) -> None:
    out = tmp_path / "out"
    stdout, stderr = io.StringIO(), io.StringIO()
    options = OptimizeOptions(
        out=str(out), trials=4, trial_seconds=3.0, warmup=0.5, confirm=0, seed=1, probe=False
    )
    code = optimize(options, out=stdout, err=stderr)
    assert code in (0, 1), stderr.getvalue()
    report = json.loads((out / "report.json").read_text())
    fidelity = report["fidelity"]
    assert fidelity["trials"] == fidelity["screened_out"] + fidelity["full"]
    assert fidelity["trials"] >= 1 and fidelity["rule"].startswith("racing")
    assert fidelity["seconds_measured"] + fidelity["seconds_saved"] == pytest.approx(
        fidelity["seconds_full_length"]
    )
    assert "Racing: " in stderr.getvalue()
    for trial in report["trials"]:
        if trial["state"] == "COMPLETE":
            assert trial["intermediate_values"], trial  # reported about once a second


def test_a_stopped_trial_records_every_phase_it_measured() -> None:
    from tuner.optimize.objectives import _stopped

    study = study_with_references("minimize", (0.2, 0.25))
    trial = study.ask()
    trial.set_user_attr(OPEN_ATTR, [[2.0, 20.0, 8.0], [3.0, 20.0, 8.0]])
    trial.report(0.2, 2)
    assert trial.should_prune()
    # throughput + --p99-slo: a full 5 s saturating run, then 3 s of the open one.
    _stopped(trial, 8.0, 10.0, "open", 3.0)
    info = study.get_trials()[-1].user_attrs[ATTR]
    assert (info["seconds"], info["full_seconds"], info["phase_seconds"]) == (8.0, 10.0, 3.0)
    assert info["reason"] == "overloaded" and info["served"] == 8.0
